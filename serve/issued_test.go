package serve

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// flakyNode is a node whose LookupInvoice can be made to fail, as lnd
// does while it restarts or its connection is down.
type flakyNode struct {
	lightning.Node
	down    atomic.Bool
	lookups atomic.Int32
}

// LookupInvoice counts, and fails while the node is down.
func (n *flakyNode) LookupInvoice(ctx context.Context, hash l402.Hash) (
	lightning.Invoice, error) {

	n.lookups.Add(1)
	if n.down.Load() {
		return lightning.Invoice{}, &lightning.CallError{Node: "seller",
			Call: "LookupInvoice", Err: errors.New("connection refused")}
	}
	return n.Node.LookupInvoice(ctx, hash)
}

// flakyStore is a store that can lose the rows it is given, as a crash
// loses the rows still queued, and whose reads of the transactions can
// be made to fail, as a database that cannot be reached does.
type flakyStore struct {
	*countingStore
	lose      atomic.Bool
	down      atomic.Bool
	issuances atomic.Int32
}

// RecordToken drops the row while rows are lost.
func (s *flakyStore) RecordToken(ctx context.Context, m store.Minted) {
	if !s.lose.Load() {
		s.countingStore.RecordToken(ctx, m)
	}
}

// TokenIssuance counts, and fails while the database is down.
func (s *flakyStore) TokenIssuance(ctx context.Context,
	id l402.Identifier) (store.Issuance, error) {

	s.issuances.Add(1)
	if s.down.Load() {
		return store.NotRecorded, errors.New("database is unreachable")
	}
	return s.countingStore.TokenIssuance(ctx, id)
}

// flakyHandlerEnv is a handlerEnv whose authenticator's node and store
// are a flakyNode and a flakyStore.
func flakyHandlerEnv(t *testing.T, serviceExtra, topExtra string) (
	*handlerEnv, *flakyNode, *flakyStore, *Metrics) {

	t.Helper()
	m := NewMetrics()
	e := newHandlerEnvOptions(t, serviceExtra, topExtra, nil,
		HandlerOptions{Metrics: m})
	node := &flakyNode{Node: e.auth.node}
	st := &flakyStore{countingStore: e.store}
	e.auth.node, e.auth.store = node, st
	return e, node, st, m
}

// TestPaidTokenUndecidedIsNot402: every derived-key token's first use
// reads the transactions, a paid token whose transaction was lost (a
// crash between its 402 and the write behind it) must be found on the
// node, and with strictverify any token's invoice must be; while the
// database or the node cannot answer, the buyer gets 503 (gRPC:
// unavailable), never a 402 that would have it pay again (a challenge
// needs no database: its row is written behind it, so while the
// database is down every new token would be sold and then refused), and
// the same token is taken once they answer.
func TestPaidTokenUndecidedIsNot402(t *testing.T) {
	nodeDown := func(n *flakyNode, _ *flakyStore, down bool) {
		n.down.Store(down)
	}
	for _, c := range []struct {
		name string
		// lost drops the token's transaction; strict is strictverify.
		lost, strict bool
		down         func(n *flakyNode, s *flakyStore, down bool)
	}{
		{"lnd unreachable", true, false, nodeDown},
		{"database unreachable", false, false, func(_ *flakyNode,
			s *flakyStore, down bool) {
			s.down.Store(down)
		}},
		{"strictverify, lnd unreachable", false, true, nodeDown},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, node, st, m := flakyHandlerEnv(t, "", "")
			if c.strict {
				e.auth.requireSettled()
			}
			st.lose.Store(c.lost)
			resp, _ := e.get(t, "/api/data", nil)
			auth, _ := e.pay(t, resp)
			st.lose.Store(false)

			c.down(node, st, true)
			resp, body := e.get(t, "/api/data", http.Header{
				"Authorization": {auth}})
			if resp.StatusCode != http.StatusServiceUnavailable ||
				len(resp.Header.Values("WWW-Authenticate")) != 0 {
				t.Fatalf("a paid token, undecided: %d %q %q, want 503 "+
					"without a challenge", resp.StatusCode,
					resp.Header.Values("WWW-Authenticate"), body)
			}
			resp, _ = e.get(t, "/api/data", http.Header{
				"Authorization": {auth},
				"Content-Type":  {"application/grpc+proto"}})
			if g := resp.Header.Get("Grpc-Status"); g != "14" ||
				len(resp.Header.Values("WWW-Authenticate")) != 0 {
				t.Fatalf("a paid token over gRPC, undecided: status %q, "+
					"challenges %q, want 14 and none", g,
					resp.Header.Values("WWW-Authenticate"))
			}
			if text := metricsText(m); !strings.Contains(text,
				`l402_tokens_rejected_total{reason="unavailable",service="api"} 2`) {
				t.Errorf("the refusals were not counted as unavailable:\n%s",
					text)
			}

			c.down(node, st, false)
			resp, body = e.get(t, "/api/data", http.Header{
				"Authorization": {auth}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("the same token, once they answer: %d %q",
					resp.StatusCode, body)
			}
		})
	}
}

