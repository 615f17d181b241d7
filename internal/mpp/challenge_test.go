package mpp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestChallengeHeaderVectors checks that each challenge of the vectors is
// written byte for byte as Aperture v0.5.0 writes it, and parses back to
// itself.
func TestChallengeHeaderVectors(t *testing.T) {
	v := loadVectors(t)
	if len(v.Headers) < 5 {
		t.Fatalf("only %d headers", len(v.Headers))
	}
	for _, h := range v.Headers {
		t.Run(h.Name, func(t *testing.T) {
			got, err := h.Challenge.WWWAuthenticate()
			if err != nil {
				t.Fatal(err)
			}
			if got != h.Header {
				t.Fatalf("got  %s\nwant %s", got, h.Header)
			}
			chs, err := ParseChallenges([]string{h.Header})
			if err != nil {
				t.Fatal(err)
			}
			if len(chs) != 1 || chs[0] != h.Challenge {
				t.Fatalf("parsed %+v\nwant   %+v", chs, h.Challenge)
			}
		})
	}
}

// TestParseChallengeLists checks the lists of the vectors: several
// challenges in one field and across fields, beside other schemes, and
// the ones that must be passed over.
func TestParseChallengeLists(t *testing.T) {
	v := loadVectors(t)
	if len(v.Lists) < 10 {
		t.Fatalf("only %d lists", len(v.Lists))
	}
	for _, l := range v.Lists {
		t.Run(l.Name, func(t *testing.T) {
			chs, err := ParseChallenges(l.Values)
			if l.Error {
				if !errors.Is(err, ErrNoChallenge) || len(chs) != 0 {
					t.Fatalf("got %v, %+v; want ErrNoChallenge", err,
						chs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range chs {
				ids = append(ids, c.ID)
			}
			if strings.Join(ids, " ") != strings.Join(l.IDs, " ") {
				t.Fatalf("ids %q, want %q", ids, l.IDs)
			}
		})
	}
}

// TestParseChallengesSaysWhy checks that the error names the reason the
// first Payment challenge was passed over.
func TestParseChallengesSaysWhy(t *testing.T) {
	_, err := ParseChallenges([]string{`Payment id="a", realm="r"`})
	if !errors.Is(err, ErrNoChallenge) || !errors.Is(err, ErrMalformed) ||
		!strings.Contains(err.Error(), "method") {
		t.Fatalf("error does not say what is missing: %v", err)
	}
}

// TestWWWAuthenticateRefuses checks that a challenge that a header cannot
// carry, or that lacks a required field, is not written.
func TestWWWAuthenticateRefuses(t *testing.T) {
	ok := Challenge{ID: "i", Realm: "r", Method: MethodLightning,
		Intent: IntentCharge, Request: "cQ"}
	tests := []struct {
		name string
		edit func(*Challenge)
	}{
		{"no id", func(c *Challenge) { c.ID = "" }},
		{"no realm", func(c *Challenge) { c.Realm = "" }},
		{"no method", func(c *Challenge) { c.Method = "" }},
		{"no intent", func(c *Challenge) { c.Intent = "" }},
		{"no request", func(c *Challenge) { c.Request = "" }},
		{"line break in realm", func(c *Challenge) { c.Realm = "a\r\nX: y" }},
		{"NUL in description", func(c *Challenge) { c.Description = "a\x00" }},
		{"DEL in realm", func(c *Challenge) { c.Realm = "a\x7f" }},
		{"another header field", func(c *Challenge) { c.Header = "X-Pay" }},
	}
	if _, err := ok.WWWAuthenticate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if got, err := c.WWWAuthenticate(); err == nil {
				t.Fatalf("wrote %q", got)
			}
		})
	}
}

// TestExpiresAt checks the expiry's round trip and that a bad one is
// malformed.
func TestExpiresAt(t *testing.T) {
	at := time.Date(2026, 3, 15, 12, 5, 0, 0, time.UTC)
	c := Challenge{Expires: FormatExpires(at.Add(900 * time.Millisecond))}
	if c.Expires != "2026-03-15T12:05:00Z" {
		t.Fatalf("expires %q", c.Expires)
	}
	got, ok, err := c.ExpiresAt()
	if err != nil || !ok || !got.Equal(at) {
		t.Fatalf("%v %v %v", got, ok, err)
	}
	if _, ok, err := (Challenge{}).ExpiresAt(); ok || err != nil {
		t.Fatalf("no expiry: %v %v", ok, err)
	}
	if _, _, err := (Challenge{Expires: "soon"}).ExpiresAt(); !errors.Is(
		err, ErrMalformed) {
		t.Fatalf("bad expiry: %v", err)
	}
}
