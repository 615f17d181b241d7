package mpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// TestCredentialVectors decodes the credentials of the vectors, as
// Aperture and lnget write them, and refuses the broken ones.
func TestCredentialVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Credentials) < 10 {
		t.Fatalf("only %d credentials", len(v.Credentials))
	}
	for _, c := range v.Credentials {
		t.Run(c.Name, func(t *testing.T) {
			got, err := ParseCredential(http.Header{
				"Authorization": {c.Header}})
			if c.Error {
				if err == nil {
					t.Fatalf("parsed %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Challenge != c.Challenge {
				t.Fatalf("challenge %+v\nwant      %+v", got.Challenge,
					c.Challenge)
			}
			var a, b bytes.Buffer
			_ = json.Compact(&a, got.Payload)
			_ = json.Compact(&b, c.Payload)
			if a.String() != b.String() {
				t.Fatalf("payload %s, want %s", a.String(), b.String())
			}
		})
	}
}

// TestCredentialRoundTrip checks that a credential's token is the JCS of
// its JSON, without padding, and that it decodes to itself; and that a
// challenge without a header parameter echoes none (draft-httpauth-
// payment-01).
func TestCredentialRoundTrip(t *testing.T) {
	ch := chargeChallenge(t)
	ch.Description = "Q&A"
	c, err := ChargeCredential(ch, testPreimage)
	if err != nil {
		t.Fatal(err)
	}
	c.Source = "did:key:z6Mk"
	tok, err := c.Token()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := CanonicalJSON(raw)
	if err != nil || !bytes.Equal(canon, raw) {
		t.Fatalf("token is not JCS: %s", raw)
	}
	if bytes.Contains(raw, []byte(`"header"`)) ||
		!bytes.Contains(raw, []byte(`"description":"Q&A"`)) {
		t.Fatalf("echo: %s", raw)
	}
	got := roundTrip(t, c)
	if got.Challenge != ch || got.Source != c.Source {
		t.Fatalf("got %+v", got)
	}
	p, err := got.ChargePayload()
	if err != nil || p.Preimage != testPreimage.String() {
		t.Fatalf("payload %+v %v", p, err)
	}
	if c.Field() != "Authorization" {
		t.Fatal(c.Field())
	}
	c.Challenge.Header = HeaderPaymentAuthorization
	if c.Field() != HeaderPaymentAuthorization {
		t.Fatal(c.Field())
	}
}

// TestParseCredentialFields checks which Authorization fields count: an
// L402 credential beside a Payment one is not ours, the same Payment
// credential twice is one, two different ones are refused, and no Payment
// credential is ErrNoCredential.
func TestParseCredentialFields(t *testing.T) {
	ch := chargeChallenge(t)
	a, _ := ChargeCredential(ch, testPreimage)
	b, _ := ChargeCredential(ch, testPreimage2)
	authA, _ := a.Authorization()
	authB, _ := b.Authorization()

	if _, err := ParseCredential(http.Header{"Authorization": {
		"L402 AgE:00", authA}}); err != nil {
		t.Fatalf("beside L402: %v", err)
	}
	if _, err := ParseCredential(http.Header{"Authorization": {authA,
		authA}}); err != nil {
		t.Fatalf("twice: %v", err)
	}
	if _, err := ParseCredential(http.Header{"Authorization": {authA,
		authB}}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("two different: %v", err)
	}
	for _, h := range []http.Header{{}, {"Authorization": {"L402 AgE:00"}},
		{"Authorization": {"Basic eDp5"}}} {
		if _, err := ParseCredential(h); !errors.Is(err, ErrNoCredential) {
			t.Fatalf("%v: %v", h, err)
		}
	}
	long := "Payment " + string(bytes.Repeat([]byte("A"),
		MaxCredentialSize+1))
	if _, err := ParseCredential(http.Header{"Authorization": {long}}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("too long: %v", err)
	}
}
