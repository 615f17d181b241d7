//go:build itest

package fetch

import (
	"context"
	"errors"
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

// TestItestFetchForgetsAnInvoiceLndRefuses: a seller whose invoice alice's
// lnd will not pay leaves nothing pending and nothing counted: an invoice
// of alice's own node (lnd refuses self-payments before it starts them)
// and one of a node no route reaches (lnd starts it, and it fails at
// once). Then bob's real invoice is paid within a cap the refused ones
// would have filled.
func TestItestFetchForgetsAnInvoiceLndRefuses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	alice := dialNode(t, stack.Alice, stack.Alice.AdminMacaroonPath)
	bob := dialNode(t, stack.Bob, stack.Bob.InvoiceMacaroonPath)
	stranger, err := lightning.NewMemoryNetwork().NewNode("stranger",
		"regtest")
	if err != nil {
		t.Fatal(err)
	}

	store, err := tokens.Open(ctx, filepath.Join(t.TempDir(), "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	opts := func(url string) Options {
		return Options{URL: url + "/data", MaxCostSat: 100, MaxFeeSat: 10,
			MaxTotalSat: 40, PaymentTimeout: 30 * time.Second}
	}

	for _, tc := range []struct {
		name       string
		seller     lightning.Node
		notStarted bool
	}{
		{"alice's own invoice", alice, true},
		{"an unreachable node's invoice", stranger, false},
	} {
		wall := testpaywall.New(tc.seller, 21)
		srv := httptest.NewServer(wall)
		client := &Client{HTTP: srv.Client(), Node: alice, Store: store}
		_, err := client.Fetch(ctx, opts(srv.URL), &strings.Builder{})
		srv.Close()
		if cli.ExitCode(err) != cli.ExitPayment ||
			errors.Is(err, lightning.ErrPaymentNotStarted) != tc.notStarted {
			t.Fatalf("%s: %v (not started: want %v)", tc.name, err,
				tc.notStarted)
		}
		pend, _ := store.PendingFor(ctx, "")
		spent, _ := store.Spent(ctx, "", time.Time{})
		if len(pend) != 0 || spent != 0 {
			t.Fatalf("%s: pending %+v, spent %d msat; want the budget "+
				"untouched", tc.name, pend, spent)
		}
		t.Logf("%s: refused, nothing pending: %v", tc.name, err)
	}

	wall := testpaywall.New(bob, 21)
	srv := httptest.NewServer(wall)
	defer srv.Close()
	client := &Client{HTTP: srv.Client(), Node: alice, Store: store}
	res, err := client.Fetch(ctx, opts(srv.URL), &strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("bob's invoice within --max-total 40: %+v %v", res, err)
	}
}

// TestItestFetchPaysChargesThroughLnd: bob sells behind the test paywall
// with each of serve's scheme settings, and alice's real lnd pays: a
// Payment charge when it is the one offered or the one preferred, L402
// otherwise. A charge is one request: bob's invoice is settled, the
// receipt names its payment hash, the ledger says payment and no token is
// stored. Then a charge recorded and paid by a run that died is finished
// by the next one, which sends its credential once and pays nothing.
func TestItestFetchPaysChargesThroughLnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bob := dialNode(t, stack.Bob, stack.Bob.InvoiceMacaroonPath)
	alice := dialNode(t, stack.Alice, stack.Alice.AdminMacaroonPath)

	for _, tc := range []struct {
		schemes string
		prefer  Scheme
		want    Scheme
	}{
		{"mpp", "", SchemePayment},
		{"l402+mpp", "", SchemeL402},
		{"l402+mpp", SchemePayment, SchemePayment},
		{"l402", SchemePayment, SchemeL402},
	} {
		wall := testpaywall.New(bob, 21)
		wall.SetSchemes(tc.schemes)
		srv := httptest.NewServer(wall)
		store, err := tokens.Open(ctx, filepath.Join(t.TempDir(),
			"tokens.db"))
		if err != nil {
			t.Fatal(err)
		}
		client := &Client{HTTP: srv.Client(), Node: alice, Store: store}
		opts := Options{URL: srv.URL + "/data", MaxCostSat: 100,
			MaxFeeSat: 10, PaymentTimeout: 30 * time.Second,
			PreferScheme: tc.prefer}

		var out strings.Builder
		res, err := client.Fetch(ctx, opts, &out)
		if err != nil {
			t.Fatalf("%s, prefer %q: %v", tc.schemes, tc.prefer, err)
		}
		paid, _ := store.Payments(ctx, "", 0)
		if !res.L402Paid || res.PaymentScheme != tc.want.Name() ||
			out.String() != "paid content for GET" || len(paid) != 1 ||
			paid[0].Scheme != string(tc.want) {
			t.Fatalf("%s, prefer %q: %+v %q, ledger %+v", tc.schemes,
				tc.prefer, res, out.String(), paid)
		}
		inv, err := bob.LookupInvoice(ctx, paid[0].PaymentHash)
		if err != nil || inv.State != lightning.InvoiceSettled ||
			inv.AmountPaidMsat != 21_000 {
			t.Fatalf("bob's invoice %+v %v", inv, err)
		}
		_, terr := store.Token(ctx, "http://"+srv.Listener.Addr().String())
		if tc.want == SchemePayment {
			if res.PaymentReceipt == nil || res.PaymentReceipt.Reference !=
				paid[0].PaymentHash.String() || terr == nil ||
				wall.ChargesServed() != 1 {
				t.Fatalf("charge: receipt %+v, token %v",
					res.PaymentReceipt, terr)
			}
		} else if terr != nil || wall.ChargesServed() != 0 {
			t.Fatalf("L402: token %v", terr)
		}
		t.Logf("%s, prefer %q: paid bob's invoice %s with %s in %d ms",
			tc.schemes, tc.prefer, paid[0].PaymentHash, res.PaymentScheme,
			res.DurationMs)
		store.Close()
		srv.Close()
	}

	// A run that recorded a charge and had alice pay it, then died.
	wall := testpaywall.New(bob, 21)
	wall.SetSchemes("mpp")
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
	resp, err := srv.Client().Get(opts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o, err := vetPaymentChallenge(resp.Header, "regtest", 100,
		DefaultMaxInvoiceExpiry, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + srv.Listener.Addr().String()
	if err := client.recordPending(ctx, opts, origin, o); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Pay(ctx, lightning.PayRequest{
		PaymentRequest: o.bolt11(), MaxFeeSat: 10,
		Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := client.Fetch(ctx, opts, &out)
	if err != nil || res.L402Paid || out.String() != "paid content for GET" ||
		res.PaymentReceipt == nil || wall.Challenges() != 1 {
		t.Fatalf("resumed charge: %+v %q %v (%d challenges)", res,
			out.String(), err, wall.Challenges())
	}
	creds, _ := wall.Credentials()
	spent, _ := store.Spent(ctx, "", time.Time{})
	if len(creds) != 1 || spent < 21_000 || spent > 31_000 {
		t.Fatalf("credentials %d, spent %d msat", len(creds), spent)
	}
}
