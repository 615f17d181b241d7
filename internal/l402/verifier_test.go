package l402

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// countingLookup is a RootKeyLookup that counts its calls.
type countingLookup struct {
	key   []byte
	calls int
}

func (c *countingLookup) RootKey(Identifier) ([]byte, error) {
	c.calls++
	return c.key, nil
}

// verifierToken mints a token for svc with capabilities read and a
// valid_until, and returns its Authorization header.
func verifierToken(t testing.TB, until time.Time) (http.Header, Identifier) {
	t.Helper()
	preimage := Preimage{0x42}
	id := NewIdentifier(preimage.Hash(), TokenID{7})
	svcs, _ := ServicesCaveat(Service{Name: "svc"})
	caps, _ := CapabilitiesCaveat("svc", "read")
	exp, _ := ValidUntilCaveat("svc", until)
	mac, err := Mint(make([]byte, RootKeySize), id, svcs, caps, exp)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := Credential{Macaroon: mac, Preimage: preimage}.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Authorization": {auth}}, id
}

// TestVerifierRemembersOnlyWhatDoesNotDependOnTheRequest: the second
// sight of a credential asks no root key, but its caveats are held to
// every request again: the token expires at its valid_until, is refused
// for another service, a capability it lacks and, once expired, stays
// refused. A different preimage is another credential, refused.
func TestVerifierRemembersOnlyWhatDoesNotDependOnTheRequest(t *testing.T) {
	until := time.Unix(1_000_000, 0)
	h, id := verifierToken(t, until)
	lookup := &countingLookup{key: make([]byte, RootKeySize)}
	v := NewVerifier(10)
	before := Target{Service: "svc", Capabilities: []string{"read"},
		Now: until.Add(-time.Second)}

	for i := range 3 {
		_, got, err := v.Verify(h, lookup, before)
		if err != nil || got != id {
			t.Fatalf("verify %d: %v %v", i, got, err)
		}
	}
	if lookup.calls != 1 || v.Len() != 1 {
		t.Fatalf("root key asked %d times, %d remembered", lookup.calls,
			v.Len())
	}

	for _, tc := range []struct {
		target Target
		want   error
	}{
		{Target{Service: "svc", Now: until}, ErrTokenExpired},
		{Target{Service: "other", Now: before.Now}, ErrServiceNotAllowed},
		{Target{Service: "svc", Capabilities: []string{"write"},
			Now: before.Now}, ErrCapabilityNotAllowed},
		{Target{Service: "svc", Now: until.Add(time.Hour)}, ErrTokenExpired},
	} {
		if _, _, err := v.Verify(h, lookup, tc.target); !errors.Is(err,
			tc.want) {
			t.Errorf("%+v: %v, want %v", tc.target, err, tc.want)
		}
	}
	if lookup.calls != 1 {
		t.Fatalf("root key asked %d times", lookup.calls)
	}

	// The same macaroon with another preimage is not the credential
	// remembered: it is verified, and refused.
	cred, err := ParseCredential(h)
	if err != nil {
		t.Fatal(err)
	}
	cred.Preimage = Preimage{0x43}
	wrong, _ := cred.Authorization()
	if _, _, err := v.Verify(http.Header{"Authorization": {wrong}}, lookup,
		before); !errors.Is(err, ErrPreimageMismatch) {
		t.Fatalf("wrong preimage: %v", err)
	}
	if v.Len() != 1 {
		t.Fatalf("a refused credential is remembered: %d", v.Len())
	}

	v.Forget()
	if _, _, err := v.Verify(h, lookup, before); err != nil ||
		lookup.calls != 2 {
		t.Fatalf("after Forget: %v, %d root key lookups", err, lookup.calls)
	}
}

