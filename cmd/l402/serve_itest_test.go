//go:build itest

package main

import (
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
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons"
	"github.com/l402/l402/internal/regtest"
)

// invoiceOnlyMacDir bakes an invoice-only macaroon on bob's lnd with
// l402's own baker and returns a directory holding it as
// invoice.macaroon, for serve's authenticator.macdir.
func invoiceOnlyMacDir(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	mac, err := macaroons.Bake(ctx, admin, "invoice-only")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := macaroons.WriteSecretFile(filepath.Join(dir,
		"invoice.macaroon"), mac, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startServe runs `l402 serve` selling backendURL at /weather through
// bob's lnd with an invoice-only macaroon baked for it, and returns its
// address once it listens.
func startServe(t *testing.T, backendURL string, price int64) string {
	t.Helper()
	cfg := stack.Bob.ServeYAML("weather", strings.TrimPrefix(backendURL,
		"http://"), price)
	cfg = strings.Replace(cfg, fmt.Sprintf("macdir: %q",
		stack.Bob.MacaroonDir), fmt.Sprintf("macdir: %q",
		invoiceOnlyMacDir(t)), 1)
	return startServeYAML(t, cfg)
}

// serveIn runs `l402 serve` with L402_HOME=home (so its LNC session file
// stays between runs) and returns its address and a stop function.
func serveIn(t *testing.T, home, cfg string, env ...string) (string,
	func()) {

	t.Helper()
	cfgPath := filepath.Join(home, "serve.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Env = append(append(os.Environ(), "L402_HOME="+home), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	addr, err := regtest.WaitServeListening(stderr, func(line string) {
		t.Logf("serve: %s", line)
	}, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return addr, stop
}

// startServeYAML runs `l402 serve` with the given config and returns its
// address once it listens.
func startServeYAML(t *testing.T, cfg string) string {
	t.Helper()
	if !strings.Contains(cfg, "macdir") {
		t.Fatal("serve config without macdir")
	}
	addr, _ := serveIn(t, t.TempDir(), cfg)
	return addr
}

// TestItestServeAndFetch: `l402 serve` sells a backend with real invoices
// from bob; `l402 fetch` pays through alice once, then reuses the token;
// a price above --max-cost exits 2 without paying.
func TestItestServeAndFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "sunny on regtest")
	}))
	defer backend.Close()
	addr := startServe(t, backend.URL, 30)
	url := "http://" + addr + "/weather"
	home := buyerHome(t)

	fetchJSON := func() (map[string]any, int) {
		cmd := exec.CommandContext(ctx, binary, "fetch", "--json",
			"--max-cost", "40", url)
		cmd.Env = append(os.Environ(), "L402_HOME="+home)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		var res map[string]any
		json.Unmarshal(out, &res)
		return res, code
	}

	res, code := fetchJSON()
	if code != 0 || res["l402_paid"] != true || res["l402_amount_sat"] !=
		30.0 || res["body"] != "sunny on regtest" {
		t.Fatalf("first fetch: %d %v", code, res)
	}
	res, code = fetchJSON()
	if code != 0 || res["l402_paid"] != false {
		t.Fatalf("second fetch: %d %v", code, res)
	}

	// The token bob's invoice settled.
	bob, _ := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath})
	defer bob.Close()
	cmd := exec.Command(binary, "tokens", "list", "--json")
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	out, _ := cmd.Output()
	var views []map[string]any
	json.Unmarshal(out, &views)
	if len(views) != 1 {
		t.Fatalf("tokens: %s", out)
	}
	h, _ := l402.ParseHash(views[0]["payment_hash"].(string))
	inv, err := bob.LookupInvoice(ctx, h)
	if err != nil || inv.State != lightning.InvoiceSettled ||
		inv.AmountPaidMsat != 30_000 {
		t.Fatalf("bob's invoice %+v %v", inv, err)
	}
	t.Logf("l402 fetch bought from l402 serve: invoice %s settled", h)

	// Above --max-cost: exit 2, and the new invoice stays unpaid.
	expensive := startServe(t, backend.URL, 100)
	cmd = exec.CommandContext(ctx, binary, "fetch", "--max-cost", "40",
		"http://"+expensive+"/weather")
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("over --max-cost: %v", err)
	}
}
