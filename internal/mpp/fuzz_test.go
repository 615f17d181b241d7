package mpp

import (
	"net/http"
	"testing"
	"time"
)

// FuzzParseChallenge checks that any pair of WWW-Authenticate values
// parses without panic, that every challenge found is complete, and that
// it is written back as a header that parses to the same challenge.
func FuzzParseChallenge(f *testing.F) {
	ch := chargeChallenge(f)
	h, _ := ch.WWWAuthenticate()
	f.Add(h, `L402 macaroon="AgE", invoice="lnbc1"`)
	f.Add(`Payment id=a, realm=r, method=lightning, intent=charge, `+
		`request=cQ, Payment id="b\"", realm="x,y"`, "")
	f.Add(`payment ID="a", Realm="r", METHOD="m", intent="i", `+
		`request="r", header="Payment-Authorization"`, `Basic x=y, ,`)
	f.Add(`Payment abc==`, `Payment id="a", id="b"`)
	f.Fuzz(func(t *testing.T, a, b string) {
		chs, err := ParseChallenges([]string{a, b})
		if (err == nil) == (len(chs) == 0) {
			t.Fatalf("%d challenges and error %v", len(chs), err)
		}
		for _, c := range chs {
			if c.ID == "" || c.Realm == "" || c.Method == "" ||
				c.Intent == "" || c.Request == "" {
				t.Fatalf("incomplete %+v", c)
			}
			v, err := c.WWWAuthenticate()
			if err != nil {
				// A parsed value may hold a byte a header cannot
				// carry (a raw line break inside quotes).
				continue
			}
			again, err := ParseChallenges([]string{v})
			if err != nil || len(again) != 1 || again[0] != c {
				t.Fatalf("%q re-parses as %+v, %v", v, again, err)
			}
			_, _ = VetCharge(c, 1000, time.Unix(0, 0))
		}
	})
}

// FuzzParseCredential checks that any Authorization value parses without
// panic, that a parsed credential is complete and re-encodes to one that
// parses the same, and that verification never accepts one without the
// secret.
func FuzzParseCredential(f *testing.F) {
	c, _ := ChargeCredential(chargeChallenge(f), testPreimage)
	auth, _ := c.Authorization()
	f.Add(auth)
	s, _ := NewCredential(sessionChallenge(f, testPreimage), SessionPayload{
		Action: ActionBearer, SessionID: testPreimage.Hash().String(),
		Preimage: testPreimage.String()})
	auth, _ = s.Authorization()
	f.Add(auth)
	f.Add("Payment e30")
	f.Add("Payment !!!")
	f.Add("payment eyJjaGFsbGVuZ2UiOnt9LCJwYXlsb2FkIjp7fX0=")
	other := Verifier{Secret: []byte("a secret the fuzzer cannot know!"),
		Realm: "api.example.com"}
	f.Fuzz(func(t *testing.T, authz string) {
		got, err := ParseCredential(http.Header{"Authorization": {authz}})
		if err != nil {
			return
		}
		again, err := got.Authorization()
		if err != nil {
			t.Fatalf("parsed credential does not encode: %v", err)
		}
		got2, err := ParseCredential(http.Header{"Authorization": {again}})
		if err != nil || got2.Challenge != got.Challenge ||
			got2.Source != got.Source {
			t.Fatalf("re-encoded credential: %+v, %v", got2, err)
		}
		if _, err := other.Charge(got, time.Unix(0, 0)); err == nil {
			t.Fatal("a charge verified without the secret")
		}
		if _, err := other.Session(got, time.Unix(0, 0)); err == nil {
			t.Fatal("a session verified without the secret")
		}
		_, _ = testVerifier.Charge(got, testNow)
		_, _ = testVerifier.Session(got, testNow)
	})
}