// rootKeyDownStore is a store whose stored root keys cannot be read.
type rootKeyDownStore struct{ *countingStore }

// RootKey fails, as a database that cannot be reached does.
func (rootKeyDownStore) RootKey(context.Context, l402.Identifier) ([]byte,
	error) {

	return nil, errors.New("database is unreachable")
}

// TestStoredKeyUnreadableIsUndecided: a token that does not verify under
// its derived key may be one minted before keys were derived; when its
// stored key cannot be read, it is undecided (503), not refused.
func TestStoredKeyUnreadableIsUndecided(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.db")
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := legacyToken(t, path, l402.TokenID{1})
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	auth := newTestAuthenticator(t, seller, &countingStore{Store: st}, 0,
		time.Now)
	auth.store = rootKeyDownStore{&countingStore{Store: st}}
	_, err = auth.Verify(context.Background(), h,
		l402.Target{Service: "svc"})
	if !errors.Is(err, ErrCannotVerify) || rejectReason(err) != "unavailable" {
		t.Fatalf("a stored key unreadable: %v (%s), want ErrCannotVerify",
			err, rejectReason(err))
	}
}

// downRevocations is a revocation store that cannot be read.
type downRevocations struct{}

// RevokedSince fails.
func (downRevocations) RevokedSince(context.Context, int64) (
	[]store.Revoked, error) {

	return nil, errors.New("database is unreachable")
}

// IsRevoked fails.
func (downRevocations) IsRevoked(context.Context, l402.TokenID) (bool,
	error) {

	return false, errors.New("database is unreachable")
}

// TestRevocationUnreadableIsUndecided: a replica whose snapshot of the
// revocations is past its lease asks the database; when it cannot, the
// token is undecided (503), not refused with a 402 that would have its
// buyer, and every buyer after, pay again.
func TestRevocationUnreadableIsUndecided(t *testing.T) {
	r := newRevocations(downRevocations{}, time.Second, time.Now)
	err := r.check(context.Background(), l402.TokenID{1}, time.Now())
	if !errors.Is(err, ErrCannotVerify) ||
		errors.Is(err, l402.ErrUnknownToken) {
		t.Fatalf("revocations unreadable: %v, want it undecided", err)
	}
}