// TestVerifierKeysEveryCredentialField: a credential is remembered under
// all of its fields' values; another field or value is another
// credential, parsed anew (two different credentials are refused), and
// a request without any is ErrNoCredential.
func TestVerifierKeysEveryCredentialField(t *testing.T) {
	until := time.Unix(1_000_000, 0)
	h, _ := verifierToken(t, until)
	lookup := &countingLookup{key: make([]byte, RootKeySize)}
	v := NewVerifier(10)
	target := Target{Service: "svc", Now: until.Add(-time.Second)}
	if _, _, err := v.Verify(h, lookup, target); err != nil {
		t.Fatal(err)
	}

	other, _ := testToken(t)
	otherHex, _ := Credential{Macaroon: other,
		Preimage: Preimage{0x11, 0x22}}.MacaroonHex()
	both := h.Clone()
	both.Set(HeaderMacaroon, otherHex)
	if _, _, err := v.Verify(both, lookup, target); !errors.Is(err,
		ErrMalformedCredential) {
		t.Fatalf("two credentials: %v", err)
	}
	if _, _, err := v.Verify(http.Header{"Accept": {"*/*"}}, lookup,
		target); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("none: %v", err)
	}
	basic := http.Header{"Authorization": {"Basic eA=="}}
	if _, _, err := v.Verify(basic, lookup, target); !errors.Is(err,
		ErrNoCredential) {
		t.Fatalf("another scheme: %v", err)
	}

	// The encoding tells apart values that concatenate alike.
	a, _, _ := credentialKey(http.Header{"Authorization": {"ab", "c"}})
	b, _, _ := credentialKey(http.Header{"Authorization": {"a", "bc"}})
	c, _, _ := credentialKey(http.Header{HeaderMacaroon: {"ab", "c"}})
	if a == b || a == c {
		t.Fatal("different credential fields share a key")
	}
}

// TestVerifierIsBounded: the cache never holds more than its size.
func TestVerifierIsBounded(t *testing.T) {
	lookup := &countingLookup{key: make([]byte, RootKeySize)}
	v := NewVerifier(2)
	for i := range 5 {
		preimage := Preimage{byte(i + 1)}
		svcs, _ := ServicesCaveat(Service{Name: "svc"})
		mac, _ := Mint(make([]byte, RootKeySize), NewIdentifier(
			preimage.Hash(), TokenID{byte(i)}), svcs)
		auth, _ := Credential{Macaroon: mac, Preimage: preimage}.Authorization()
		if _, _, err := v.Verify(http.Header{"Authorization": {auth}}, lookup,
			Target{Service: "svc"}); err != nil {
			t.Fatal(err)
		}
	}
	if v.Len() != 2 {
		t.Fatalf("%d remembered, bound 2", v.Len())
	}
}

// TestVerifierHotPathAllocations: a paid request whose credential was
// seen before allocates at most 10 times (the budget; the whole
// check allocated 37 times before the cache).
func TestVerifierHotPathAllocations(t *testing.T) {
	until := time.Unix(1_000_000, 0)
	h, _ := verifierToken(t, until)
	lookup := &countingLookup{key: make([]byte, RootKeySize)}
	v := NewVerifier(10)
	target := Target{Service: "svc", Capabilities: []string{"read"},
		Now: until.Add(-time.Second)}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := v.Verify(h, lookup, target); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 10 {
		t.Fatalf("%v allocations per cached check, budget 10", allocs)
	}
}

// TestVerifierRemembersOnlySmallCredentials: a buyer can add caveats to
// a macaroon it holds without the root key, so one paid token makes as
// many valid credentials as it likes, each up to MaxCredentialSize:
// remembered, 10,000 of them held about 250 MB (25 KB each, measured).
// A credential larger than MaxRememberedSize is verified, and verified
// again at every request, but not remembered; a token of serve's size is.
func TestVerifierRemembersOnlySmallCredentials(t *testing.T) {
	until := time.Unix(1_000_000, 0)
	h, _ := verifierToken(t, until)
	cred, err := ParseCredential(h)
	if err != nil {
		t.Fatal(err)
	}
	lookup := &countingLookup{key: make([]byte, RootKeySize)}
	v := NewVerifier(10)
	target := Target{Service: "svc", Capabilities: []string{"read"},
		Now: until.Add(-time.Second)}

	padded, err := AddCaveats(cred.Macaroon, Caveat{Condition: "pad",
		Value: strings.Repeat("x", 11_000)})
	if err != nil {
		t.Fatal(err)
	}
	big, err := Credential{Macaroon: padded,
		Preimage: cred.Preimage}.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, _, err := v.Verify(http.Header{"Authorization": {big}}, lookup,
			target); err != nil {
			t.Fatalf("big credential, %d: %v", i, err)
		}
	}
	if v.Len() != 0 || lookup.calls != 2 {
		t.Fatalf("a %d-byte credential: %d remembered, %d root key lookups",
			len(big), v.Len(), lookup.calls)
	}
	if _, _, err := v.Verify(h, lookup, target); err != nil || v.Len() != 1 {
		t.Fatalf("a %d-byte credential: %v, %d remembered",
			len(h.Get("Authorization")), err, v.Len())
	}
}
