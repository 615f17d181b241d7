package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// seedStore fills a store in a private L402_HOME with a token for
// https://a.example:443 (valid until 2100) and a pending payment for
// http://b.example:80.
func seedStore(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("L402_HOME", home)
	ctx := context.Background()
	s, err := tokens.Open(ctx, filepath.Join(home, "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	pre := l402.Preimage{1}
	svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
	until, _ := l402.ValidUntilCaveat("svc", time.Unix(4102444800, 0))
	mac, _ := l402.Mint(make([]byte, 32), l402.NewIdentifier(pre.Hash(),
		l402.TokenID{1}), svc, until)
	raw, _ := mac.MarshalBinary()
	if err := s.AddPending(ctx, tokens.Pending{PaymentHash: pre.Hash(),
		Origin: "https://a.example:443", Macaroon: raw, Invoice: "x",
		AmountMsat: 21_000, CreatedAt: time.Unix(1_800_000_000, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompletePending(ctx, pre.Hash(), pre, 2000,
		time.Unix(1_800_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	other := l402.Preimage{2}
	s.AddPending(ctx, tokens.Pending{PaymentHash: other.Hash(),
		Origin: "http://b.example:80", Macaroon: raw, Invoice: "y",
		AmountMsat: 5000, CreatedAt: time.Unix(1_800_000_000, 0)})
}

func TestTokensCommand(t *testing.T) {
	seedStore(t)

	out, _, code := run("tokens", "list", "--json")
	var views []tokens.View
	if code != 0 || json.Unmarshal([]byte(out), &views) != nil ||
		len(views) != 2 || views[0].State != "paid" ||
		views[0].AmountSat != 21 || views[0].FeeSat != 2 ||
		views[0].ValidUntil == nil || views[0].Expired ||
		views[1].State != "pending" || views[1].Origin != "http://b.example:80" {
		t.Fatalf("list --json: %d %s", code, out)
	}

	out, _, code = run("tokens", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ORIGIN") ||
		!strings.Contains(lines[1], "https://a.example:443") ||
		!strings.Contains(lines[1], "2100-01-01") {
		t.Fatalf("list: %q", out)
	}
	// In a pipe, one tab between columns: the first is the origin.
	for i, want := range []string{"ORIGIN", "https://a.example:443",
		"http://b.example:80"} {
		cols := strings.Split(lines[i], "\t")
		if cols[0] != want || len(cols) != len(strings.Split(lines[0],
			"\t")) {
			t.Fatalf("list line %d: %q", i, lines[i])
		}
	}

	out, _, code = run("tokens", "show", "https://a.example", "--json")
	var v tokens.View
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil ||
		len(v.Caveats) != 2 || v.Caveats[0] != "services=svc:0" {
		t.Fatalf("show: %d %s", code, out)
	}
	_, errOut, code := run("tokens", "show", "https://nope.example",
		"--json")
	if code != 1 || !strings.Contains(errOut, `"not_found"`) {
		t.Fatalf("show unknown: %d %s", code, errOut)
	}

	exported, _, code := run("tokens", "export", "https://a.example")
	if code != 0 || !strings.HasPrefix(exported, "L402 ") {
		t.Fatalf("export: %d %q", code, exported)
	}
	_, _, code = runIn("Authorization: "+exported, "tokens", "import",
		"https://c.example:8443")
	if code != 0 {
		t.Fatalf("import: %d", code)
	}
	if out, _, _ = run("tokens", "show", "https://c.example:8443",
		"--json"); !strings.Contains(out, `"state":"paid"`) {
		t.Fatalf("imported token: %s", out)
	}
	if _, _, code = runIn("L402 garbage:00", "tokens", "import",
		"https://d.example"); code != 2 {
		t.Fatalf("import garbage: %d", code)
	}

	out, _, code = run("tokens", "stats", "--json")
	var stats map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &stats) != nil ||
		stats["payments"] != 1.0 || stats["spent_sat"] != 21.0 ||
		stats["fees_sat"] != 2.0 {
		t.Fatalf("stats: %d %s", code, out)
	}

	if _, _, code = run("tokens", "remove", "https://a.example"); code != 0 {
		t.Fatalf("remove: %d", code)
	}
	if _, _, code = run("tokens", "remove", "https://a.example"); code != 1 {
		t.Fatalf("second remove: %d", code)
	}

	// No terminal here: clear needs --force, and --interactive cannot ask.
	if _, errOut, code = run("tokens", "clear"); code != 2 ||
		!strings.Contains(errOut, "--force") {
		t.Fatalf("clear without --force: %d %q", code, errOut)
	}
	if _, _, code = runIn("y\n", "tokens", "clear", "-i"); code != 2 {
		t.Fatalf("clear -i without a terminal: %d", code)
	}
	out, _, code = run("tokens", "clear", "--force", "--json")
	if code != 0 || strings.TrimSpace(out) != `{"removed":1}` {
		t.Fatalf("clear: %d %q", code, out)
	}
	out, _, _ = run("tokens", "list", "--json")
	if !strings.Contains(out, `"pending"`) {
		t.Fatalf("clear dropped the pending payment: %s", out)
	}

	for _, args := range [][]string{{"tokens", "show"},
		{"tokens", "show", "not/an-origin"}, {"tokens", "list", "extra"}} {
		if _, _, code := run(args...); code != 2 {
			t.Errorf("%q: exit %d", args, code)
		}
	}
}

// TestTokensHistoryCommand: `tokens history` lists the ledger and the
// pending payment with amount, fee, scheme, kind, origin, hash and time,
// as JSON or a table, filtered by --origin and --since; a bad filter is
// bad arguments.
func TestTokensHistoryCommand(t *testing.T) {
	seedStore(t)
	paidHash := (l402.Preimage{1}).Hash().String()

	out, _, code := run("tokens", "history", "--json")
	var all []tokens.Entry
	if code != 0 || json.Unmarshal([]byte(out), &all) != nil ||
		len(all) != 2 {
		t.Fatalf("history --json: %d %s", code, out)
	}
	out, _, code = run("tokens", "history", "--json", "--origin",
		"https://a.example/any/path")
	var ofA []tokens.Entry
	want := tokens.Entry{Time: time.Unix(1_800_000_000, 0).UTC(),
		Kind: "purchase", State: "paid", Scheme: "l402",
		Origin: "https://a.example:443", PaymentHash: paidHash,
		AmountSat: 21, FeeSat: 2, AmountMsat: 21_000, FeeMsat: 2000}
	if code != 0 || json.Unmarshal([]byte(out), &ofA) != nil ||
		len(ofA) != 1 || ofA[0] != want {
		t.Fatalf("history --origin: %d %s", code, out)
	}
	for since, n := range map[string]int{"2027-01-15": 2,
		"2027-01-15T08:00:01Z": 0, "2027-01-16": 0} {
		out, _, code = run("tokens", "history", "--json", "--since", since)
		var got []tokens.Entry
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil ||
			len(got) != n || got == nil {
			t.Fatalf("history --since %s: %d %s", since, code, out)
		}
	}

	out, _, code = run("tokens", "history", "--origin", "http://b.example")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || lines[0] != strings.Join([]string{
		"TIME", "KIND", "STATE", "SCHEME", "ORIGIN", "AMOUNT", "FEE",
		"PAYMENT HASH"}, "\t") || !strings.Contains(lines[1],
		"purchase\tpending\tl402\thttp://b.example:80\t5 sat\t0 sat\t") {
		t.Fatalf("history table: %d %q", code, out)
	}

	for _, args := range [][]string{{"--since", "last week"},
		{"--origin", "not-an-origin"}, {"extra"}} {
		if _, errOut, code := run(append([]string{"tokens", "history",
			"--json"}, args...)...); code != 2 ||
			!strings.Contains(errOut, "bad_arguments") {
			t.Errorf("%q: exit %d %s", args, code, errOut)
		}
	}
}

// TestDamagedStoreIsRefused: an empty tokens.db is refused by `tokens`
// and by fetch with exit 1 and code store_damaged, naming the file, and
// is left empty rather than re-created (which would reset the budgets).
func TestDamagedStoreIsRefused(t *testing.T) {
	home := t.TempDir()
	t.Setenv("L402_HOME", home)
	db := filepath.Join(home, "tokens.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"tokens", "list", "--json"},
		{"fetch", "--no-pay", "--json", "http://127.0.0.1:1/"},
	} {
		out, errOut, code := run(args...)
		if code != 1 || !strings.Contains(out+errOut, "store_damaged") ||
			!strings.Contains(out+errOut, db) {
			t.Fatalf("%v: exit %d, %s %s", args, code, out, errOut)
		}
	}
	if st, err := os.Stat(db); err != nil || st.Size() != 0 {
		t.Fatalf("the damaged store was changed: %v %v", st, err)
	}
}

// TestTokensPendingAndForget: `tokens pending` lists the pending payments
// with their invoices' expiry; `tokens forget HASH` asks the node and
// forgets one it never made, and keeps one still in flight (exit 3).
func TestTokensPendingAndForget(t *testing.T) {
	seedStore(t)
	buyer, _ := memoryBuyer(t, 10)
	pending := (l402.Preimage{2}).Hash().String()

	out, _, code := run("tokens", "pending", "--json")
	var views []tokens.PendingView
	if code != 0 || json.Unmarshal([]byte(out), &views) != nil ||
		len(views) != 1 || views[0].Origin != "http://b.example:80" ||
		views[0].PaymentHash != pending || views[0].AmountSat != 5 ||
		views[0].InvoiceExpiresAt != nil {
		t.Fatalf("pending --json: %d %s", code, out)
	}
	out, _, code = run("tokens", "pending")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0],
		"ORIGIN\tPAYMENT HASH") || !strings.Contains(lines[1], pending) {
		t.Fatalf("pending: %d %q", code, out)
	}

	for _, args := range [][]string{{"tokens", "forget"},
		{"tokens", "forget", "not-hex"}, {"tokens", "pending", "extra"}} {
		if _, _, code := run(args...); code != 2 {
			t.Errorf("%q: exit %d", args, code)
		}
	}
	_, errOut, code := run("tokens", "forget", "--json",
		(l402.Preimage{9}).Hash().String())
	if code != 1 || !strings.Contains(errOut, `"not_found"`) {
		t.Fatalf("forget an unknown hash: %d %s", code, errOut)
	}

	// The node never made it: forgotten.
	buyer.SetPayHook(nil)
	out, _, code = run("tokens", "forget", "--json", pending)
	var rep map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil ||
		rep["outcome"] != "forgotten" || rep["node_status"] != "not_found" ||
		rep["origin"] != "http://b.example:80" {
		t.Fatalf("forget: %d %s", code, out)
	}
	if out, _, _ = run("tokens", "pending", "--json"); strings.TrimSpace(
		out) != "[]" {
		t.Fatalf("still pending after forget: %s", out)
	}

	// A payment in flight at the node stays pending (exit 3); once it
	// settles, forget stores the token it bought.
	_, srv := memoryBuyer(t, 7)
	node, _ := fetchNode(fetch.Config{}, nil)
	mem := node.(*lightning.MemoryNode)
	mem.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{Hold: true}
	})
	if _, errOut, code := run("fetch", "--payment-timeout", "100ms",
		srv.URL); code != 3 {
		t.Fatalf("held payment: %d %q", code, errOut)
	}
	out, _, _ = run("tokens", "pending", "--json")
	if json.Unmarshal([]byte(out), &views) != nil || len(views) != 1 ||
		views[0].InvoiceExpiresAt == nil || views[0].InvoiceExpired {
		t.Fatalf("pending: %s", out)
	}
	_, errOut, code = run("tokens", "forget", "--json", "--wait", "50ms",
		views[0].PaymentHash)
	if code != 3 || !strings.Contains(errOut, `"payment_pending"`) ||
		!strings.Contains(errOut, "in_flight") {
		t.Fatalf("forget in flight: %d %s", code, errOut)
	}
	hash, _ := l402.ParseHash(views[0].PaymentHash)
	if !mem.Release(hash, lightning.PayOutcome{}) {
		t.Fatal("not held")
	}
	_, errOut, code = run("tokens", "forget", views[0].PaymentHash)
	if code != 0 || !strings.Contains(errOut, "paid") {
		t.Fatalf("forget a settled payment: %d %q", code, errOut)
	}
	if out, _, _ = run("tokens", "show", srv.URL, "--json"); !strings.Contains(
		out, views[0].PaymentHash) {
		t.Fatalf("the settled payment's token: %s", out)
	}
}

// TestTokensNameForms: tokens show and remove take an origin, a URL, or
// lnget's host[:port] (an lnget domain): the one token of that host and
// port, http or https; a domain of two origins is refused naming both.
func TestTokensNameForms(t *testing.T) {
	seedStore(t)
	for _, name := range []string{"https://a.example:443",
		"https://a.example/some/path?q=1", "a.example", "A.EXAMPLE:443"} {
		out, errOut, code := run("tokens", "show", "--json", name)
		var v tokens.View
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil ||
			v.Origin != "https://a.example:443" {
			t.Errorf("show %s: %d %q %q", name, code, out, errOut)
		}
	}
	if _, errOut, code := run("tokens", "show", "c.example:8081"); code != 1 ||
		!strings.Contains(errOut, "c.example:8081") {
		t.Fatalf("no such domain: %d %q", code, errOut)
	}
	if _, errOut, code := run("tokens", "show", "a.example/x"); code != 2 {
		t.Fatalf("bad name: %d %q", code, errOut)
	}

	// A second origin on the same host and port: the domain is
	// ambiguous, its origins are not.
	ctx := context.Background()
	s, err := tokens.Open(ctx, filepath.Join(os.Getenv("L402_HOME"),
		"tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := s.Export(ctx, "https://a.example:443")
	if _, err := s.Import(ctx, "http://a.example:443", h, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, errOut, code := run("tokens", "remove", "a.example:443")
	if code != 2 || !strings.Contains(errOut, "http://a.example:443") ||
		!strings.Contains(errOut, "https://a.example:443") {
		t.Fatalf("ambiguous: %d %q", code, errOut)
	}
	if _, errOut, code = run("tokens", "remove",
		"http://a.example:443"); code != 0 {
		t.Fatalf("remove by origin: %d %q", code, errOut)
	}
	if _, errOut, code = run("tokens", "remove", "a.example"); code != 0 {
		t.Fatalf("remove by domain: %d %q", code, errOut)
	}
	if out, _, _ := run("tokens", "list", "--json"); strings.Contains(out,
		"a.example") {
		t.Fatalf("not removed: %s", out)
	}
}