// TestIssuanceAskedOncePerToken: whether a derived-key token was issued
// here is asked once per token, whatever its caveats make of the
// request: a paid token sent again and again to a service it is not
// for, or after it expired, is refused by its caveats without a read of
// the transactions (and the forced write of the queue before it), or,
// its row lost, a call to the node, per request.
func TestIssuanceAskedOncePerToken(t *testing.T) {
	for _, lost := range []bool{false, true} {
		e := newAuthEnv(t)
		node := &flakyNode{Node: e.auth.node}
		st := &flakyStore{countingStore: e.store}
		e.auth.node, e.auth.store = node, st
		st.lose.Store(lost)
		h := e.buy(t, Offer{Service: "svc", PriceSat: 5,
			Timeout: time.Hour})
		st.lose.Store(false)

		for range 3 {
			_, err := e.auth.Verify(context.Background(), h,
				l402.Target{Service: "other"})
			if !errors.Is(err, l402.ErrServiceNotAllowed) {
				t.Fatalf("lost %v: the wrong service: %v", lost, err)
			}
		}
		e.now.Add(2 * 3600)
		for range 3 {
			_, err := e.auth.Verify(context.Background(), h,
				l402.Target{Service: "svc"})
			if !errors.Is(err, l402.ErrTokenExpired) {
				t.Fatalf("lost %v: expired: %v", lost, err)
			}
		}
		wantLookups := int32(0)
		if lost {
			wantLookups = 1
		}
		if n, l := st.issuances.Load(), node.lookups.Load(); n != 1 ||
			l != wantLookups {
			t.Errorf("lost %v: %d reads of the transactions and %d node "+
				"lookups for six requests, want 1 and %d", lost, n, l,
				wantLookups)
		}
	}
}

// TestSecretHolderCannotTakeATokenID: a reader of the database holds the
// root key secret and sees every token's ID in the transactions. Paying
// for a token of its own whose row is not there yet (queued on another
// replica, or lost to a crash), it signs its invoice's payment hash with
// a victim's token ID: that token would draw on the victim's meter
// bundle and share its rate limit and revocation. It is refused.
func TestSecretHolderCannotTakeATokenID(t *testing.T) {
	ctx := context.Background()
	e := newAuthEnv(t)
	st := &flakyStore{countingStore: e.store}
	e.auth.store = st
	secret, err := e.store.RootKeySecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := l402.ParseCredential(e.buy(t, Offer{Service: "svc",
		PriceSat: 5}))
	if err != nil {
		t.Fatal(err)
	}
	victimID, _ := l402.TokenIdentifier(victim.Macaroon)

	st.lose.Store(true)
	own, err := l402.ParseCredential(e.buy(t, Offer{Service: "svc",
		PriceSat: 5}))
	if err != nil {
		t.Fatal(err)
	}
	st.lose.Store(false)
	_, err = e.auth.Verify(ctx, derivedAuth(t, secret, own.Preimage,
		victimID.TokenID), l402.Target{Service: "svc"})
	if !errors.Is(err, l402.ErrUnknownToken) {
		t.Fatalf("a victim's token ID on the holder's invoice: %v, want "+
			"it refused", err)
	}
}

// TestForgedTokenCostsNoRead: a forged token (a preimage and payment hash
// of its own, a MAC under no key of the server) costs the HMAC alone, no
// read of the database, whether or not the database holds stored keys
// of tokens minted before keys were derived; such a token still
// verifies, with one read.
func TestForgedTokenCostsNoRead(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "serve.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	counting := &countingStore{Store: st}
	forgery := func() http.Header {
		var pre l402.Preimage
		rand.Read(pre[:])
		var tok l402.TokenID
		rand.Read(tok[:])
		svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
		mac, err := l402.Mint(make([]byte, l402.RootKeySize),
			l402.NewIdentifier(pre.Hash(), tok), svc)
		if err != nil {
			t.Fatal(err)
		}
		auth, _ := l402.Credential{Macaroon: mac,
			Preimage: pre}.Authorization()
		return http.Header{"Authorization": {auth}}
	}
	for _, withStored := range []bool{false, true} {
		var legacy http.Header
		if withStored {
			legacy = legacyToken(t, path, l402.TokenID{1})
		}
		auth := newTestAuthenticator(t, seller, counting, 0, time.Now)
		counting.reads.Store(0)
		for range 5 {
			_, err := auth.Verify(ctx, forgery(), l402.Target{Service: "svc"})
			if !errors.Is(err, l402.ErrBadSignature) {
				t.Fatalf("stored keys %v: a forgery: %v", withStored, err)
			}
		}
		if n := counting.reads.Load(); n != 0 {
			t.Errorf("stored keys %v: %d root key reads for five forgeries, "+
				"want none", withStored, n)
		}
		if legacy != nil {
			if _, err := auth.Verify(ctx, legacy,
				l402.Target{Service: "svc"}); err != nil {
				t.Fatalf("a stored-key token: %v", err)
			}
			if n := counting.reads.Load(); n != 1 {
				t.Errorf("%d root key reads for a stored-key token, want 1",
					n)
			}
		}
	}
}

