//go:build itest

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons"
)

// bobInvoices returns an lnd client of bob that reads invoices, closed
// when the test ends.
func bobInvoices(t *testing.T) *lightning.Lnd {
	t.Helper()
	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bob.Close() })
	return bob
}

// settledInvoices counts bob's settled invoices.
func settledInvoices(t *testing.T, ctx context.Context,
	bob *lightning.Lnd) int {

	t.Helper()
	n := 0
	var offset uint64
	for {
		invs, next, err := bob.ListInvoices(ctx, offset, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			if inv.State == lightning.InvoiceSettled {
				n++
			}
		}
		if len(invs) == 0 || next == offset {
			return n
		}
		offset = next
	}
}

// buyerRun runs l402 with L402_HOME=home and returns its stdout, stderr
// and exit code.
func buyerRun(ctx context.Context, home string, args ...string) (string,
	string, int) {

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return stdout.String(), stderr.String(), code
}

// buyerJSON runs l402 with --json and decodes its stdout, failing the
// test on an exit code other than 0.
func buyerJSON(t *testing.T, ctx context.Context, home string,
	v any, args ...string) {

	t.Helper()
	out, errOut, code := buyerRun(ctx, home, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("l402 %v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("l402 %v: %v: %s", args, err, out)
	}
}

// mppServeYAML is bob's serve.yaml selling backend at /weather with the
// authscheme given (and enablempp for the Payment scheme), over an
// invoice-only macaroon, with extra authenticator keys.
func mppServeYAML(t *testing.T, backend string, price int64, scheme,
	authKeys, macDir string) string {

	t.Helper()
	cfg := stack.Bob.ServeYAML("weather", strings.TrimPrefix(backend,
		"http://"), price)
	cfg = strings.Replace(cfg, fmt.Sprintf("macdir: %q",
		stack.Bob.MacaroonDir), fmt.Sprintf("macdir: %q", macDir), 1)
	if scheme != "l402" {
		authKeys = "  enablempp: true\n" + authKeys
	}
	cfg = strings.Replace(cfg, "authenticator:\n", "authenticator:\n"+
		authKeys, 1)
	return cfg + fmt.Sprintf("    authscheme: %s\n", scheme)
}

// mppFetchResult is what the itests read of `l402 fetch --json`.
type mppFetchResult struct {
	Body          string         `json:"body"`
	L402Paid      bool           `json:"l402_paid"`
	L402AmountSat int64          `json:"l402_amount_sat"`
	PaymentScheme string         `json:"payment_scheme"`
	Receipt       map[string]any `json:"payment_receipt"`
	Session       *struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		BalanceSat int64  `json:"balance_sat"`
		DepositSat int64  `json:"deposit_sat"`
		Opened     bool   `json:"opened"`
		ToppedUp   bool   `json:"topped_up"`
	} `json:"session"`
}

