package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
)

// TestFetchCommandSession: `l402 fetch --session` opens a session and
// --json reports it with its balance; a later fetch draws it; `l402
// tokens list` shows it with its balance; fetch.yaml's session: true
// tops it up; `l402 tokens close` prints the refund (--json), which the
// buyer's node received.
func TestFetchCommandSession(t *testing.T) {
	cfg := fetchEnv(t)
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	wall := testpaywall.New(seller, 2)
	wall.SetSchemes("l402+mpp")
	wall.SetSessions(3)
	srv := httptest.NewServer(wall)
	defer srv.Close()
	old := fetchNode
	fetchNode = func(fetch.Config, io.Writer) (lightning.Node, error) {
		return buyer, nil
	}
	defer func() { fetchNode = old }()

	jsonRun := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, code := run(append(args, "--json")...)
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
			t.Fatalf("%v: %d %q %q", args, code, out, errOut)
		}
		return res
	}
	res := jsonRun("fetch", "--config", cfg, "--session", srv.URL+"/a")
	sess, _ := res["session"].(map[string]any)
	if res["payment_scheme"] != "Payment" || res["l402_paid"] != true ||
		res["l402_amount_sat"] != 6.0 || sess["balance_sat"] != 4.0 ||
		sess["opened"] != true || sess["state"] != "open" {
		t.Fatalf("--session: %v", res)
	}
	_, errOut, code := run("fetch", "--config", cfg, srv.URL+"/a")
	if code != 0 || !strings.Contains(errOut, "paid from the Payment "+
		"session") || !strings.Contains(errOut, "balance 2 sat") {
		t.Fatalf("a draw: %d %q", code, errOut)
	}

	out, _, code := run("tokens", "list", "--json")
	var views []map[string]any
	json.Unmarshal([]byte(out), &views)
	if code != 0 || len(views) != 1 || views[0]["state"] != "session" ||
		views[0]["balance_sat"] != 2.0 {
		t.Fatalf("tokens list: %d %s", code, out)
	}
	out, _, _ = run("tokens", "list")
	if !strings.Contains(out, "balance 2 sat") {
		t.Fatalf("tokens list: %s", out)
	}

	// Two more requests: the second one tops up, from fetch.yaml.
	os.WriteFile(cfg, []byte("maxcost: 50\nsession: true\n"), 0o600)
	jsonRun("fetch", "--config", cfg, srv.URL+"/a")
	res = jsonRun("fetch", "--config", cfg, srv.URL+"/a")
	sess, _ = res["session"].(map[string]any)
	if sess["topped_up"] != true || sess["balance_sat"] != 4.0 {
		t.Fatalf("a top-up: %v", res)
	}

	rep := jsonRun("tokens", "close", srv.URL)
	if rep["status"] != "closed" || rep["refund_sat"] != 4.0 ||
		rep["refund_status"] != "succeeded" {
		t.Fatalf("tokens close: %v", rep)
	}
	h, _ := l402.ParseHash(rep["return_payment_hash"].(string))
	if inv, err := buyer.LookupInvoice(context.Background(), h); err != nil ||
		inv.State != lightning.InvoiceSettled || inv.AmountPaidMsat != 4000 {
		t.Fatalf("the buyer's return invoice %+v %v", inv, err)
	}
	if _, errOut, code := run("tokens", "close", srv.URL); code != 1 ||
		!strings.Contains(errOut, "no session") {
		t.Fatalf("closing again: %d %q", code, errOut)
	}
}
