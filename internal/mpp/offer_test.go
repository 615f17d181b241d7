package mpp

import (
	"errors"
	"testing"
	"time"
)

// TestVetCharge checks a good charge challenge as a buyer sees it, and
// that the credential it builds verifies at the server.
func TestVetCharge(t *testing.T) {
	ch := chargeChallenge(t)
	o, err := VetCharge(ch, 100, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if o.AmountSat != 100 || o.Invoice != "lnbcrt1u1ptest" || !o.HasHash ||
		o.PaymentHash != testPreimage.Hash() ||
		!o.Expires.Equal(testNow.Add(15*time.Minute)) {
		t.Fatalf("offer %+v", o)
	}
	if err := o.CheckInvoice(testPreimage.Hash(), 100_000,
		"regtest"); err != nil {
		t.Fatal(err)
	}
	c, err := o.Credential(testPreimage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testVerifier.Charge(roundTrip(t, c), testNow); err != nil {
		t.Fatal(err)
	}
}

// TestVetChargeRefuses checks every refusal a buyer makes before paying.
func TestVetChargeRefuses(t *testing.T) {
	good := chargeChallenge(t)
	btc, _ := EncodeRequest(map[string]any{"amount": "100",
		"currency": "BTC", "methodDetails": map[string]string{
			"invoice": "lnbc1"}})
	tests := []struct {
		name   string
		edit   func(*Challenge)
		maxSat int64
		now    time.Time
		want   error
	}{
		{name: "amount above the budget", maxSat: 99, want: ErrOverBudget},
		{name: "expired", now: testNow.Add(15 * time.Minute),
			want: ErrExpired},
		{name: "bad expiry", want: ErrMalformed,
			edit: func(c *Challenge) { c.Expires = "tomorrow" }},
		{name: "session intent", want: ErrUnsupported,
			edit: func(c *Challenge) { c.Intent = IntentSession }},
		{name: "another method", want: ErrUnsupported,
			edit: func(c *Challenge) { c.Method = "stripe" }},
		{name: "another currency", want: ErrUnsupported,
			edit: func(c *Challenge) { c.Request = btc }},
		{name: "request not base64url", want: ErrMalformed,
			edit: func(c *Challenge) { c.Request = "e30=x" }},
		{name: "no id", want: ErrMalformed,
			edit: func(c *Challenge) { c.ID = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := good
			if tc.edit != nil {
				tc.edit(&ch)
			}
			maxSat, now := int64(1000), testNow
			if tc.maxSat != 0 {
				maxSat = tc.maxSat
			}
			if !tc.now.IsZero() {
				now = tc.now
			}
			o, err := VetCharge(ch, maxSat, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %+v, %v; want %v", o, err, tc.want)
			}
		})
	}
}

// TestCheckInvoiceRefuses checks that an invoice whose payment hash,
// amount or network is not the request's is refused.
func TestCheckInvoiceRefuses(t *testing.T) {
	o, err := VetCharge(chargeChallenge(t), 1000, testNow)
	if err != nil {
		t.Fatal(err)
	}
	hash := testPreimage.Hash()
	tests := []struct {
		name    string
		hash    [32]byte
		msat    int64
		network string
		want    error
	}{
		{"hash mismatch", testPreimage2.Hash(), 100_000, "regtest",
			ErrHashMismatch},
		{"dearer invoice", hash, 1_000_000, "regtest", ErrRequestMismatch},
		{"cheaper invoice", hash, 99_000, "regtest", ErrRequestMismatch},
		{"msat more", hash, 100_001, "regtest", ErrRequestMismatch},
		{"another network", hash, 100_000, "mainnet", ErrRequestMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := o.CheckInvoice(tc.hash, tc.msat, tc.network)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	// A request without network or hash leaves those to the invoice.
	req, _ := EncodeRequest(ChargeRequest{Amount: "100", Currency: "sat",
		MethodDetails: ChargeDetails{Invoice: "lntb1u1p"}})
	ch := chargeChallenge(t)
	ch.Request = req
	o, err = VetCharge(ch, 1000, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if o.HasHash {
		t.Fatal("a hash from nowhere")
	}
	if err := o.CheckInvoice(hash, 100_000, "testnet4"); err != nil {
		t.Fatal(err)
	}

	// "testnet" in a request is testnet3 or testnet4 (one prefix).
	if !sameNetwork("testnet", "testnet4") || sameNetwork("mainnet",
		"regtest") {
		t.Fatal("sameNetwork")
	}
}

// TestOfferCredentialRefusesAnotherPreimage checks that the credential is
// only built with the preimage of the request's payment hash.
func TestOfferCredentialRefusesAnotherPreimage(t *testing.T) {
	o, err := VetCharge(chargeChallenge(t), 1000, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Credential(testPreimage2); !errors.Is(err,
		ErrBadPreimage) {
		t.Fatalf("got %v", err)
	}
}