// TestItestFetchBuysFromServeEachScheme: `l402 fetch` buys from `l402
// serve` over real regtest lnd with each authscheme (l402, mpp, l402+mpp)
// and each --prefer-scheme: the scheme paid is the one the service offers
// (the preferred one when it offers both), and each fetch pays exactly
// one of bob's invoices, once.
func TestItestFetchBuysFromServeEachScheme(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "weather for every scheme")
	}))
	defer backend.Close()
	bob := bobInvoices(t)
	macDir := invoiceOnlyMacDir(t)

	const price = 21
	for _, scheme := range []string{"l402", "mpp", "l402+mpp"} {
		addr := startServeYAML(t, mppServeYAML(t, backend.URL, price, scheme,
			"", macDir))
		for _, prefer := range []string{"l402", "payment"} {
			want := map[string]string{"l402": "L402", "mpp": "Payment",
				"l402+mpp": map[string]string{"l402": "L402",
					"payment": "Payment"}[prefer]}[scheme]
			home := buyerHome(t)
			before := settledInvoices(t, ctx, bob)
			var res mppFetchResult
			buyerJSON(t, ctx, home, &res, "fetch", "--prefer-scheme", prefer,
				"http://"+addr+"/weather")
			if !res.L402Paid || res.PaymentScheme != want ||
				res.L402AmountSat != price ||
				res.Body != "weather for every scheme" {
				t.Fatalf("%s, --prefer-scheme %s: %+v", scheme, prefer, res)
			}
			if want == "Payment" && res.Receipt["status"] != "success" {
				t.Fatalf("%s, --prefer-scheme %s: receipt %v", scheme,
					prefer, res.Receipt)
			}
			if n := settledInvoices(t, ctx, bob) - before; n != 1 {
				t.Fatalf("%s, --prefer-scheme %s: %d of bob's invoices "+
					"settled, want 1", scheme, prefer, n)
			}
			var hist []map[string]any
			buyerJSON(t, ctx, home, &hist, "tokens", "history")
			if len(hist) != 1 || hist[0]["scheme"] != strings.ToLower(want) {
				t.Fatalf("%s, --prefer-scheme %s: history %v", scheme,
					prefer, hist)
			}
			h, _ := l402.ParseHash(hist[0]["payment_hash"].(string))
			if inv, err := bob.LookupInvoice(ctx, h); err != nil ||
				inv.State != lightning.InvoiceSettled ||
				inv.AmountPaidMsat != price*1000 {
				t.Fatalf("bob's invoice %+v %v", inv, err)
			}
			t.Logf("authscheme %s, --prefer-scheme %s: paid %s, invoice %s "+
				"settled", scheme, prefer, want, h)
		}
	}
}

