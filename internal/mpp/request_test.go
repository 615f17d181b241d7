package mpp

import (
	"errors"
	"testing"
)

// TestParseAmount checks the amounts the drafts allow: positive decimal
// integers without sign, leading zero or space, in an int64.
func TestParseAmount(t *testing.T) {
	good := map[string]int64{"1": 1, "100": 100,
		"9223372036854775807": 9223372036854775807}
	for s, want := range good {
		if got, err := ParseAmount(s); err != nil || got != want {
			t.Errorf("%q: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "0", "00", "010", "-1", "+1", " 1",
		"1 ", "1.0", "1e3", "0x10", "9223372036854775808", "١"} {
		if got, err := ParseAmount(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %d %v, want ErrMalformed", s, got, err)
		}
	}
	if FormatAmount(42) != "42" {
		t.Fatal(FormatAmount(42))
	}
}

// TestDecodeChargeRequestRefuses checks each way a charge request is
// refused.
func TestDecodeChargeRequestRefuses(t *testing.T) {
	hash := testPreimage.Hash().String()
	tests := []struct {
		name string
		json string
		want error
	}{
		{"not an object", `["x"]`, ErrMalformed},
		{"null", `null`, ErrMalformed},
		{"amount a number", `{"amount":100,"currency":"sat",` +
			`"methodDetails":{"invoice":"lnbc1"}}`, ErrMalformed},
		{"zero amount", `{"amount":"0","currency":"sat",` +
			`"methodDetails":{"invoice":"lnbc1"}}`, ErrMalformed},
		{"repeated amount", `{"amount":"1","amount":"1000",` +
			`"currency":"sat","methodDetails":{"invoice":"lnbc1"}}`,
			ErrMalformed},
		{"BTC", `{"amount":"1","currency":"BTC",` +
			`"methodDetails":{"invoice":"lnbc1"}}`, ErrUnsupported},
		{"upper-case SAT", `{"amount":"1","currency":"SAT",` +
			`"methodDetails":{"invoice":"lnbc1"}}`, ErrUnsupported},
		{"no invoice", `{"amount":"1","currency":"sat",` +
			`"methodDetails":{}}`, ErrMalformed},
		{"short hash", `{"amount":"1","currency":"sat","methodDetails":` +
			`{"invoice":"lnbc1","paymentHash":"abcd"}}`, ErrMalformed},
		{"upper-case hash", `{"amount":"1","currency":"sat",` +
			`"methodDetails":{"invoice":"lnbc1","paymentHash":"` +
			upper(hash) + `"}}`, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeChargeRequest(Encode([]byte(tc.json)))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %+v, %v; want %v", r, err, tc.want)
			}
		})
	}
	if _, err := DecodeChargeRequest("!!"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("not base64url: %v", err)
	}
}

// TestChargeRequestRoundTrip checks that a request survives its encoding,
// unknown members included, and that its hash is read back.
func TestChargeRequestRoundTrip(t *testing.T) {
	in := ChargeRequest{Amount: "21", Currency: "sat", Description: "Q&A",
		ExternalID: "order-7", MethodDetails: ChargeDetails{
			Invoice: "lnbcrt210n1p", Network: "regtest",
			PaymentHash: testPreimage.Hash().String()}}
	s, err := EncodeRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeChargeRequest(s)
	if err != nil || got != in {
		t.Fatalf("got %+v, %v", got, err)
	}
	h, ok, err := got.PaymentHash()
	if err != nil || !ok || h != testPreimage.Hash() {
		t.Fatalf("hash %v %v %v", h, ok, err)
	}
	extra := `{"amount":"1","currency":"sat","future":{"x":1},` +
		`"methodDetails":{"invoice":"lnbc1","version":"2"}}`
	if _, err := DecodeChargeRequest(Encode([]byte(extra))); err != nil {
		t.Fatalf("unknown members: %v", err)
	}
}

// TestDecodeSessionRequest checks a session request and its refusals.
func TestDecodeSessionRequest(t *testing.T) {
	hash := testPreimage.Hash().String()
	ok := `{"amount":"2","currency":"sat","paymentHash":"` + hash +
		`","depositInvoice":"lnbc1","depositAmount":"40"}`
	r, err := DecodeSessionRequest(Encode([]byte(ok)))
	if err != nil || r.DepositAmount != "40" || r.PaymentHash != hash {
		t.Fatalf("%+v %v", r, err)
	}
	for name, js := range map[string]string{
		"no hash": `{"amount":"2","currency":"sat"}`,
		"bad deposit": `{"amount":"2","currency":"sat","paymentHash":"` +
			hash + `","depositAmount":"-4"}`,
		"no amount": `{"currency":"sat","paymentHash":"` + hash + `"}`,
		"msat":      `{"amount":"2","currency":"msat","paymentHash":"` + hash + `"}`,
	} {
		if _, err := DecodeSessionRequest(Encode([]byte(js))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestOpaqueRoundTrip checks the opaque parameter: a flat object of
// strings in JCS, and nothing for no data.
func TestOpaqueRoundTrip(t *testing.T) {
	s, err := EncodeOpaque(map[string]string{"service": "weather",
		"b": "&"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := Decode(s)
	if string(raw) != `{"b":"&","service":"weather"}` {
		t.Fatalf("opaque %s", raw)
	}
	m, err := DecodeOpaque(s)
	if err != nil || m["service"] != "weather" || len(m) != 2 {
		t.Fatalf("%v %v", m, err)
	}
	if s, err := EncodeOpaque(nil); s != "" || err != nil {
		t.Fatalf("empty: %q %v", s, err)
	}
	if _, err := DecodeOpaque(Encode([]byte(`{"n":1}`))); !errors.Is(err,
		ErrMalformed) {
		t.Fatalf("not strings: %v", err)
	}
}

// upper returns s in upper case (ASCII).
func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
