package macaroons

import (
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	lndmacaroons "github.com/lightningnetwork/lnd/macaroons"
	"gopkg.in/macaroon.v2"
)

// caveatsOf returns a macaroon's caveats as text.
func caveatsOf(t *testing.T, mac []byte) []string {
	t.Helper()
	m := &macaroon.Macaroon{}
	if err := m.UnmarshalBinary(mac); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range m.Caveats() {
		out = append(out, string(c.Id))
	}
	return out
}

// TestAttenuateLndChecks: lnd's own macaroon checks accept an attenuated
// macaroon within its limits and refuse it outside them.
func TestAttenuateLndChecks(t *testing.T) {
	r, _ := LookupRole("invoice-only")
	mac := bakeLnd(t, "4021", r.Permissions())
	const addInvoice = "/lnrpc.Lightning/AddInvoice"
	if err := lndAllows(t, mac, addInvoice, "10.0.0.1"); err != nil {
		t.Fatalf("lnd refuses the plain macaroon: %v", err)
	}
	if lndAllows(t, mac, "/routerrpc.Router/SendPaymentV2",
		"10.0.0.1") == nil {
		t.Fatal("lnd lets invoice-only pay")
	}

	locked, err := Attenuate(mac, AttenuateOptions{Timeout: time.Hour,
		IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := lndAllows(t, locked, addInvoice, "127.0.0.1"); err != nil {
		t.Fatalf("lnd refuses the locked macaroon: %v", err)
	}
	if err := lndAllows(t, locked, addInvoice, "10.0.0.1"); err == nil ||
		!strings.Contains(err.Error(), "different IP") {
		t.Fatalf("another address: got %v", err)
	}

	expired, err := Attenuate(mac, AttenuateOptions{Timeout: time.Hour,
		Now: time.Now().Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := lndAllows(t, expired, addInvoice, "127.0.0.1"); err == nil ||
		!strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired macaroon: got %v", err)
	}

	ranged, err := Attenuate(mac, AttenuateOptions{IPRange: "10.1.2.3/16"})
	if err != nil {
		t.Fatal(err)
	}
	if err := lndAllows(t, ranged, addInvoice, "10.1.200.7"); err != nil {
		t.Fatalf("in range: %v", err)
	}
	if lndAllows(t, ranged, addInvoice, "10.2.0.1") == nil {
		t.Fatal("lnd accepts an address outside the range")
	}
}

// TestAttenuateWritesLndsCaveats: the caveats are byte for byte what lnd's
// constraints write.
func TestAttenuateWritesLndsCaveats(t *testing.T) {
	mac := mint(t, "id", "lnd", macaroon.V2)
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	ours, err := Attenuate(mac, AttenuateOptions{Timeout: 90 * time.Second,
		IP: "::ffff:127.0.0.1", IPRange: "2001:db8::1/32", Now: now})
	if err != nil {
		t.Fatal(err)
	}

	m := &macaroon.Macaroon{}
	m.UnmarshalBinary(mac)
	theirs, err := lndmacaroons.AddConstraints(m,
		lndmacaroons.TimeoutConstraint(90),
		lndmacaroons.IPLockConstraint("::ffff:127.0.0.1"),
		lndmacaroons.IPRangeLockConstraint("2001:db8::1/32"))
	if err != nil {
		t.Fatal(err)
	}
	theirBytes, _ := theirs.MarshalBinary()

	got, want := caveatsOf(t, ours), caveatsOf(t, theirBytes)
	if len(got) != 3 || got[0] != "time-before 2030-01-02T02:05:35.0000006Z" {
		t.Fatalf("caveats %q", got)
	}

	// lnd's timeout counts from its own clock: compare the form.
	form := regexp.MustCompile(`^time-before \d{4}-\d\d-\d\dT\d\d:\d\d:` +
		`\d\d(\.\d+)?Z$`)
	if !form.MatchString(want[0]) || !form.MatchString(got[0]) {
		t.Fatalf("time-before forms %q and %q", got[0], want[0])
	}
	if got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("caveats %q, lnd writes %q", got[1:], want[1:])
	}
	if got[1] != "ipaddr 127.0.0.1" || got[2] != "iprange 2001:db8::/32" {
		t.Fatalf("caveats %q", got[1:])
	}
}

// TestAttenuateRoundTrip: Inspect sees what Attenuate added, from binary
// and hex input, and the macaroon keeps its id and version.
func TestAttenuateRoundTrip(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, v := range []macaroon.Version{macaroon.V1, macaroon.V2} {
		bin := mint(t, "my-id", "lnd", v, "first")
		for _, in := range [][]byte{bin,
			[]byte(hex.EncodeToString(bin) + "\n")} {

			out, err := Attenuate(in, AttenuateOptions{
				Timeout: time.Minute, IP: "192.0.2.1", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			info, err := Inspect(out)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"first",
				"time-before 2030-01-02T03:05:05Z",
				"ipaddr 192.0.2.1"}
			if info.Version != int(v) || info.ID != hex.EncodeToString(
				[]byte("my-id")) || strings.Join(info.Caveats, "|") !=
				strings.Join(want, "|") || info.ExpiresAt == nil ||
				!info.ExpiresAt.Equal(now.Add(time.Minute)) {
				t.Fatalf("v%d: info %+v", v, info)
			}
		}
	}
}

// TestAttenuateNowDefaultsToTheClock: a zero Now counts from time.Now.
func TestAttenuateNowDefaultsToTheClock(t *testing.T) {
	before := time.Now()
	out, err := Attenuate(mint(t, "id", "lnd", macaroon.V2),
		AttenuateOptions{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := Inspect(out)
	if info.ExpiresAt == nil ||
		info.ExpiresAt.Before(before.Add(time.Hour)) ||
		info.ExpiresAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("expires %v", info.ExpiresAt)
	}
}

// TestAttenuateRejects: bad options are refused with what to do instead,
// before the macaroon is even read.
func TestAttenuateRejects(t *testing.T) {
	mac := mint(t, "id", "lnd", macaroon.V2)
	tests := []struct {
		opts AttenuateOptions
		want string
	}{
		{AttenuateOptions{}, "nothing to add"},
		{AttenuateOptions{Now: time.Now()}, "nothing to add"},
		{AttenuateOptions{Timeout: -time.Second}, "negative"},
		{AttenuateOptions{IP: "localhost"}, "not an IP address"},
		{AttenuateOptions{IP: "10.0.0.1/8"}, "IP range option"},
		{AttenuateOptions{IP: "10.0.0.1:10009"}, "give the address alone"},
		{AttenuateOptions{IP: "[::1]:10009"}, "such as ::1"},
		{AttenuateOptions{IP: "300.1.1.1"}, "not an IP address"},
		{AttenuateOptions{IPRange: "10.0.0.1"}, "CIDR"},
		{AttenuateOptions{Timeout: time.Hour, IP: "x"}, "not an IP"},
	}
	for _, tc := range tests {
		_, err := Attenuate(mac, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
}
