//go:build itest

package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
	"github.com/l402/l402/serve"
)

// TestItestPruneAsksLnd: serve's pruner, against bob's real lnd. Two
// tokens get invoices that expire in 2 seconds; alice pays one. Once lnd
// has cancelled the other, Prune deletes the unpaid token and marks the
// paid one settled, and the paid token still verifies.
func TestItestPruneAsksLnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: stack.Bob.RPCHost, TLSCertPath: stack.Bob.TLSCertPath,
		MacaroonPath: filepath.Join(invoiceOnlyMacDir(t),
			"invoice.macaroon")})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	alice, err := lightning.NewLnd(lightning.LndConfig{Name: "alice",
		Host: stack.Alice.RPCHost, TLSCertPath: stack.Alice.TLSCertPath,
		MacaroonPath: stack.Alice.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	db, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "serve.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	auth, err := serve.NewAuthenticator(ctx, bob, db, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}

	var paid l402.Credential
	for i := range 2 {
		values, err := auth.Challenge(ctx, serve.Offer{Service: "svc",
			PriceSat: 3})
		if err != nil {
			t.Fatal(err)
		}
		chs, err := l402.ParseChallenges(values)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			p, err := alice.Pay(ctx, lightning.PayRequest{
				PaymentRequest: chs[1].Invoice, MaxFeeSat: 10,
				Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			paid = l402.Credential{Macaroon: chs[1].Macaroon,
				Preimage: p.Preimage}
		}
	}

	var total serve.PruneResult
	deadline := time.Now().Add(30 * time.Second)
	for total.Deleted == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		res, err := serve.Prune(ctx, db, bob, time.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		total.Deleted += res.Deleted
		total.Settled += res.Settled
	}
	if total.Deleted != 1 || total.Settled != 1 {
		t.Fatalf("pruned %+v", total)
	}
	rows, settled, _ := db.Stats(ctx)
	if rows != 1 || settled != 1 {
		t.Fatalf("rows %d settled %d", rows, settled)
	}
	authz, _ := paid.Authorization()
	if _, err := auth.Verify(ctx, map[string][]string{
		"Authorization": {authz}}, l402.Target{Service: "svc"}); err != nil {
		t.Fatalf("the paid token after pruning: %v", err)
	}
}
