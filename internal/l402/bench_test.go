package l402

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"gopkg.in/macaroon.v2"
)

// benchToken returns a minted token, its credential header and a lookup.
func benchToken(b *testing.B) (*macaroon.Macaroon, Preimage, RootKeyLookup,
	string) {

	mac, preimage := testToken(b)
	rootKey := make([]byte, 32)
	lookup := RootKeyFunc(func(Identifier) ([]byte, error) {
		return rootKey, nil
	})
	auth, err := Credential{Macaroon: mac, Preimage: preimage}.Authorization()
	if err != nil {
		b.Fatal(err)
	}
	return mac, preimage, lookup, auth
}

// BenchmarkVerify is the check of a paid request as serve makes it: a
// Verifier that has seen the credential before holds its caveats to the
// request (the budget: 3 us, 10 allocations).
func BenchmarkVerify(b *testing.B) {
	_, _, lookup, auth := benchToken(b)
	h := http.Header{"Authorization": {auth}}
	target := Target{Service: "svc", Now: time.Unix(1, 0)}
	v := NewVerifier(DefaultVerifiedCacheSize)
	if _, _, err := v.Verify(h, lookup, target); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := v.Verify(h, lookup, target); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFirstSight is the whole check of a credential never
// seen before: parse the credential, then verify preimage, signature and
// caveats.
func BenchmarkVerifyFirstSight(b *testing.B) {
	_, _, lookup, auth := benchToken(b)
	h := http.Header{"Authorization": {auth}}
	target := Target{Service: "svc", Now: time.Unix(1, 0)}
	b.ReportAllocs()
	for b.Loop() {
		cred, err := ParseCredential(h)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(cred.Macaroon, cred.Preimage, lookup,
			target); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyBaselineSignature is the floor under BenchmarkVerify:
// macaroon.v2's HMAC chain alone on an already decoded macaroon.
func BenchmarkVerifyBaselineSignature(b *testing.B) {
	mac, _, _, _ := benchToken(b)
	rootKey := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mac.VerifySignature(rootKey, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMint mints a token with the three caveats serve adds.
func BenchmarkMint(b *testing.B) {
	rootKey := make([]byte, 32)
	id := NewIdentifier(Hash{1}, TokenID{2})
	svcs, _ := ServicesCaveat(Service{Name: "svc"})
	caps, _ := CapabilitiesCaveat("svc", "read")
	until, _ := ValidUntilCaveat("svc", time.Unix(1e9, 0))
	b.ReportAllocs()
	for b.Loop() {
		mac, err := Mint(rootKey, id, svcs, caps, until)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := BuildChallenges(mac, "lnbcrt1invoice"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseChallenges parses Aperture's two challenge lines fully:
// RFC 7235 params, base64, macaroon and identifier.
func BenchmarkParseChallenges(b *testing.B) {
	mac, _ := testToken(b)
	lines, _ := BuildChallenges(mac, "lnbcrt1invoice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseChallenges(lines); err != nil {
			b.Fatal(err)
		}
	}
}

// challengeRegexp is the kind of extraction lax clients do.
var challengeRegexp = regexp.MustCompile(
	`(LSAT|L402) macaroon="([^"]+)", invoice="([^"]+)"`)

// BenchmarkParseChallengesBaselineRegexp is the baseline for
// BenchmarkParseChallenges: a regexp that only finds the two strings of
// the first line and decodes nothing.
func BenchmarkParseChallengesBaselineRegexp(b *testing.B) {
	mac, _ := testToken(b)
	lines, _ := BuildChallenges(mac, "lnbcrt1invoice")
	b.ReportAllocs()
	for b.Loop() {
		if m := challengeRegexp.FindStringSubmatch(lines[0]); m == nil {
			b.Fatal("no match")
		}
	}
}
