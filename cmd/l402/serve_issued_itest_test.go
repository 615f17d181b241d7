//go:build itest

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
	"github.com/l402/l402/internal/store/storetest"
	"github.com/l402/l402/serve"
)

// TestItestDerivedTokenIssuedHere: against bob's real lnd (an invoice
// macaroon), a token serve sold and alice paid verifies after its
// transaction was lost, on its settled invoice (lnd's LookupInvoice and
// its memo), and its transaction is written again, settled (while lnd
// cannot be reached it is undecided, ErrCannotVerify, not refused); tokens
// signed with the database's secret for a random payment hash (lnd does
// not know it) or for a settled invoice bob wrote for something else are
// refused as unknown tokens.
func TestItestDerivedTokenIssuedHere(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bob := dialWith(t, stack.Bob, filepath.Join(invoiceOnlyMacDir(t),
		"invoice.macaroon"))
	alice := dialWith(t, stack.Alice, stack.Alice.AdminMacaroonPath)
	path := filepath.Join(t.TempDir(), "serve.db")
	db, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secret, err := db.RootKeySecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pay := func(invoice string) l402.Preimage {
		p, err := alice.Pay(ctx, lightning.PayRequest{PaymentRequest: invoice,
			MaxFeeSat: 10, Timeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return p.Preimage
	}
	// signed is a token for svc on (pre, tok) under the derived key, as a
	// reader of the database can sign one.
	signed := func(pre l402.Preimage, tok l402.TokenID) http.Header {
		svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
		mac, err := l402.MintDerived(secret,
			l402.NewIdentifier(pre.Hash(), tok), svc)
		if err != nil {
			t.Fatal(err)
		}
		authz, _ := l402.Credential{Macaroon: mac,
			Preimage: pre}.Authorization()
		return http.Header{"Authorization": {authz}}
	}
	target := l402.Target{Service: "svc"}

	seller, err := serve.NewAuthenticator(ctx, bob, db, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	values, err := seller.Challenge(ctx, serve.Offer{Service: "svc",
		PriceSat: 3})
	if err != nil {
		t.Fatal(err)
	}
	chs, err := l402.ParseChallenges(values)
	if err != nil {
		t.Fatal(err)
	}
	sold, _ := l402.Credential{Macaroon: chs[0].Macaroon,
		Preimage: pay(chs[0].Invoice)}.Authorization()
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := storetest.LoseTransactions(ctx, path); err != nil {
		t.Fatal(err)
	}

	// While lnd cannot be reached, the token is undecided (503), not
	// refused: a 402 would have alice pay again.
	gone, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: filepath.Join(invoiceOnlyMacDir(t),
			"invoice.macaroon")})
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	cut, err := serve.NewAuthenticator(ctx, gone, db, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cut.Verify(ctx, http.Header{"Authorization": {sold}},
		target); !errors.Is(err, serve.ErrCannotVerify) ||
		errors.Is(err, l402.ErrUnknownToken) {
		t.Fatalf("the sold token, lnd unreachable: %v, want it undecided",
			err)
	}

	// A new authenticator: nothing cached, as after a restart.
	auth, err := serve.NewAuthenticator(ctx, bob, db, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Verify(ctx, http.Header{"Authorization": {sold}},
		target); err != nil {
		t.Fatalf("the sold token whose transaction was lost: %v", err)
	}
	txs, n, err := db.Transactions(ctx, store.TransactionFilter{Tokens: true,
		Limit: 10})
	if err != nil || n != 1 || txs[0].State != store.StateSettled ||
		txs[0].Service != "svc" || txs[0].PriceSat != 3 {
		t.Fatalf("transactions %+v (%d, %v), want the sold token's, settled",
			txs, n, err)
	}

	var own l402.Preimage
	rand.Read(own[:])
	coffee, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 3, Memo: "coffee", Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Header{
		"a payment hash lnd does not know": signed(own, l402.TokenID{1}),
		"a settled invoice not for a token": signed(pay(coffee.PaymentRequest),
			l402.TokenID{2}),
	} {
		if _, err := auth.Verify(ctx, h, target); !errors.Is(err,
			l402.ErrUnknownToken) {
			t.Errorf("%s: %v, want an unknown token", name, err)
		}
	}
}