// TestUndecidedInShadowModePassesFree: shadow mode refuses nothing, so a
// credential it cannot decide on goes to the backend free, as an unpaid
// request does there, not to a 503.
func TestUndecidedInShadowModePassesFree(t *testing.T) {
	e, node, st, _ := flakyHandlerEnv(t, "", "")
	st.lose.Store(true)
	resp, _ := e.get(t, "/api/data", nil)
	auth, _ := e.pay(t, resp)

	shadow, _, _, _ := flakyHandlerEnv(t, "    mode: shadow\n", "")
	shadow.auth.node, shadow.auth.store = node, st
	shadow.auth.secret = e.auth.secret
	node.down.Store(true)
	resp, body := shadow.get(t, "/api/data", http.Header{
		"Authorization": {auth}})
	if resp.StatusCode != http.StatusOK ||
		!strings.HasPrefix(body, "backend GET /api/data") {
		t.Fatalf("shadow mode, undecided: %d %q, want the backend's answer",
			resp.StatusCode, body)
	}
}

// TestConcurrentFirstUseOfALostToken: a paid token whose row was lost,
// sent by many requests at once on two replicas of one SQLite file, is
// taken by every one of them, and ends with one transaction, settled.
func TestConcurrentFirstUseOfALostToken(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "serve.db")
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	var envs [2]*authEnv
	var stores [2]*flakyStore
	for i := range envs {
		st, err := store.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		e := &authEnv{buyer: buyer, store: &countingStore{Store: st}}
		e.auth = newTestAuthenticator(t, seller, e.store, 0, time.Now)
		stores[i] = &flakyStore{countingStore: e.store}
		e.auth.store = stores[i]
		envs[i] = e
	}
	stores[0].lose.Store(true)
	h := envs[0].buy(t, Offer{Service: "svc", PriceSat: 5})
	stores[0].lose.Store(false)

	errs := make(chan error, 32)
	for i := range cap(errs) {
		go func() {
			_, err := envs[i%2].auth.Verify(ctx, h,
				l402.Target{Service: "svc"})
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatalf("a concurrent first use: %v", err)
		}
	}
	for _, e := range envs {
		if err := e.store.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	txs, n, err := envs[1].store.Transactions(ctx,
		store.TransactionFilter{Limit: 10})
	if err != nil || n != 1 || txs[0].State != store.StateSettled {
		t.Fatalf("transactions %+v (%d, %v), want one, settled", txs, n, err)
	}
}

// invoiceNode is a node that knows one invoice, or fails every lookup,
// and notes whether it was asked.
type invoiceNode struct {
	lightning.Node
	inv   lightning.Invoice
	err   error
	asked bool
}

// LookupInvoice notes the call and returns the invoice, or the error.
func (n *invoiceNode) LookupInvoice(ctx context.Context, hash l402.Hash) (
	lightning.Invoice, error) {

	n.asked = true
	switch {
	case n.err != nil:
		return lightning.Invoice{}, n.err
	case hash != n.inv.PaymentHash:
		return lightning.Invoice{}, lightning.ErrInvoiceNotFound
	}
	return n.inv, nil
}

