package mpp

import (
	"encoding/hex"
	"errors"
	"testing"
)

// testSecret is the challenge secret of the tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// TestChallengeIDVectors checks the HMAC input and the id of each vector
// (the first two are Aperture's: with its secret, ours are its ids), and
// that a '|' in a bound field is refused.
func TestChallengeIDVectors(t *testing.T) {
	v := loadVectors(t)
	secret, err := hex.DecodeString(v.SecretHex)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.ChallengeIDs {
		t.Run(c.Name, func(t *testing.T) {
			in, err := bindingInput(c.Challenge)
			id, idErr := ChallengeID(secret, c.Challenge)
			if c.Error {
				if !errors.Is(err, ErrTampered) ||
					!errors.Is(idErr, ErrTampered) {
					t.Fatalf("got %q %q, %v; want ErrTampered", in,
						id, idErr)
				}
				return
			}
			if err != nil || idErr != nil {
				t.Fatal(err, idErr)
			}
			if in != c.Input {
				t.Fatalf("input %q, want %q", in, c.Input)
			}
			if id != c.ID {
				t.Fatalf("id %q, want %q", id, c.ID)
			}
			ch := c.Challenge
			ch.ID = id
			if err := VerifyID(secret, ch); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestVerifyIDRefusesAChangedField checks that changing any bound field,
// or the id, or the secret, fails with ErrTampered, and that the
// description is not bound.
func TestVerifyIDRefusesAChangedField(t *testing.T) {
	ch, err := Bind(testSecret, Challenge{Realm: "api", Method: "lightning",
		Intent: "charge", Request: "cQ", Expires: "2026-03-15T12:05:00Z",
		Digest: "sha-256=:X48E9q:", Opaque: "e30"})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyID(testSecret, ch); err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(*Challenge){
		"id":      func(c *Challenge) { c.ID = c.ID[:len(c.ID)-1] + "A" },
		"realm":   func(c *Challenge) { c.Realm = "apj" },
		"method":  func(c *Challenge) { c.Method = "lightninh" },
		"intent":  func(c *Challenge) { c.Intent = "session" },
		"request": func(c *Challenge) { c.Request = "cR" },
		"expires": func(c *Challenge) { c.Expires = "2026-03-15T12:06:00Z" },
		"no expires": func(c *Challenge) {
			c.Expires = ""
		},
		"digest": func(c *Challenge) { c.Digest = "" },
		"opaque": func(c *Challenge) { c.Opaque = "e31" },
		"header": func(c *Challenge) { c.Header = HeaderPaymentAuthorization },
		"shifted": func(c *Challenge) {
			c.Realm, c.Method = "api|lightning", ""
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			c := ch
			edit(&c)
			if err := VerifyID(testSecret, c); !errors.Is(err,
				ErrTampered) {
				t.Fatalf("got %v, want ErrTampered", err)
			}
		})
	}
	other := []byte("another secret, just as long....")
	if err := VerifyID(other, ch); !errors.Is(err, ErrTampered) {
		t.Fatalf("other secret: %v", err)
	}
	c := ch
	c.Description = "free text"
	if err := VerifyID(testSecret, c); err != nil {
		t.Fatalf("description is bound: %v", err)
	}
}

// TestShortSecret checks that a secret too short to be one is refused.
func TestShortSecret(t *testing.T) {
	_, err := Bind([]byte("short"), Challenge{Realm: "r", Method: "m",
		Intent: "i", Request: "cQ"})
	if !errors.Is(err, ErrShortSecret) {
		t.Fatalf("got %v", err)
	}
}
