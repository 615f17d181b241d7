//go:build itest

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
)

// buyerHome writes a fetch.yaml paying through alice into a new L402_HOME.
func buyerHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	cfg := stack.Alice.FetchYAML("maxcost: 100\n")
	if err := os.WriteFile(filepath.Join(home, "fetch.yaml"), []byte(cfg),
		0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestItestFetchTwoProcessesPayOnce starts two `l402 fetch` processes
// together against one origin: both get the content, one payment is made.
func TestItestFetchTwoProcessesPayOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	wall := testpaywall.New(bob, 42)
	srv := httptest.NewServer(wall)
	defer srv.Close()
	home := buyerHome(t)

	type outcome struct {
		stdout, stderr bytes.Buffer
		err            error
	}
	results := make([]*outcome, 2)
	var wg sync.WaitGroup
	for i := range results {
		results[i] = &outcome{}
		wg.Add(1)
		go func(o *outcome) {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, binary, "fetch", "--json",
				srv.URL+"/paid")
			cmd.Env = append(os.Environ(), "L402_HOME="+home)
			cmd.Stdout, cmd.Stderr = &o.stdout, &o.stderr
			o.err = cmd.Run()
		}(results[i])
	}
	wg.Wait()

	paid := 0
	for i, o := range results {
		if o.err != nil {
			t.Fatalf("process %d: %v\n%s", i, o.err, o.stderr.String())
		}
		var res struct {
			Body     string `json:"body"`
			L402Paid bool   `json:"l402_paid"`
		}
		if err := json.Unmarshal(o.stdout.Bytes(), &res); err != nil {
			t.Fatalf("process %d printed %q", i, o.stdout.String())
		}
		if res.Body != "paid content for GET" {
			t.Fatalf("process %d body %q", i, res.Body)
		}
		if res.L402Paid {
			paid++
		}
	}
	if paid != 1 {
		t.Fatalf("%d processes paid, want exactly 1", paid)
	}

	// Bob was paid once, whatever number of invoices he issued.
	settled := 0
	for _, h := range wall.Issued() {
		inv, err := bob.LookupInvoice(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if inv.State == lightning.InvoiceSettled {
			settled++
		}
	}
	store, err := tokens.Open(ctx, filepath.Join(home, "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stats, _ := store.Stats(ctx)
	if settled != 1 || len(stats) != 1 || stats[0].Payments != 1 {
		t.Fatalf("settled %d invoices, ledger %+v", settled, stats)
	}
	t.Logf("two l402 fetch processes: %d invoices issued, 1 paid",
		len(wall.Issued()))
}

// TestItestFetchCommandPaysCharges runs `l402 fetch` against a seller
// offering L402 and a Payment charge over real regtest lnd: the default
// buys L402, --prefer-scheme payment a charge; then two processes started
// together buy a charge each (a charge is one request): two invoices
// paid, each once, each credential sent once.
func TestItestFetchCommandPaysCharges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	wall := testpaywall.New(bob, 13)
	wall.SetSchemes("l402+mpp")
	srv := httptest.NewServer(wall)
	defer srv.Close()
	home := buyerHome(t)

	type result struct {
		Body          string         `json:"body"`
		L402Paid      bool           `json:"l402_paid"`
		PaymentScheme string         `json:"payment_scheme"`
		Receipt       map[string]any `json:"payment_receipt"`
	}
	fetchJSON := func(args ...string) (result, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, binary, append([]string{"fetch",
			"--json"}, args...)...)
		cmd.Env = append(os.Environ(), "L402_HOME="+home)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		var res result
		if err := cmd.Run(); err != nil {
			return res, fmt.Errorf("%v: %s", err, stderr.String())
		}
		err := json.Unmarshal(stdout.Bytes(), &res)
		return res, err
	}

	res, err := fetchJSON("--prefer-scheme", "payment", srv.URL+"/a")
	if err != nil || !res.L402Paid || res.PaymentScheme != "Payment" ||
		res.Receipt["status"] != "success" ||
		res.Body != "paid content for GET" {
		t.Fatalf("--prefer-scheme payment: %+v %v", res, err)
	}
	res, err = fetchJSON(srv.URL + "/a")
	if err != nil || !res.L402Paid || res.PaymentScheme != "L402" ||
		res.Receipt != nil {
		t.Fatalf("default: %+v %v", res, err)
	}

	// Two processes, payment preferred: a token is held now, so a fresh
	// home without it.
	home = buyerHome(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := fetchJSON("--prefer-scheme", "payment", srv.URL+"/b")
			if err == nil && (!res.L402Paid || res.PaymentScheme != "Payment") {
				err = fmt.Errorf("result %+v", res)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	creds, _ := wall.Credentials()
	seen := map[string]bool{}
	for _, c := range creds {
		if seen[c] {
			t.Fatal("a charge credential was sent twice")
		}
		seen[c] = true
	}
	settled := 0
	for _, h := range wall.Issued() {
		inv, err := bob.LookupInvoice(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if inv.State == lightning.InvoiceSettled {
			settled++
		}
	}
	if len(creds) != 3 || wall.ChargesServed() != 3 || settled != 4 {
		t.Fatalf("%d credentials, %d charges served, %d invoices paid; "+
			"want 3, 3 and 4 (three charges and a token)", len(creds),
			wall.ChargesServed(), settled)
	}
}
