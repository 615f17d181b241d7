//go:build itest

package main

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
	"github.com/l402/l402/internal/store/storetest"
	"github.com/l402/l402/serve"
)

// TestItestPruneAsksLnd: serve's pruner, against bob's real lnd. Two
// tokens minted as l402 did before root keys were derived (a random key
// stored in root_keys, which is what the pruner prunes) get invoices
// that expire in 2 seconds; alice pays one. Once lnd has cancelled the
// other, Prune deletes the unpaid token and marks the paid one settled,
// and the paid token still verifies, under its stored key.
func TestItestPruneAsksLnd(t *testing.T) {
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

	var paid l402.Credential
	for i := range 2 {
		inv, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{
			AmountSat: 3, Memo: "L402 token for svc",
			Expiry: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var tok l402.TokenID
		rootKey := make([]byte, l402.RootKeySize)
		rand.Read(tok[:])
		rand.Read(rootKey)
		id := l402.NewIdentifier(inv.PaymentHash, tok)
		svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
		mac, err := l402.Mint(rootKey, id, svc)
		if err != nil {
			t.Fatal(err)
		}
		if err := storetest.PutLegacyRootKey(ctx, path, storetest.Legacy{
			ID: id, RootKey: rootKey, Service: "svc", PriceSat: 3,
			CreatedAt:        time.Now(),
			InvoiceExpiresAt: time.Now().Add(2 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			p, err := alice.Pay(ctx, lightning.PayRequest{
				PaymentRequest: inv.PaymentRequest, MaxFeeSat: 10,
				Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			paid = l402.Credential{Macaroon: mac, Preimage: p.Preimage}
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
	// An authenticator reads which tokens have a stored key at start.
	auth, err := serve.NewAuthenticator(ctx, bob, db, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	authz, _ := paid.Authorization()
	if _, err := auth.Verify(ctx, map[string][]string{
		"Authorization": {authz}}, l402.Target{Service: "svc"}); err != nil {
		t.Fatalf("the paid token after pruning: %v", err)
	}
}
