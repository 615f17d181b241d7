//go:build itest

package main

import (
	"bytes"
	"context"
	"encoding/json"
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
