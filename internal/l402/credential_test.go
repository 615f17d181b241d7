package l402

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCredentialRoundTrip(t *testing.T) {
	mac, preimage := testToken(t)
	cred := Credential{Macaroon: mac, Preimage: preimage}

	auth, err := cred.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(auth, "L402 ") ||
		!strings.HasSuffix(auth, ":"+preimage.String()) {
		t.Fatalf("authorization %q", auth)
	}
	macHex, err := cred.MacaroonHex()
	if err != nil {
		t.Fatal(err)
	}

	b64, _ := EncodeMacaroonBase64(mac)
	tests := []struct {
		name   string
		header http.Header
	}{
		{"L402", http.Header{"Authorization": {auth}}},
		{"LSAT", http.Header{"Authorization": {"LSAT " + b64 + ":" +
			preimage.String()}}},
		{"lower-case scheme, upper-case hex", http.Header{
			"Authorization": {"l402 " + b64 + ":" +
				strings.ToUpper(preimage.String())}}},
		{"after a Basic field", http.Header{"Authorization": {
			"Basic dXNlcjpwYXNz", auth}}},
		{"grpc metadata", http.Header{"Grpc-Metadata-Macaroon": {macHex}}},
		{"macaroon header", http.Header{"Macaroon": {macHex}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCredential(tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if got.Preimage != preimage {
				t.Fatalf("preimage %s", got.Preimage)
			}
			id, err := TokenIdentifier(got.Macaroon)
			if err != nil || id.PaymentHash != preimage.Hash() {
				t.Fatalf("identifier %+v %v", id, err)
			}
		})
	}
}

func TestParseCredentialRejects(t *testing.T) {
	mac, preimage := testToken(t)
	b64, _ := EncodeMacaroonBase64(mac)
	raw, _ := mac.MarshalBinary()
	noPreimageHex := hex.EncodeToString(raw)
	pre := preimage.String()

	two, _ := AddCaveats(mac, Caveat{CondPreimage, pre},
		Caveat{CondPreimage, Preimage{9}.String()})
	twoRaw, _ := two.MarshalBinary()

	tests := []struct {
		name   string
		header http.Header
		want   error
	}{
		{"nothing", http.Header{}, ErrNoCredential},
		{"only basic", http.Header{"Authorization": {"Basic abc"}},
			ErrNoCredential},
		{"no colon", http.Header{"Authorization": {"L402 " + b64}},
			ErrMalformedCredential},
		{"short preimage", http.Header{"Authorization": {"L402 " + b64 +
			":abcd"}}, ErrMalformedCredential},
		{"non-hex preimage", http.Header{"Authorization": {"L402 " + b64 +
			":" + strings.Repeat("g", 64)}}, ErrMalformedCredential},
		{"two colons", http.Header{"Authorization": {"L402 " + b64 + ":" +
			pre + ":" + pre}}, ErrMalformedCredential},
		{"garbage macaroon", http.Header{"Authorization": {"L402 ***:" +
			pre}}, ErrMalformedCredential},
		{"empty macaroon", http.Header{"Authorization": {"L402 :" + pre}},
			ErrMalformedCredential},
		{"hex without preimage", http.Header{"Macaroon": {noPreimageHex}},
			ErrMalformedCredential},
		{"not hex", http.Header{"Macaroon": {"xyz"}},
			ErrMalformedCredential},
		{"two preimages", http.Header{"Grpc-Metadata-Macaroon": {
			hex.EncodeToString(twoRaw)}}, ErrMalformedCredential},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCredential(tc.header)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseCredentialSizeBound(t *testing.T) {
	huge := "L402 " + strings.Repeat("A", MaxCredentialSize) + ":" +
		strings.Repeat("0", 64)
	_, err := ParseCredential(http.Header{"Authorization": {huge}})
	if !errors.Is(err, ErrMalformedCredential) ||
		!strings.Contains(err.Error(), "bytes") {
		t.Fatalf("oversized credential: %v", err)
	}
	_, err = ParseCredential(http.Header{"Macaroon": {strings.Repeat("0",
		3*MaxCredentialSize)}})
	if !errors.Is(err, ErrMalformedCredential) {
		t.Fatalf("oversized macaroon header: %v", err)
	}
}

func TestParseCredentialCopiesMustAgree(t *testing.T) {
	mint := func(tokenID byte, pre Preimage) Credential {
		svc, _ := ServicesCaveat(Service{Name: "svc"})
		mac, err := Mint(make([]byte, 32), NewIdentifier(pre.Hash(),
			TokenID{tokenID}), svc)
		if err != nil {
			t.Fatal(err)
		}
		return Credential{Macaroon: mac, Preimage: pre}
	}
	a := mint(1, Preimage{1})
	other := mint(2, Preimage{2})
	authA, _ := a.Authorization()
	hexA, _ := a.MacaroonHex()
	hexOther, _ := other.MacaroonHex()

	tests := []struct {
		name string
		h    http.Header
		ok   bool
	}{
		{"authorization and the same token in hex", http.Header{
			"Authorization": {authA}, "Macaroon": {hexA}}, true},
		{"both hex headers, same token", http.Header{
			"Grpc-Metadata-Macaroon": {hexA}, "Macaroon": {hexA}}, true},
		{"authorization and another token in hex", http.Header{
			"Authorization": {authA}, "Macaroon": {hexOther}}, false},
		{"two tokens in one hex header", http.Header{
			"Macaroon": {hexA, hexOther}}, false},
		{"two tokens in the two hex headers", http.Header{
			"Grpc-Metadata-Macaroon": {hexA}, "Macaroon": {hexOther}},
			false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCredential(tc.h)
			if tc.ok && (err != nil || c.Preimage != a.Preimage) {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrMalformedCredential) {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
}
