package serve

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
	"github.com/l402/l402/internal/store/storetest"
)

// pruneExpiry is how long the invoices of pruneEnv's tokens can be paid.
const pruneExpiry = time.Minute

// pruneEnv is a seller whose invoices expire after pruneExpiry on a clock
// the test moves (the node's and the authenticator's), a buyer, and the
// seller's SQLite store, at path. Pruning is of the rows of tokens minted
// before root keys were derived: the env mints those.
type pruneEnv struct {
	seller *lightning.MemoryNode
	buyer  *lightning.MemoryNode
	db     *store.Store
	path   string
	auth   *Authenticator
	now    atomic.Int64 // Unix seconds
}

// newPruneEnv builds a pruneEnv with a fresh store.
func newPruneEnv(t *testing.T) *pruneEnv {
	t.Helper()
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	path := filepath.Join(t.TempDir(), "serve.db")
	db, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	e := &pruneEnv{seller: seller, buyer: buyer, db: db, path: path}
	e.now.Store(time.Now().Unix())
	seller.SetClock(e.clock)
	buyer.SetClock(e.clock)
	e.auth = newTestAuthenticator(t, seller, db, pruneExpiry, e.clock)
	return e
}

// clock is the test's time.
func (e *pruneEnv) clock() time.Time { return time.Unix(e.now.Load(), 0) }

// wait moves the clock on.
func (e *pruneEnv) wait(d time.Duration) { e.now.Add(int64(d / time.Second)) }

// mint makes a challenge as l402 did before root keys were derived (a
// random root key, stored) and returns its L402 half.
func (e *pruneEnv) mint(t *testing.T) l402.Challenge {
	t.Helper()
	ctx := context.Background()
	inv, err := e.seller.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 5, Expiry: pruneExpiry})
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
	if err := storetest.PutLegacyRootKey(ctx, e.path, storetest.Legacy{
		ID: id, RootKey: rootKey, Service: "svc", PriceSat: 5,
		CreatedAt:        e.clock(),
		InvoiceExpiresAt: e.clock().Add(pruneExpiry)}); err != nil {
		t.Fatal(err)
	}
	return l402.Challenge{Scheme: "L402", Macaroon: mac,
		Invoice: inv.PaymentRequest, Identifier: id}
}

// pay pays a challenge's invoice and returns the header carrying the token.
func (e *pruneEnv) pay(t *testing.T, ch l402.Challenge) http.Header {
	t.Helper()
	p, err := e.buyer.Pay(context.Background(), lightning.PayRequest{
		PaymentRequest: ch.Invoice})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: ch.Macaroon,
		Preimage: p.Preimage}.Authorization()
	return http.Header{"Authorization": {auth}}
}

