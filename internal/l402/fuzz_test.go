package l402

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// FuzzDecodeIdentifier checks that any input either fails cleanly or
// round-trips exactly.
func FuzzDecodeIdentifier(f *testing.F) {
	good, _ := NewIdentifier(Hash{1}, TokenID{2}).Encode()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := DecodeIdentifier(b)
		if err != nil {
			return
		}
		again, err := id.Encode()
		if err != nil {
			t.Fatalf("decoded identifier does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip changed %x to %x", b, again)
		}
	})
}

// FuzzCaveats checks the caveat decoder and the satisfiers on any list of
// caveats: no panic, and a decoded caveat re-encodes to its input.
func FuzzCaveats(f *testing.F) {
	f.Add("services=svc:0", "svc_capabilities=read", "svc_valid_until=10")
	f.Add("services=a:0,svc:1", "services=svc:0", "svc_valid_until=x")
	f.Add("noequals", "=", "svc_capabilities=,")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var caveats []Caveat
		for _, s := range []string{a, b, c} {
			cav, err := DecodeCaveat(s)
			if err != nil {
				continue
			}
			if cav.String() != s {
				t.Fatalf("%q re-encodes as %q", s, cav.String())
			}
			caveats = append(caveats, cav)
		}
		_ = CheckCaveats(caveats, Target{Service: "svc",
			Capabilities: []string{"read"}, Now: time.Unix(5, 0)})
		if svcs, err := DecodeServices(a); err == nil {
			cav, err := ServicesCaveat(svcs...)
			if err != nil {
				t.Fatalf("decoded services %q do not encode: %v", a, err)
			}
			if _, err := DecodeServices(cav.Value); err != nil {
				t.Fatalf("re-encoded services %q do not decode: %v",
					cav.Value, err)
			}
		}
	})
}

// FuzzParseChallenges checks that any pair of header lines parses without
// panic, and that what it returns is complete.
func FuzzParseChallenges(f *testing.F) {
	mac, _ := testToken(f)
	built, _ := BuildChallenges(mac, "lnbcrt1invoice")
	f.Add(built[0], built[1])
	f.Add(`Basic realm="x", L402 token="AgEE", invoice="lnbc1"`, "")
	f.Add(`L402 macaroon="a\"b", invoice=x`, `LSAT abc==`)
	f.Add(`l402 invoice="", version=0`, `,,, L402 ,`)
	f.Fuzz(func(t *testing.T, a, b string) {
		chs, err := ParseChallenges([]string{a, b})
		if err != nil && len(chs) != 0 {
			t.Fatal("error with challenges")
		}
		for _, c := range chs {
			if c.Macaroon == nil || c.Invoice == "" {
				t.Fatalf("incomplete challenge %+v", c)
			}
			if c.Scheme != SchemeL402 && c.Scheme != SchemeLSAT {
				t.Fatalf("scheme %q", c.Scheme)
			}
		}
	})
}

// FuzzParseCredential checks that any Authorization or Macaroon header
// parses without panic, and that a parsed credential re-encodes to one that
// parses to the same preimage.
func FuzzParseCredential(f *testing.F) {
	mac, preimage := testToken(f)
	cred := Credential{Macaroon: mac, Preimage: preimage}
	auth, _ := cred.Authorization()
	hexMac, _ := cred.MacaroonHex()
	f.Add(auth, "")
	f.Add("", hexMac)
	f.Add("LSAT abc:def", "zz")
	f.Add("Basic x", "")
	f.Fuzz(func(t *testing.T, authz, macHex string) {
		h := http.Header{}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		if macHex != "" {
			h.Set("Macaroon", macHex)
		}
		c, err := ParseCredential(h)
		if err != nil {
			return
		}
		again, err := c.Authorization()
		if err != nil {
			t.Fatalf("parsed credential does not encode: %v", err)
		}
		c2, err := ParseCredential(http.Header{"Authorization": {again}})
		if err != nil || c2.Preimage != c.Preimage {
			t.Fatalf("re-encoded credential: %v", err)
		}
	})
}
