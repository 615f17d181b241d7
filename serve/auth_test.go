package serve

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// countingStore counts root-key reads.
type countingStore struct {
	*store.Store
	reads atomic.Int32
}

// RootKey counts and reads.
func (c *countingStore) RootKey(ctx context.Context, id l402.Identifier) (
	[]byte, error) {

	c.reads.Add(1)
	return c.Store.RootKey(ctx, id)
}

// newTestAuthenticator is NewAuthenticator, failing the test on an
// error.
func newTestAuthenticator(t testing.TB, node lightning.Node,
	st RootKeyStore, expiry time.Duration,
	now func() time.Time) *Authenticator {

	t.Helper()
	a, err := NewAuthenticator(context.Background(), node, st, expiry, now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// authEnv is a seller's authenticator and a buyer that pays its
// challenges.
type authEnv struct {
	auth  *Authenticator
	buyer *lightning.MemoryNode
	store *countingStore
	now   atomic.Int64
}

// newAuthEnv builds an authEnv with a fresh SQLite store.
func newAuthEnv(t testing.TB) *authEnv {
	t.Helper()
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	st, err := store.OpenSQLite(context.Background(),
		filepath.Join(t.TempDir(), "serve.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &authEnv{buyer: buyer, store: &countingStore{Store: st}}
	e.now.Store(time.Now().Unix())
	e.auth = newTestAuthenticator(t, seller, e.store, 0, func() time.Time {
		return time.Unix(e.now.Load(), 0)
	})
	return e
}

// buy answers a challenge for the offer by paying it, and returns the
// request header carrying the token.
func (e *authEnv) buy(t testing.TB, o Offer) http.Header {
	t.Helper()
	ctx := context.Background()
	values, err := e.auth.Challenge(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	chs, err := l402.ParseChallenges(values)
	if err != nil || len(chs) != 2 || chs[0].Scheme != "LSAT" {
		t.Fatalf("challenges %v %v", values, err)
	}
	inv, err := lightning.DecodeInvoice(chs[1].Invoice, "regtest")
	if err != nil || inv.AmountMsat != o.PriceSat*1000 ||
		inv.PaymentHash != chs[1].Identifier.PaymentHash {
		t.Fatalf("invoice %+v %v", inv, err)
	}
	p, err := e.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: chs[1].Invoice})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: chs[1].Macaroon,
		Preimage: p.Preimage}.Authorization()
	return http.Header{"Authorization": {auth}}
}

func TestAuthenticatorSellsAndVerifies(t *testing.T) {
	e := newAuthEnv(t)
	ctx := context.Background()
	h := e.buy(t, Offer{Service: "svc", PriceSat: 5})

	id, err := e.auth.Verify(ctx, h, l402.Target{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Verify(ctx, h, l402.Target{Service: "svc"}); err != nil {
		t.Fatal(err)
	}
	if n := e.store.reads.Load(); n != 0 {
		t.Fatalf("%d root key reads for a derived key, want 0", n)
	}
	if id.Version != 0 {
		t.Fatalf("identifier %+v", id)
	}

	if _, err := e.auth.Verify(ctx, h, l402.Target{Service: "other"}); !errors.Is(err,
		l402.ErrServiceNotAllowed) {
		t.Fatalf("another service: %v", err)
	}
	if _, err := e.auth.Verify(ctx, http.Header{}, l402.Target{Service: "svc"}); !errors.Is(err, l402.ErrNoCredential) {
		t.Fatalf("no credential: %v", err)
	}

	// A token minted elsewhere, under a key this server neither derives
	// nor stored: refused as badly signed, without a stored-key read.
	pre := l402.Preimage{1}
	svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
	mac, _ := l402.Mint(make([]byte, 32), l402.NewIdentifier(pre.Hash(),
		l402.TokenID{1}), svc)
	auth, _ := l402.Credential{Macaroon: mac, Preimage: pre}.Authorization()
	_, err = e.auth.Verify(ctx, http.Header{"Authorization": {auth}},
		l402.Target{Service: "svc"})
	if !errors.Is(err, l402.ErrBadSignature) ||
		rejectReason(err) != "bad_signature" {
		t.Fatalf("foreign token: %v", err)
	}
	if n := e.store.reads.Load(); n != 0 {
		t.Fatalf("%d root key reads for a foreign token, want 0", n)
	}
}

// states counts st's transactions by state.
func states(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	txs, _, err := st.Transactions(context.Background(),
		store.TransactionFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, tx := range txs {
		n[tx.State]++
	}
	return n
}

func TestAuthenticatorCaveats(t *testing.T) {
	e := newAuthEnv(t)
	ctx := context.Background()
	h := e.buy(t, Offer{Service: "svc", PriceSat: 5,
		Capabilities: []string{"read"}, Timeout: time.Hour})

	if _, err := e.auth.Verify(ctx, h, l402.Target{Service: "svc", Capabilities: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Verify(ctx, h, l402.Target{Service: "svc", Capabilities: []string{"write"}}); !errors.Is(
		err, l402.ErrCapabilityNotAllowed) {
		t.Fatalf("missing capability: %v", err)
	}
	e.now.Add(int64(2 * time.Hour / time.Second))
	if _, err := e.auth.Verify(ctx, h, l402.Target{Service: "svc", Capabilities: []string{"read"}}); !errors.Is(
		err, l402.ErrTokenExpired) {
		t.Fatalf("after the timeout: %v", err)
	}
	if _, err := e.auth.Challenge(ctx, Offer{Service: "svc"}); err == nil {
		t.Fatal("a challenge without a price")
	}
}

func TestKeyCacheEvicts(t *testing.T) {
	c := newKeyCache(2)
	ids := []l402.Identifier{{TokenID: l402.TokenID{1}},
		{TokenID: l402.TokenID{2}}, {TokenID: l402.TokenID{3}}}
	c.put(ids[0], []byte{1})
	c.put(ids[1], []byte{2})
	c.get(ids[0]) // 1 is now the most recent
	c.put(ids[2], []byte{3})
	if _, ok := c.get(ids[1]); ok {
		t.Fatal("the least recently used key was kept")
	}
	if k, ok := c.get(ids[0]); !ok || k[0] != 1 {
		t.Fatal("a recently used key was evicted")
	}
	if _, ok := c.get(ids[2]); !ok {
		t.Fatal("the newest key is missing")
	}
}

func TestVerifyMarksPaidTokensSettled(t *testing.T) {
	e := newAuthEnv(t)
	ctx := context.Background()
	h := e.buy(t, Offer{Service: "svc", PriceSat: 5})
	e.buy(t, Offer{Service: "svc", PriceSat: 5}) // paid, never used
	if _, err := e.auth.Verify(ctx, h, l402.Target{Service: "svc"}); err != nil {
		t.Fatal(err)
	}
	got := states(t, e.store.Store)
	if got[store.StateSettled] != 1 || got[store.StatePending] != 1 {
		t.Fatalf("transactions %v, want the used token's settled", got)
	}
}

// lookupNode counts LookupInvoice calls and can report a state of its
// own (a preimage that leaked from an open invoice) or fail.
type lookupNode struct {
	lightning.Node
	lookups atomic.Int32
	state   *lightning.InvoiceState
	err     error
}

// LookupInvoice implements lightning.Node.
func (n *lookupNode) LookupInvoice(ctx context.Context, hash l402.Hash) (
	lightning.Invoice, error) {

	n.lookups.Add(1)
	if n.err != nil {
		return lightning.Invoice{}, n.err
	}
	inv, err := n.Node.LookupInvoice(ctx, hash)
	if n.state != nil {
		inv.State = *n.state
	}
	return inv, err
}

// TestStrictVerify: with strictverify the node is asked once per token
// that its invoice is settled (settled is final); a token whose invoice
// it reports open, or does not know, is refused as not_settled, and one
// it cannot be asked about is undecided (ErrCannotVerify: 503). Without
// it the node is never asked on a paid request.
func TestStrictVerify(t *testing.T) {
	ctx := context.Background()
	target := l402.Target{Service: "svc"}
	open := lightning.InvoiceOpen

	e := newAuthEnv(t)
	node := &lookupNode{Node: e.auth.node}
	e.auth.node = node
	e.auth.requireSettled()
	h := e.buy(t, Offer{Service: "svc", PriceSat: 5})
	for range 3 {
		if _, err := e.auth.Verify(ctx, h, target); err != nil {
			t.Fatal(err)
		}
	}
	if n := node.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for three requests, want 1", n)
	}

	leaked := e.buy(t, Offer{Service: "svc", PriceSat: 5})
	node.state = &open
	_, err := e.auth.Verify(ctx, leaked, target)
	if !errors.Is(err, ErrNotSettled) || rejectReason(err) != "not_settled" {
		t.Fatalf("open invoice: %v", err)
	}
	node.state, node.err = nil, lightning.ErrPermissionDenied
	if _, err := e.auth.Verify(ctx, leaked, target); !errors.Is(err,
		ErrCannotVerify) || errors.Is(err, ErrNotSettled) {
		t.Fatalf("failed lookup: %v, want it undecided", err)
	}
	node.err = lightning.ErrInvoiceNotFound
	if _, err := e.auth.Verify(ctx, leaked, target); !errors.Is(err,
		ErrNotSettled) {
		t.Fatalf("an invoice the node does not know: %v", err)
	}
	if got := states(t, e.store.Store); got[store.StateSettled] != 1 ||
		got[store.StatePending] != 1 {
		t.Fatalf("transactions %v: a refused token was marked settled", got)
	}

	e = newAuthEnv(t)
	node = &lookupNode{Node: e.auth.node, state: &open}
	e.auth.node = node
	h = e.buy(t, Offer{Service: "svc", PriceSat: 5})
	if _, err := e.auth.Verify(ctx, h, target); err != nil ||
		node.lookups.Load() != 0 {
		t.Fatalf("without strictverify: %v, %d lookups", err,
			node.lookups.Load())
	}
}
