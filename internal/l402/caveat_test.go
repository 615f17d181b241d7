package l402

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeCaveat(t *testing.T) {
	tests := []struct {
		in       string
		cond     string
		value    string
		wantFail bool
	}{
		{in: "services=a:0", cond: "services", value: "a:0"},
		{in: "x=a=b", cond: "x", value: "a=b"},
		{in: "x=", cond: "x", value: ""},
		{in: "noequals", wantFail: true},
		{in: "=value", wantFail: true},
		{in: "a b=c", wantFail: true},
	}
	for _, tc := range tests {
		c, err := DecodeCaveat(tc.in)
		if tc.wantFail {
			if !errors.Is(err, ErrCaveatMalformed) {
				t.Errorf("%q: got %v, want ErrCaveatMalformed", tc.in, err)
			}
			continue
		}
		if err != nil || c.Condition != tc.cond || c.Value != tc.value {
			t.Errorf("%q: got %+v, %v", tc.in, c, err)
		}
		if c.String() != tc.in {
			t.Errorf("%q: String() = %q", tc.in, c.String())
		}
	}
}

func TestServicesCaveat(t *testing.T) {
	c, err := ServicesCaveat(Service{"a", 0}, Service{"b", 2})
	if err != nil {
		t.Fatal(err)
	}
	if c.String() != "services=a:0,b:2" {
		t.Fatalf("got %q", c)
	}
	svcs, err := DecodeServices(c.Value)
	if err != nil || len(svcs) != 2 || svcs[1] != (Service{"b", 2}) {
		t.Fatalf("decode: %v %+v", err, svcs)
	}

	for _, bad := range []string{"", "a", "a:", ":0", "a:x", "a:256",
		"a:0,", "a:0,,b:1", "a:-1", "a b:0"} {
		if _, err := DecodeServices(bad); !errors.Is(err,
			ErrCaveatMalformed) {
			t.Errorf("%q: got %v", bad, err)
		}
	}
	if _, err := ServicesCaveat(); err == nil {
		t.Error("empty services accepted")
	}
	if _, err := ServicesCaveat(Service{Name: "a,b"}); err == nil {
		t.Error("service name with a comma accepted")
	}
	if _, err := CapabilitiesCaveat("svc"); err == nil {
		t.Error("empty capabilities accepted")
	}
	if _, err := CapabilitiesCaveat("svc", "a:b"); err == nil {
		t.Error("capability with a colon accepted")
	}
}

