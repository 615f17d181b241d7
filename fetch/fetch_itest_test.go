//go:build itest

package fetch

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/regtest"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
)

// dialNode connects to a regtest node with one of its macaroons.
func dialNode(t *testing.T, n *regtest.Node, macaroon string) *lightning.Lnd {
	t.Helper()
	l, err := lightning.NewLnd(lightning.LndConfig{Name: n.Name,
		Host: n.RPCHost, TLSCertPath: n.TLSCertPath, MacaroonPath: macaroon})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestItestFetchPaysThroughLnd: bob sells behind a paywall with real
// invoices, alice's lnd pays once, the token is reused, and a price above
// --max-cost is refused without paying.
func TestItestFetchPaysThroughLnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bob := dialNode(t, stack.Bob, stack.Bob.InvoiceMacaroonPath)
	alice := dialNode(t, stack.Alice, stack.Alice.AdminMacaroonPath)
	wall := testpaywall.New(bob, 21)
	srv := httptest.NewServer(wall)
	defer srv.Close()

	store, err := tokens.Open(ctx, filepath.Join(t.TempDir(), "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	client := &Client{HTTP: srv.Client(), Node: alice, Store: store}
	opts := Options{URL: srv.URL + "/data", MaxCostSat: 100, MaxFeeSat: 10,
		PaymentTimeout: 30 * time.Second}

	var out strings.Builder
	res, err := client.Fetch(ctx, opts, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.L402Paid || res.L402AmountSat != 21 ||
		out.String() != "paid content for GET" {
		t.Fatalf("result %+v body %q", res, out.String())
	}
	tok, err := store.Token(ctx, "http://"+srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := bob.LookupInvoice(ctx, tok.PaymentHash)
	if err != nil || inv.State != lightning.InvoiceSettled ||
		inv.AmountPaidMsat != 21_000 {
		t.Fatalf("bob's invoice %+v %v", inv, err)
	}
	t.Logf("fetch paid bob's real invoice %s through alice's lnd in %d ms",
		tok.PaymentHash, res.DurationMs)

	out.Reset()
	res, err = client.Fetch(ctx, opts, &out)
	if err != nil || res.L402Paid || wall.Challenges() != 1 {
		t.Fatalf("token not reused: %+v %v", res, err)
	}

	// Above the budget: refused before any payment.
	wall.SetPrice(101)
	wall.Forget()
	_, err = client.Fetch(ctx, opts, &out)
	if cli.ExitCode(err) != 2 || refusedLimit(err) != LimitCost ||
		!strings.Contains(err.Error(), "above max cost 100 sat") ||
		!strings.Contains(flagNamed(err).Error(), "above --max-cost") {
		t.Fatalf("price above max-cost: %v", err)
	}
	issued := wall.Issued()
	refusedInv, err := bob.LookupInvoice(ctx, issued[len(issued)-1])
	if err != nil || refusedInv.State != lightning.InvoiceOpen {
		t.Fatalf("the refused invoice is %v (%v), want open",
			refusedInv.State, err)
	}
	spent, _ := store.Spent(ctx, "", time.Time{})
	if spent != 21_000 {
		t.Fatalf("ledger %d msat", spent)
	}
}