// sessionMacDirForServe bakes bob's macaroons for serve with sessions:
// invoice-only as invoice.macaroon and seller-sessions, which pays the
// refunds.
func sessionMacDirForServe(t *testing.T, ctx context.Context) string {
	t.Helper()
	admin, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	dir := t.TempDir()
	for role, name := range map[string]string{
		"invoice-only":    "invoice.macaroon",
		"seller-sessions": "seller-sessions.macaroon"} {
		mac, err := macaroons.Bake(ctx, admin, role)
		if err != nil {
			t.Fatal(err)
		}
		if err := macaroons.WriteSecretFile(filepath.Join(dir, name), mac,
			false); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestItestFetchSessionFromServe: `l402 fetch --session` opens a session
// at `l402 serve` over real regtest lnd (alice pays the deposit), later
// fetches draw it down, a short balance is topped up once, and `l402
// tokens close` closes it: bob refunds the rest to the return invoice
// alice's node made, which alice's node shows settled for the refund.
func TestItestFetchSessionFromServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var served atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		served.Add(1)
		io.WriteString(w, "metered weather")
	}))
	defer backend.Close()
	bob := bobInvoices(t)
	const price, multiplier = 1000, 3
	addr := startServeYAML(t, mppServeYAML(t, backend.URL, price, "mpp",
		fmt.Sprintf("  enablesessions: true\n  sessiondepositmultiplier: "+
			"%d\n", multiplier), sessionMacDirForServe(t, ctx)))
	url := "http://" + addr + "/weather"
	a, err := lightning.NewLnd(lightning.LndConfig{Name: "alice",
		Host: stack.Alice.RPCHost, TLSCertPath: stack.Alice.TLSCertPath,
		MacaroonPath: stack.Alice.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	// alice buys with the least privilege a session needs: a
	// buyer-sessions macaroon (pay-only and AddInvoice).
	home := t.TempDir()
	mac, err := macaroons.Bake(ctx, a, "buyer-sessions")
	if err != nil {
		t.Fatal(err)
	}
	macPath := filepath.Join(home, "buyer-sessions.macaroon")
	if err := macaroons.WriteSecretFile(macPath, mac, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "fetch.yaml"), []byte(
		strings.Replace(stack.Alice.FetchYAML(""), stack.Alice.AdminMacaroonPath,
			macPath, 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	// Bob refunds through the one channel, alice's: he can send only
	// above his channel reserve (1% of 1,000,000 sat), so alice pays him
	// that first.
	prime, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 20_000, Memo: "liquidity for refunds"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Pay(ctx, lightning.PayRequest{
		PaymentRequest: prime.PaymentRequest, MaxFeeSat: 10,
		Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	before := settledInvoices(t, ctx, bob)
	caps := []string{"--max-cost", "5000", "--max-total", "20000"}

	var res mppFetchResult
	buyerJSON(t, ctx, home, &res, append([]string{"fetch", "--session", url},
		caps...)...)
	if !res.L402Paid || res.PaymentScheme != "Payment" ||
		res.L402AmountSat != price*multiplier || res.Session == nil ||
		!res.Session.Opened || res.Session.BalanceSat != 2000 ||
		res.Body != "metered weather" {
		t.Fatalf("open: %+v %+v", res, res.Session)
	}
	id := res.Session.ID
	for i, want := range []int64{1000, 0} {
		var r mppFetchResult
		buyerJSON(t, ctx, home, &r, append([]string{"fetch", url}, caps...)...)
		if r.L402Paid || r.Session == nil || r.Session.BalanceSat != want ||
			r.PaymentScheme != "Payment" {
			t.Fatalf("draw %d: %+v %+v", i, r, r.Session)
		}
	}
	var views []map[string]any
	buyerJSON(t, ctx, home, &views, "tokens", "list")
	if len(views) != 1 || views[0]["state"] != "session" ||
		views[0]["balance_sat"] != 0.0 || views[0]["payment_hash"] != id {
		t.Fatalf("tokens list: %v", views)
	}

	// Spent: one top-up, within the caps, then the request.
	buyerJSON(t, ctx, home, &res, append([]string{"fetch", "--session", url},
		caps...)...)
	if !res.L402Paid || res.L402AmountSat != price*multiplier ||
		res.Session == nil || !res.Session.ToppedUp ||
		res.Session.BalanceSat != 2000 || res.Session.DepositSat != 6000 {
		t.Fatalf("top-up: %+v %+v", res, res.Session)
	}
	if n := settledInvoices(t, ctx, bob) - before; n != 2 || served.Load() != 4 {
		t.Fatalf("%d of bob's invoices settled (want 2: the deposit and "+
			"the top-up), %d requests served (want 4)", n, served.Load())
	}

	var rep struct {
		Status            string `json:"status"`
		RefundSat         int64  `json:"refund_sat"`
		RefundStatus      string `json:"refund_status"`
		ReturnPaymentHash string `json:"return_payment_hash"`
	}
	buyerJSON(t, ctx, home, &rep, "tokens", "close", url)
	if rep.Status != "closed" || rep.RefundSat != 2000 ||
		rep.RefundStatus != "succeeded" {
		t.Fatalf("tokens close: %+v", rep)
	}
	h, err := l402.ParseHash(rep.ReturnPaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := a.LookupInvoice(ctx, h)
	if err != nil || inv.State != lightning.InvoiceSettled ||
		inv.AmountPaidMsat != 2000*1000 {
		t.Fatalf("alice's return invoice %+v %v", inv, err)
	}
	var hist []map[string]any
	buyerJSON(t, ctx, home, &hist, "tokens", "history")
	kinds := map[any]float64{}
	for _, e := range hist {
		kinds[e["kind"]] += e["amount_sat"].(float64)
	}
	if len(hist) != 3 || kinds["refund"] != 2000 ||
		kinds["purchase"] != 3000 || kinds["top-up"] != 3000 {
		t.Fatalf("history %v", hist)
	}
	buyerJSON(t, ctx, home, &views, "tokens", "list")
	if len(views) != 0 {
		t.Fatalf("tokens list after the close: %v", views)
	}
	t.Logf("session %s: opened, drawn, topped up, closed; alice's return "+
		"invoice %s settled for 2000 sat", id, h)
}
