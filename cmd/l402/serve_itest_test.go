//go:build itest

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// startServe runs `l402 serve` selling backendURL through bob's lnd with
// his invoice macaroon, and returns its address once it listens.
func startServe(t *testing.T, backendURL string, price int) string {
	t.Helper()
	home := t.TempDir()
	cfg := fmt.Sprintf(`listenaddr: "127.0.0.1:0"
insecure: true
authenticator:
  network: regtest
  lndhost: %q
  tlspath: %q
  macdir: %q
services:
  - name: weather
    hostregexp: ".*"
    pathregexp: "^/weather"
    address: %q
    protocol: http
    price: %d
`, stack.Bob.RPCHost, stack.Bob.TLSCertPath, stack.Bob.MacaroonDir,
		strings.TrimPrefix(backendURL, "http://"), price)
	cfgPath := filepath.Join(home, "serve.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)

	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})

	addrRe := regexp.MustCompile(`listening on http://(\S+),`)
	found := make(chan string, 1)
	go func() {
		defer close(found)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Logf("serve: %s", sc.Text())
			if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			t.Fatal("l402 serve exited before listening")
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("l402 serve did not start")
	}
	return ""
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