// TestIssuedHere pins what issuedHere makes of a credential: what its
// transaction says, and, with none, what the node says of its invoice.
// An accepted invoice's row is written again; a row that cannot be
// (the store closed) is reported to the store's failure handler and
// does not refuse a paid credential.
func TestIssuedHere(t *testing.T) {
	ctx := context.Background()
	var id l402.Identifier
	rand.Read(id.TokenID[:])
	rand.Read(id.PaymentHash[:])
	settled := lightning.Invoice{PaymentHash: id.PaymentHash, AmountSat: 5,
		Memo: tokenMemoPrefix + "svc", State: lightning.InvoiceSettled,
		CreatedAt: time.Unix(1_700_000_000, 0), AddIndex: 7}
	open, coffee, elsewhere := settled, settled, settled
	open.State = lightning.InvoiceOpen
	coffee.Memo = "coffee"
	elsewhere.PaymentHash[0]++
	for _, c := range []struct {
		name     string
		found    store.Issuance
		foundErr error
		node     invoiceNode
		closed   bool  // the store is closed: the row cannot be queued
		want     error // nil: taken
		asked    bool  // the node is asked
		recorded bool  // the row is queued again
	}{
		{name: "its own transaction", found: store.Recorded},
		{name: "another's transaction", found: store.OtherToken,
			want: l402.ErrUnknownToken},
		{name: "transactions unreadable", foundErr: errors.New("down"),
			want: ErrCannotVerify},
		{name: "settled with the right memo",
			node: invoiceNode{inv: settled}, asked: true, recorded: true},
		{name: "unsettled", node: invoiceNode{inv: open},
			want: l402.ErrUnknownToken, asked: true},
		{name: "wrong memo", node: invoiceNode{inv: coffee},
			want: l402.ErrUnknownToken, asked: true},
		{name: "no invoice", node: invoiceNode{inv: elsewhere},
			want: l402.ErrUnknownToken, asked: true},
		{name: "lnd error", node: invoiceNode{err: &lightning.CallError{
			Node: "seller", Call: "LookupInvoice",
			Err: errors.New("connection refused")}},
			want: ErrCannotVerify, asked: true},
		{name: "re-record failure", node: invoiceNode{inv: settled},
			closed: true, asked: true, recorded: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := store.OpenSQLite(ctx,
				filepath.Join(t.TempDir(), "l402.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var failed atomic.Int32
			st.SetBookkeepingFailureHandler(func(rows int, err error) {
				failed.Add(int32(rows))
			})
			if c.closed {
				st.Close()
			}
			var recorded bool
			err = issuedHere(ctx, &c.node, issuance{
				hash: id.PaymentHash, refusal: l402.ErrUnknownToken,
				recorded: func(context.Context) (store.Issuance, error) {
					return c.found, c.foundErr
				},
				written: func(inv lightning.Invoice) bool {
					return strings.HasPrefix(inv.Memo, tokenMemoPrefix)
				},
				record: func(ctx context.Context, inv lightning.Invoice) {
					recorded = true
					st.RecordToken(ctx, store.Minted{ID: id,
						Service: strings.TrimPrefix(inv.Memo,
							tokenMemoPrefix), CreatedAt: inv.CreatedAt,
						PriceSat: inv.AmountSat, AddIndex: inv.AddIndex})
				}})
			if c.want == nil && err != nil ||
				c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("issuedHere: %v, want %v", err, c.want)
			}
			if c.want != ErrCannotVerify && errors.Is(err, ErrCannotVerify) {
				t.Fatalf("issuedHere: %v, a refusal taken for undecided", err)
			}
			if c.node.asked != c.asked || recorded != c.recorded {
				t.Fatalf("node asked %t, row queued %t; want %t, %t",
					c.node.asked, recorded, c.asked, c.recorded)
			}
			switch {
			case c.closed && failed.Load() != 1:
				t.Fatalf("%d rows reported failed, want the one not "+
					"queued", failed.Load())
			case c.recorded && !c.closed:
				got, err := st.TokenIssuance(ctx, id)
				if err != nil || got != store.Recorded {
					t.Fatalf("after re-recording: %v, %v; want Recorded",
						got, err)
				}
				txs, _, err := st.Transactions(ctx, store.TransactionFilter{
					Limit: 10})
				if err != nil || len(txs) != 1 || txs[0].Service != "svc" ||
					txs[0].PriceSat != 5 {
					t.Fatalf("transactions %+v (%v), want the token's for "+
						"svc, 5 sat", txs, err)
				}
			}
		})
	}
}