// stored reports whether the token's root key is in the store.
func (e *pruneEnv) stored(t *testing.T, ch l402.Challenge) bool {
	t.Helper()
	_, err := e.db.RootKey(context.Background(), ch.Identifier)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestPruneDeletesUnpaidAndSettlesPaid(t *testing.T) {
	e := newPruneEnv(t)
	ctx := context.Background()
	unpaid := e.mint(t)
	late := e.mint(t)
	e.wait(pruneExpiry - time.Second)
	h := e.pay(t, late) // paid a second before its invoice expired
	e.wait(time.Minute)
	unexpired := e.mint(t)

	res, err := Prune(ctx, e.db, e.seller, e.clock(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if res != (PruneResult{Deleted: 1, Settled: 1}) {
		t.Fatalf("prune: %+v, want 1 deleted and 1 settled", res)
	}
	if e.stored(t, unpaid) || !e.stored(t, late) || !e.stored(t, unexpired) {
		t.Fatalf("stored: unpaid %v, paid %v, unexpired %v; want only the "+
			"unpaid one gone", e.stored(t, unpaid), e.stored(t, late),
			e.stored(t, unexpired))
	}

	// A fresh authenticator has nothing cached: the paid token verifies
	// from the database.
	auth := newTestAuthenticator(t, e.seller, e.db, pruneExpiry, e.clock)
	if _, err := auth.Verify(ctx, h, l402.Target{Service: "svc"}); err != nil {
		t.Fatalf("a token paid before expiry, after pruning: %v", err)
	}

	// Settled rows are no longer candidates.
	e.wait(time.Hour)
	res, err = Prune(ctx, e.db, e.seller, e.clock(), 10)
	if err != nil || res != (PruneResult{Deleted: 1}) {
		t.Fatalf("second prune: %+v %v, want only the newer unpaid token "+
			"deleted", res, err)
	}
	total, settled, err := e.db.Stats(ctx)
	if err != nil || total != 1 || settled != 1 {
		t.Fatalf("stats %d %d %v, want the paid token alone", total,
			settled, err)
	}
}

func TestPruneKeepsInvoicesTheNodeHoldsOpen(t *testing.T) {
	e := newPruneEnv(t)
	ch := e.mint(t)

	// Our clock says the invoice expired; the node's does not yet.
	res, err := Prune(context.Background(), e.db, e.seller,
		e.clock().Add(2*pruneExpiry), 10)
	if err != nil || res != (PruneResult{Kept: 1}) || !e.stored(t, ch) {
		t.Fatalf("prune: %+v %v, want the token kept", res, err)
	}
	e.pay(t, ch)
	if res, err = Prune(context.Background(), e.db, e.seller,
		e.clock().Add(2*pruneExpiry), 10); err != nil ||
		res != (PruneResult{Settled: 1}) {
		t.Fatalf("prune after payment: %+v %v", res, err)
	}
}

// TestPruneKeepsInvoicesTheNodeDoesNotKnow: a replica on another lnd (or
// a replaced lnd) cannot tell whether the token was paid, so its row
// stays, and the paid token still verifies.
func TestPruneKeepsInvoicesTheNodeDoesNotKnow(t *testing.T) {
	e := newPruneEnv(t)
	ch := e.mint(t)
	e.pay(t, ch)
	other, _ := e.seller.Network().NewNode("other", "regtest")
	e.wait(2 * pruneExpiry)

	res, err := Prune(context.Background(), e.db, other, e.clock(), 10)
	if err != nil || res != (PruneResult{Kept: 1}) || !e.stored(t, ch) {
		t.Fatalf("prune: %+v %v, want the token kept", res, err)
	}
}

// scriptedNode answers LookupInvoice from a script: a state per payment
// hash, or an error from the failAt-th lookup on.
type scriptedNode struct {
	lightning.Node
	states  map[l402.Hash]lightning.InvoiceState
	failAt  int
	lookups int
}

// LookupInvoice implements lightning.Node from the script.
func (n *scriptedNode) LookupInvoice(_ context.Context, hash l402.Hash) (
	lightning.Invoice, error) {

	n.lookups++
	if n.failAt > 0 && n.lookups >= n.failAt {
		return lightning.Invoice{}, &lightning.CallError{Node: "scripted",
			Call: "LookupInvoice", Err: lightning.ErrPermissionDenied}
	}
	return lightning.Invoice{PaymentHash: hash, State: n.states[hash]}, nil
}

// storeTokens stores, in the SQLite file at path, n legacy tokens whose invoices expired at Unix time 100,
// with payment hashes {1}, {2}, ...
func storeTokens(t *testing.T, path string, n int) []l402.Hash {
	t.Helper()
	var hashes []l402.Hash
	for i := 1; i <= n; i++ {
		h := l402.Hash{byte(i)}
		err := storetest.PutLegacyRootKey(context.Background(), path,
			storetest.Legacy{ID: l402.NewIdentifier(h,
				l402.TokenID{byte(i)}), RootKey: make([]byte, 32),
				Service: "svc", CreatedAt: time.Unix(40, 0),
				InvoiceExpiresAt: time.Unix(100, 0)})
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	return hashes
}

func TestPruneWorksThroughBatches(t *testing.T) {
	e := newPruneEnv(t)
	hashes := storeTokens(t, e.path, 9)
	node := &scriptedNode{states: map[l402.Hash]lightning.InvoiceState{}}
	for i, h := range hashes {
		switch i % 3 {
		case 0:
			node.states[h] = lightning.InvoiceOpen
		case 1:
			node.states[h] = lightning.InvoiceCanceled
		case 2:
			node.states[h] = lightning.InvoiceSettled
		}
	}

	res, err := Prune(context.Background(), e.db, node, time.Unix(200, 0), 2)
	if err != nil {
		t.Fatal(err)
	}
	if res != (PruneResult{Deleted: 3, Settled: 3, Kept: 3}) ||
		node.lookups != 9 {
		t.Fatalf("prune in batches of 2: %+v after %d lookups, want 3 "+
			"of each after 9", res, node.lookups)
	}
	if _, err := Prune(context.Background(), e.db, node, time.Unix(200, 0),
		0); err == nil {
		t.Fatal("batch 0 accepted")
	}
}

func TestPruneStopsOnNodeError(t *testing.T) {
	e := newPruneEnv(t)
	node := &scriptedNode{states: map[l402.Hash]lightning.InvoiceState{},
		failAt: 1} // every invoice canceled, but the node refuses
	for _, h := range storeTokens(t, e.path, 5) {
		node.states[h] = lightning.InvoiceCanceled
	}

	res, err := Prune(context.Background(), e.db, node, time.Unix(200, 0), 10)
	if !errors.Is(err, lightning.ErrPermissionDenied) ||
		res != (PruneResult{}) {
		t.Fatalf("prune with a failing node: %+v %v", res, err)
	}
	if total, _, _ := e.db.Stats(context.Background()); total != 5 {
		t.Fatalf("%d tokens left of 5 after a node error", total)
	}

	// An error midway keeps what was done and stops there.
	node.lookups, node.failAt = 0, 3
	res, err = Prune(context.Background(), e.db, node, time.Unix(200, 0), 10)
	if err == nil || res != (PruneResult{Deleted: 2}) {
		t.Fatalf("prune failing at the third lookup: %+v %v", res, err)
	}
	if total, _, _ := e.db.Stats(context.Background()); total != 3 {
		t.Fatalf("%d tokens left, want 3", total)
	}
}