func TestCheckCaveats(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cav := func(s string) Caveat {
		c, err := DecodeCaveat(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	svc := "svc"
	tests := []struct {
		name    string
		caveats []string
		caps    []string
		want    error
	}{
		{"allowed", []string{"services=svc:0"}, nil, nil},
		{"several services", []string{"services=a:0,svc:1"}, nil, nil},
		{"no services caveat", []string{"svc_capabilities=read"}, nil,
			ErrServiceNotAllowed},
		{"other service", []string{"services=other:0"}, nil,
			ErrServiceNotAllowed},
		{"narrowed services", []string{"services=a:0,svc:0",
			"services=svc:0"}, nil, nil},
		{"narrowed away", []string{"services=a:0,svc:0", "services=a:0"},
			nil, ErrServiceNotAllowed},
		{"widened services", []string{"services=svc:0",
			"services=svc:0,b:0"}, nil, ErrCaveatWidens},
		{"widened tier", []string{"services=svc:0", "services=svc:1"},
			nil, ErrCaveatWidens},
		{"malformed services", []string{"services=svc"}, nil,
			ErrCaveatMalformed},
		{"capability held", []string{"services=svc:0",
			"svc_capabilities=read,write"}, []string{"write"}, nil},
		{"capability missing", []string{"services=svc:0",
			"svc_capabilities=read"}, []string{"write"},
			ErrCapabilityNotAllowed},
		{"no capabilities caveat grants all", []string{"services=svc:0"},
			[]string{"write"}, nil},
		{"capabilities narrowed", []string{"services=svc:0",
			"svc_capabilities=read,write", "svc_capabilities=read"},
			[]string{"write"}, ErrCapabilityNotAllowed},
		{"capabilities widened", []string{"services=svc:0",
			"svc_capabilities=read", "svc_capabilities=read,write"},
			[]string{"read"}, ErrCaveatWidens},
		{"other service's capabilities ignored", []string{
			"services=svc:0", "other_capabilities=x"}, []string{"y"},
			nil},
		{"valid", []string{"services=svc:0", "svc_valid_until=1800000001"},
			nil, nil},
		{"expired at the second, as in Aperture", []string{"services=svc:0",
			"svc_valid_until=1800000000"}, nil, ErrTokenExpired},
		{"expired", []string{"services=svc:0",
			"svc_valid_until=1799999999"}, nil, ErrTokenExpired},
		{"expiry narrowed", []string{"services=svc:0",
			"svc_valid_until=1900000000", "svc_valid_until=1700000000"},
			nil, ErrTokenExpired},
		{"expiry widened", []string{"services=svc:0",
			"svc_valid_until=1700000000", "svc_valid_until=1900000000"},
			nil, ErrCaveatWidens},
		{"bad expiry", []string{"services=svc:0", "svc_valid_until=soon"},
			nil, ErrCaveatMalformed},
		{"unknown ignored", []string{"services=svc:0", "foo=bar",
			"preimage=00"}, nil, nil},
		{"resource matches", []string{"services=svc:0",
			"svc_resource=/v1/quote"}, nil, nil},
		{"resource elsewhere", []string{"services=svc:0",
			"svc_resource=/v1/cheap"}, nil, ErrResourceNotAllowed},
		{"resource repeated", []string{"services=svc:0",
			"svc_resource=/v1/quote", "svc_resource=/v1/quote"}, nil, nil},
		{"resource changed", []string{"services=svc:0",
			"svc_resource=/v1/quote", "svc_resource=/v1/cheap"}, nil,
			ErrCaveatWidens},
		{"other service's resource ignored", []string{"services=svc:0",
			"other_resource=/x"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cs []Caveat
			for _, s := range tc.caveats {
				cs = append(cs, cav(s))
			}
			err := CheckCaveats(cs, Target{Service: svc,
				Capabilities: tc.caps, Now: now, Resource: "/v1/quote"})
			if tc.want == nil && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	rootKey := make([]byte, 32)
	rootKey[0] = 9
	preimage := Preimage{7}
	id := NewIdentifier(preimage.Hash(), TokenID{1})
	svcs, _ := ServicesCaveat(Service{Name: "svc"})
	mac, err := Mint(rootKey, id, svcs)
	if err != nil {
		t.Fatal(err)
	}
	lookup := RootKeyFunc(func(got Identifier) ([]byte, error) {
		if got != id {
			return nil, ErrUnknownToken
		}
		return rootKey, nil
	})
	target := Target{Service: "svc", Now: time.Unix(0, 0)}

	if _, err := Verify(mac, preimage, lookup, target); err != nil {
		t.Fatalf("good token: %v", err)
	}
	if _, err := Verify(mac, Preimage{8}, lookup, target); !errors.Is(err,
		ErrPreimageMismatch) {
		t.Fatalf("wrong preimage: %v", err)
	}
	wrongKey := RootKeyFunc(func(Identifier) ([]byte, error) {
		return make([]byte, 32), nil
	})
	if _, err := Verify(mac, preimage, wrongKey, target); !errors.Is(err,
		ErrBadSignature) {
		t.Fatalf("wrong root key: %v", err)
	}
	none := RootKeyFunc(func(Identifier) ([]byte, error) {
		return nil, ErrUnknownToken
	})
	if _, err := Verify(mac, preimage, none, target); !errors.Is(err,
		ErrUnknownToken) {
		t.Fatalf("unknown token: %v", err)
	}

	// A client may narrow its own token, but not widen it.
	other, _ := ServicesCaveat(Service{Name: "other"})
	narrowed, err := AddCaveats(mac, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(narrowed, preimage, lookup, target); err == nil {
		t.Fatal("token narrowed to another service still verifies for svc")
	}
	if len(mac.Caveats()) != 1 {
		t.Fatal("AddCaveats changed the original macaroon")
	}

	// A caveat appended without the signature being updated breaks
	// the HMAC chain.
	forged := mac.Clone()
	raw, _ := forged.MarshalBinary()
	raw[len(raw)-1] ^= 1
	if err := forged.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(forged, preimage, lookup, target); !errors.Is(err,
		ErrBadSignature) {
		t.Fatalf("tampered signature: %v", err)
	}

	if _, err := Mint(rootKey[:31], id); err == nil {
		t.Fatal("short root key accepted")
	}
}

// TestCaveatBounds: a client that adds huge caveats to a token it holds
// gets it refused, quickly, instead of making every check slow.
func TestCaveatBounds(t *testing.T) {
	long := strings.Repeat("svc:0,", MaxListEntries) + "svc:0"
	if _, err := DecodeServices(long); !errors.Is(err, ErrCaveatMalformed) {
		t.Fatalf("long services list: %v", err)
	}
	caps := strings.Repeat("read,", MaxListEntries) + "read"
	err := CheckCaveats([]Caveat{{CondServices, "svc:0"},
		{"svc_capabilities", caps}}, Target{Service: "svc"})
	if !errors.Is(err, ErrCaveatMalformed) {
		t.Fatalf("long capabilities list: %v", err)
	}
	many := make([]Caveat, MaxCaveats+1)
	for i := range many {
		many[i] = Caveat{CondServices, "svc:0"}
	}
	if err := CheckCaveats(many, Target{Service: "svc"}); !errors.Is(err,
		ErrCaveatMalformed) {
		t.Fatalf("too many caveats: %v", err)
	}

	// At the bounds, duplicates still narrow correctly.
	dup := strings.TrimSuffix(strings.Repeat("svc:0,", MaxListEntries), ",")
	if err := CheckCaveats([]Caveat{{CondServices, "svc:1"},
		{CondServices, dup}}, Target{Service: "svc"}); err != nil {
		t.Fatalf("duplicates within bounds: %v", err)
	}
}

// TestValidUntilBoundary pins the expiry to Aperture's rule (l402's
// NewTimeoutSatisfier: valid while now is before the expiry): a token is
// valid up to the last instant before its _valid_until second, and expired
// from that second on, sub-second clocks included.
func TestValidUntilBoundary(t *testing.T) {
	cs := []Caveat{{Condition: CondServices, Value: "svc:0"},
		{Condition: "svc" + CondValidUntilSuffix, Value: "1800000000"}}
	for _, tc := range []struct {
		now  time.Time
		want error
	}{
		{time.Unix(1_799_999_999, 999_999_999), nil},
		{time.Unix(1_800_000_000, 0), ErrTokenExpired},
		{time.Unix(1_800_000_000, 500_000_000), ErrTokenExpired},
		{time.Unix(1_800_000_001, 0), ErrTokenExpired},
	} {
		err := CheckCaveats(cs, Target{Service: "svc", Now: tc.now})
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("now %s: %v, want %v", tc.now.Format(time.RFC3339Nano),
				err, tc.want)
		}
	}
}
