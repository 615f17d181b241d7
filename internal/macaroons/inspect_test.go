package macaroons

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"gopkg.in/macaroon.v2"
)

// sortedPerms returns perms sorted by entity:action, as lnd's ids hold them.
func sortedPerms(perms []lightning.Permission) []lightning.Permission {
	out := append([]lightning.Permission(nil), perms...)
	sort.Slice(out, func(i, j int) bool {
		return out[i].String() < out[j].String()
	})
	return out
}

// mint returns a binary macaroon made with macaroon.v2 directly, not lnd.
func mint(t testing.TB, id, location string, v macaroon.Version,
	caveats ...string) []byte {

	t.Helper()
	m, err := macaroon.New(bytes.Repeat([]byte{7}, 32), []byte(id),
		location, v)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caveats {
		if err := m.AddFirstPartyCaveat([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInspectLndMacaroon reads what lnd writes into the id of a macaroon
// baked for a role, and of one with lnd's coarse permissions.
func TestInspectLndMacaroon(t *testing.T) {
	for _, r := range Roles {
		t.Run(r.Name, func(t *testing.T) {
			mac := bakeLnd(t, "4021", r.Permissions())
			info, err := Inspect(mac)
			if err != nil {
				t.Fatal(err)
			}
			m := &macaroon.Macaroon{}
			m.UnmarshalBinary(mac)

			if info.Version != 2 || info.Location != "lnd" ||
				info.ID != hex.EncodeToString(m.Id()) ||
				info.RootKeyID != "4021" || len(info.Nonce) != 32 ||
				info.Role != r.Name || info.PermissionsError != "" ||
				len(info.Caveats) != 0 || info.ExpiresAt != nil {
				t.Fatalf("info %+v", info)
			}
			want := sortedPerms(r.Permissions())
			if !reflect.DeepEqual(info.Permissions, want) {
				t.Fatalf("permissions %v, want %v", info.Permissions,
					want)
			}
		})
	}

	// lnd's own invoice.macaroon grants entity:action pairs.
	coarse := []lightning.Permission{{Entity: "invoices", Action: "read"},
		{Entity: "invoices", Action: "write"},
		{Entity: "address", Action: "read"}}
	info, err := Inspect(bakeLnd(t, "0", coarse))
	if err != nil {
		t.Fatal(err)
	}
	if info.Role != "" || info.RootKeyID != "0" ||
		!reflect.DeepEqual(info.Permissions, sortedPerms(coarse)) {
		t.Fatalf("info %+v", info)
	}
}

// TestInspectForeignMacaroon: a macaroon whose id is not lnd's is still
// shown, with its permissions marked unreadable.
func TestInspectForeignMacaroon(t *testing.T) {
	ids := []string{"hello", "\x03", "\x03\xff\xff", "A", "\x02abc",
		"\x03\x1a\x00"}
	for _, id := range ids {
		mac := mint(t, id, "lsat", macaroon.V2,
			"services=demo:0", "demo_valid_until=2000000000")
		info, err := Inspect(mac)
		if err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
		if !strings.HasPrefix(info.PermissionsError,
			"permissions unreadable: ") || info.Permissions != nil ||
			info.RootKeyID != "" || info.Role != "" {
			t.Fatalf("id %q: info %+v", id, info)
		}
		if info.Location != "lsat" || !reflect.DeepEqual(info.Caveats,
			[]string{"services=demo:0", "demo_valid_until=2000000000"}) {
			t.Fatalf("id %q: info %+v", id, info)
		}

		var buf bytes.Buffer
		if err := WriteTable(&buf, info); err != nil ||
			!strings.Contains(buf.String(),
				"permissions  permissions unreadable") {
			t.Fatalf("id %q: table\n%s", id, buf.String())
		}
	}
}

// TestInspectGarbage: input that is not a macaroon is an error, never a
// panic, and the error does not repeat the input.
func TestInspectGarbage(t *testing.T) {
	inputs := [][]byte{nil, {}, []byte("  \n"), []byte("zz"), {2},
		{2, 1}, []byte("0"), []byte("02"), []byte("0201"),
		[]byte("secret-looking-text"), bytes.Repeat([]byte{0xff}, 100),
		[]byte("0014location lnd\n")}
	for _, in := range inputs {
		_, err := Inspect(in)
		if err == nil {
			t.Errorf("%q: no error", in)
			continue
		}
		if len(in) > 3 && strings.Contains(err.Error(), string(in)) {
			t.Errorf("%q: the error repeats the input: %v", in, err)
		}
		if _, err := Attenuate(in, AttenuateOptions{
			Timeout: time.Hour}); err == nil {
			t.Errorf("%q: Attenuate took it", in)
		}
	}
}

// TestInspectHexAndBinary: lnd's files are binary, lncli prints hex; both
// read the same, as does hex with a trailing newline or in capitals.
func TestInspectHexAndBinary(t *testing.T) {
	r, _ := LookupRole("pay-only")
	bin := bakeLnd(t, "4022", r.Permissions())
	h := hex.EncodeToString(bin)
	want, err := Inspect(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{h, h + "\n", " " + strings.ToUpper(h) +
		"\r\n"} {
		got, err := Inspect([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("hex reads %+v, binary %+v", got, want)
		}
	}

	// A binary macaroon that ends in whitespace is not trimmed.
	for i := 0; i < 200; i++ {
		mac := bakeLnd(t, "4022", r.Permissions())
		if last := mac[len(mac)-1]; last != ' ' && last != '\n' &&
			last != '\t' && last != '\r' {
			continue
		}
		if _, err := Inspect(mac); err != nil {
			t.Fatalf("binary macaroon ending in whitespace: %v", err)
		}
		return
	}
}

// TestInspectVersion1: macaroon.v2 also reads the old binary format.
func TestInspectVersion1(t *testing.T) {
	mac := mint(t, "old-id", "loc", macaroon.V1, "a=b")
	info, err := Inspect(mac)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 1 || info.ID != hex.EncodeToString([]byte(
		"old-id")) || !reflect.DeepEqual(info.Caveats, []string{"a=b"}) {
		t.Fatalf("info %+v", info)
	}
}

// TestInspectHostileText: text from the macaroon cannot drive a terminal.
func TestInspectHostileText(t *testing.T) {
	r, _ := LookupRole("read-only")
	m := &macaroon.Macaroon{}
	if err := m.UnmarshalBinary(bakeLnd(t, "4023",
		r.Permissions())); err != nil {
		t.Fatal(err)
	}
	m.SetLocation("\x1b[2Jlnd")
	m.AddFirstPartyCaveat([]byte("evil \x07\u202e caveat"))
	m.AddFirstPartyCaveat([]byte{'x', 0xff})
	mac, _ := m.MarshalBinary()

	info, err := Inspect(mac)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	WriteTable(&buf, info)
	out := buf.String()
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\xff"} {
		if strings.Contains(out, bad) {
			t.Fatalf("table holds %q:\n%s", bad, out)
		}
	}
	if info.Location != `"\x1b[2Jlnd"` {
		t.Fatalf("location %s", info.Location)
	}
}

// TestInspectThirdPartyCaveat: a third-party caveat is listed by its
// location and id.
func TestInspectThirdPartyCaveat(t *testing.T) {
	m := &macaroon.Macaroon{}
	m.UnmarshalBinary(mint(t, "id", "loc", macaroon.V2))
	if err := m.AddThirdPartyCaveat(bytes.Repeat([]byte{1}, 32),
		[]byte{0xab, 0xcd}, "https://auth.example"); err != nil {
		t.Fatal(err)
	}
	mac, _ := m.MarshalBinary()
	info, err := Inspect(mac)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"third-party https://auth.example abcd"}
	if !reflect.DeepEqual(info.Caveats, want) {
		t.Fatalf("caveats %q", info.Caveats)
	}
}

// TestInspectEarliestExpiry: of several time-before caveats the earliest
// binds; a malformed one is listed but sets no expiry.
func TestInspectEarliestExpiry(t *testing.T) {
	mac := mint(t, "id", "lnd", macaroon.V2,
		"time-before 2031-01-01T00:00:00Z",
		"time-before 2030-06-01T12:00:00.5Z",
		"time-before yesterday",
		"time-before 2032-01-01T00:00:00Z")
	info, err := Inspect(mac)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 6, 1, 12, 0, 0, 5e8, time.UTC)
	if info.ExpiresAt == nil || !info.ExpiresAt.Equal(want) ||
		len(info.Caveats) != 4 {
		t.Fatalf("info %+v", info)
	}
}

// TestWriteTableAndJSON pins both output forms.
func TestWriteTableAndJSON(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	info := Info{
		Version:   2,
		Location:  "lnd",
		ID:        "0301",
		RootKeyID: "4021",
		Nonce:     "aa",
		Role:      "invoice-only",
		Permissions: []lightning.Permission{
			lightning.URIPermission("/lnrpc.Lightning/AddInvoice"),
			lightning.URIPermission("/lnrpc.Lightning/GetInfo"),
		},
		Caveats: []string{"time-before 2030-01-02T03:04:05Z",
			"ipaddr 127.0.0.1"},
		ExpiresAt: &exp,
	}

	var buf bytes.Buffer
	if err := WriteTable(&buf, info); err != nil {
		t.Fatal(err)
	}
	want := `version      2
location     lnd
id           0301
root key id  4021
nonce        aa
role         invoice-only
permissions  uri:/lnrpc.Lightning/AddInvoice
             uri:/lnrpc.Lightning/GetInfo
caveats      time-before 2030-01-02T03:04:05Z
             ipaddr 127.0.0.1
expires      2030-01-02T03:04:05Z
`
	if buf.String() != want {
		t.Fatalf("table\n%s\nwant\n%s", buf.String(), want)
	}

	j, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"version":2,"location":"lnd","id":"0301",` +
		`"root_key_id":"4021","nonce":"aa","role":"invoice-only",` +
		`"permissions":[{"entity":"uri","action":` +
		`"/lnrpc.Lightning/AddInvoice"},{"entity":"uri","action":` +
		`"/lnrpc.Lightning/GetInfo"}],"caveats":` +
		`["time-before 2030-01-02T03:04:05Z","ipaddr 127.0.0.1"],` +
		`"expires_at":"2030-01-02T03:04:05Z"}`
	if string(j) != wantJSON {
		t.Fatalf("json\n%s\nwant\n%s", j, wantJSON)
	}

	// Nothing to list is said, not left blank.
	buf.Reset()
	WriteTable(&buf, Info{Version: 2, Location: "x", ID: "00",
		Caveats: []string{}, PermissionsError: "permissions unreadable: x"})
	if !strings.Contains(buf.String(), "caveats      (none)\n") ||
		!strings.Contains(buf.String(),
			"permissions  permissions unreadable: x\n") {
		t.Fatalf("table\n%s", buf.String())
	}
}
