package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/pgtest"
	"github.com/l402/l402/internal/store"
	"github.com/l402/l402/internal/store/storetest"
)

// TestDerivedTokenVerifiesAfterRestart: a token sold, its 402 sent, then
// the process stops: after a restart on the same database, whose
// root_keys table holds nothing, the token verifies without a root key
// read, its key derived from the store's secret.
func TestDerivedTokenVerifiesAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "serve.db")
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	e := &authEnv{buyer: buyer, store: &countingStore{Store: st}}
	e.now.Store(time.Now().Unix())
	e.auth = newTestAuthenticator(t, seller, e.store, 0, time.Now)
	h := e.buy(t, Offer{Service: "svc", PriceSat: 5})
	st.Close()

	st, err = store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if total, _, err := st.Stats(ctx); err != nil || total != 0 {
		t.Fatalf("root_keys holds %d rows (%v), want none", total, err)
	}
	counting := &countingStore{Store: st}
	auth := newTestAuthenticator(t, seller, counting, 0, time.Now)
	if _, err := auth.Verify(ctx, h, l402.Target{Service: "svc"}); err != nil {
		t.Fatalf("the token after a restart: %v", err)
	}
	if n := counting.reads.Load(); n != 0 {
		t.Fatalf("%d root key reads, want 0", n)
	}
}

// legacyToken mints, as l402 did before root keys were derived, a token
// for svc under a random root key stored in the SQLite file at path, and
// returns its Authorization header.
func legacyToken(t *testing.T, path string, tok l402.TokenID) http.Header {
	t.Helper()
	var pre l402.Preimage
	rand.Read(pre[:])
	rootKey := make([]byte, l402.RootKeySize)
	rand.Read(rootKey)
	id := l402.NewIdentifier(pre.Hash(), tok)
	svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
	mac, err := l402.Mint(rootKey, id, svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.PutLegacyRootKey(context.Background(), path,
		storetest.Legacy{ID: id, RootKey: rootKey, Service: "svc",
			PriceSat: 5, CreatedAt: time.Unix(40, 0),
			InvoiceExpiresAt: time.Unix(100, 0)}); err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: mac, Preimage: pre}.Authorization()
	return http.Header{"Authorization": {auth}}
}

// forged is h's token signed again under another key: the same
// identifier, a MAC no key of the server makes.
func forged(t *testing.T, h http.Header) http.Header {
	t.Helper()
	cred, err := l402.ParseCredential(h)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := l402.TokenIdentifier(cred.Macaroon)
	svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
	mac, err := l402.Mint(bytes.Repeat([]byte{7}, l402.RootKeySize), id, svc)
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: mac,
		Preimage: cred.Preimage}.Authorization()
	return http.Header{"Authorization": {auth}}
}

// TestStoredAndForgedTokens: a token minted before root keys were
// derived verifies under its stored key (one read, then none: its key
// is cached), and its first use marks its row settled; a forged MAC is
// refused as badly signed, on a derived token's identifier with no
// stored-key read, on a stored one's after exactly one.
func TestStoredAndForgedTokens(t *testing.T) {
	ctx := context.Background()
	target := l402.Target{Service: "svc"}
	path := filepath.Join(t.TempDir(), "serve.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	e := &authEnv{buyer: buyer, store: &countingStore{Store: st}}
	e.now.Store(time.Now().Unix())
	legacy := legacyToken(t, path, l402.TokenID{1})
	stored := legacyToken(t, path, l402.TokenID{2})
	e.auth = newTestAuthenticator(t, seller, e.store, 0, time.Now)

	for range 2 {
		if _, err := e.auth.Verify(ctx, legacy, target); err != nil {
			t.Fatalf("a stored-key token: %v", err)
		}
	}
	// The buyer's own caveat makes another credential of the token,
	// which the verifier has not seen: its key comes from the cache.
	cred, _ := l402.ParseCredential(legacy)
	narrowed, err := l402.AddCaveats(cred.Macaroon, l402.Caveat{
		Condition: "note", Value: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := l402.Credential{Macaroon: narrowed,
		Preimage: cred.Preimage}.Authorization()
	if _, err := e.auth.Verify(ctx, http.Header{"Authorization": {auth}},
		target); err != nil {
		t.Fatalf("a stored-key token, narrowed: %v", err)
	}
	if n := e.store.reads.Load(); n != 1 {
		t.Fatalf("%d root key reads for a stored-key token, want 1", n)
	}
	if _, settled, _ := st.Stats(ctx); settled != 1 {
		t.Fatalf("%d stored-key rows settled, want 1", settled)
	}

	derived := e.buy(t, Offer{Service: "svc", PriceSat: 5})
	for _, c := range []struct {
		name  string
		h     http.Header
		reads int32
	}{
		{"derived", forged(t, derived), 0},
		{"stored", forged(t, stored), 1},
	} {
		before := e.store.reads.Load()
		_, err := e.auth.Verify(ctx, c.h, target)
		if !errors.Is(err, l402.ErrBadSignature) {
			t.Errorf("forged %s token: %v", c.name, err)
		}
		if n := e.store.reads.Load() - before; n != c.reads {
			t.Errorf("forged %s token: %d root key reads, want %d", c.name,
				n, c.reads)
		}
	}
}

// TestReplicasVerifyEachOthersTokens: two replicas on one database (one
// SQLite file, one Postgres) and one node share the root key secret: a
// token either mints verifies on the other, from its first request (its
// transaction may still be queued on the first: the other takes it on
// its settled invoice), with no root key read; each token has one
// transaction, settled.
func TestReplicasVerifyEachOthersTokens(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) func() (*store.Store, error)
	}{
		{"sqlite", func(t *testing.T) func() (*store.Store, error) {
			path := filepath.Join(t.TempDir(), "serve.db")
			return func() (*store.Store, error) {
				return store.OpenSQLite(context.Background(), path)
			}
		}},
		{"postgres", func(t *testing.T) func() (*store.Store, error) {
			db := pgtest.Start(t)
			return func() (*store.Store, error) {
				return store.OpenPostgres(context.Background(), db.Options)
			}
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			open := b.open(t)
			net := lightning.NewMemoryNetwork()
			buyer, _ := net.NewNode("buyer", "regtest")
			seller, _ := net.NewNode("seller", "regtest")
			var envs [2]*authEnv
			for i := range envs {
				st, err := open()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				e := &authEnv{buyer: buyer, store: &countingStore{Store: st}}
				e.auth = newTestAuthenticator(t, seller, e.store, 0, time.Now)
				envs[i] = e
			}
			for i, e := range envs {
				h := e.buy(t, Offer{Service: "svc", PriceSat: 5})
				other := envs[1-i]
				if _, err := other.auth.Verify(context.Background(), h,
					l402.Target{Service: "svc"}); err != nil {
					t.Fatalf("replica %d's token on the other: %v", i, err)
				}
				if n := other.store.reads.Load(); n != 0 {
					t.Fatalf("%d root key reads, want 0", n)
				}
			}
			for _, e := range envs {
				if err := e.store.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			txs, n, err := envs[0].store.Transactions(context.Background(),
				store.TransactionFilter{Limit: 10})
			if err != nil || n != 2 {
				t.Fatalf("%d transactions, want 2: %v", n, err)
			}
			for _, tx := range txs {
				if tx.State != store.StateSettled || tx.Service != "svc" ||
					tx.PriceSat != 5 {
					t.Errorf("transaction %+v, want svc's, settled", tx)
				}
			}
		})
	}
}

// TestBookkeepingFailureIsCountedAndLogged: when the token's transaction
// cannot be written, the 402 still carries a token that verifies once
// paid (on its settled invoice), and each failure, the 402's row and the
// row its first use writes again, is logged and counted in
// l402_bookkeeping_failures_total, not dropped unsaid.
func TestBookkeepingFailureIsCountedAndLogged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "serve.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs strings.Builder
	s := &server{metrics: NewMetrics(), log: newLogger(&logs,
		&Config{DebugLevel: "info"})}
	st.SetBookkeepingFailureHandler(s.bookkeepingFailed)
	if err := storetest.FailTransactionWrites(ctx, path); err != nil {
		t.Fatal(err)
	}

	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	e := &authEnv{buyer: buyer, store: &countingStore{Store: st}}
	e.auth = newTestAuthenticator(t, seller, e.store, 0, time.Now)
	h := e.buy(t, Offer{Service: "svc", PriceSat: 5})
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Verify(ctx, h, l402.Target{Service: "svc"}); err != nil {
		t.Fatalf("the token whose transaction failed: %v", err)
	}
	if m := metricsText(s.metrics); !strings.Contains(m,
		"l402_bookkeeping_failures_total 2\n") {
		t.Errorf("the failure was not counted:\n%s", m)
	}
	if !strings.Contains(logs.String(), "not written") ||
		!strings.Contains(logs.String(), "a test") {
		t.Errorf("the failure was not logged with its cause: %q",
			logs.String())
	}
	if txs, _, _ := st.Transactions(ctx, store.TransactionFilter{
		Limit: 10}); len(txs) != 0 {
		t.Errorf("%d transactions, want none written", len(txs))
	}
}

// TestNoSecretNoAuthenticator: a store whose root key secret cannot be
// read gives no authenticator, so that nothing is minted under a key the
// replicas do not share.
func TestNoSecretNoAuthenticator(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(),
		filepath.Join(t.TempDir(), "serve.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	if a, err := NewAuthenticator(context.Background(), seller, st, 0,
		nil); err == nil || a != nil {
		t.Fatalf("a closed store gave an authenticator: %v", err)
	}
}

// TestDerivedTokensMustBeIssued: the root key secret is in the database,
// so a reader of the database can sign tokens of its own. Such a token is
// refused unless it was issued here: its own transaction is there, or,
// with no transaction for its payment hash at all (a row lost to a
// crash), its invoice is settled on the node and was written for a
// token. A refused token stays refused when presented again (no cache
// remembers it), and a token taken on its invoice has its transaction
// written again, settled.
func TestDerivedTokensMustBeIssued(t *testing.T) {
	ctx := context.Background()
	target := l402.Target{Service: "svc"}
	type env struct {
		e      *authEnv
		st     *store.Store
		path   string
		seller *lightning.MemoryNode
		secret []byte
	}
	setup := func(t *testing.T) env {
		path := filepath.Join(t.TempDir(), "serve.db")
		st, err := store.OpenSQLite(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		net := lightning.NewMemoryNetwork()
		seller, _ := net.NewNode("seller", "regtest")
		buyer, _ := net.NewNode("buyer", "regtest")
		e := &authEnv{buyer: buyer, store: &countingStore{Store: st}}
		e.auth = newTestAuthenticator(t, seller, e.store, 0, time.Now)
		secret, err := st.RootKeySecret(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return env{e: e, st: st, path: path, seller: seller, secret: secret}
	}
	signed := func(t *testing.T, v env, pre l402.Preimage,
		tok l402.TokenID) http.Header {

		return derivedAuth(t, v.secret, pre, tok)
	}
	// paid is the preimage of an invoice of the seller with memo, paid
	// by the buyer.
	paid := func(t *testing.T, v env, memo string) l402.Preimage {
		inv, err := v.seller.AddInvoice(ctx, lightning.InvoiceRequest{
			AmountSat: 5, Memo: memo, Expiry: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.e.buyer.Pay(ctx, lightning.PayRequest{
			PaymentRequest: inv.PaymentRequest})
		if err != nil {
			t.Fatal(err)
		}
		return p.Preimage
	}
	// sold is the preimage and identifier of a token bought from serve.
	sold := func(t *testing.T, v env) (l402.Preimage, l402.Identifier) {
		cred, err := l402.ParseCredential(v.e.buy(t, Offer{Service: "svc",
			PriceSat: 5}))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := l402.TokenIdentifier(cred.Macaroon)
		return cred.Preimage, id
	}

	for _, c := range []struct {
		name string
		// token returns the credential to present.
		token func(t *testing.T, v env) http.Header
		want  error // nil: taken
	}{
		{"a payment hash of its own, no invoice", func(t *testing.T,
			v env) http.Header {
			var pre l402.Preimage
			rand.Read(pre[:])
			return signed(t, v, pre, l402.TokenID{1})
		}, l402.ErrUnknownToken},
		{"another token on a sold token's invoice", func(t *testing.T,
			v env) http.Header {
			pre, _ := sold(t, v)
			return signed(t, v, pre, l402.TokenID{2})
		}, l402.ErrUnknownToken},
		{"a Payment charge's invoice", func(t *testing.T,
			v env) http.Header {
			pre := paid(t, v, "Payment for svc")
			v.st.RecordChallenge(ctx, store.Challenge{
				PaymentHash: pre.Hash(), Service: "svc", PriceSat: 5,
				Scheme: store.SchemePayment, CreatedAt: time.Now()})
			return signed(t, v, pre, l402.TokenID{3})
		}, l402.ErrUnknownToken},
		{"a settled invoice not written for a token", func(t *testing.T,
			v env) http.Header {
			return signed(t, v, paid(t, v, "coffee"), l402.TokenID{4})
		}, l402.ErrUnknownToken},
		{"a sold token whose transaction was lost", func(t *testing.T,
			v env) http.Header {
			pre, id := sold(t, v)
			if err := v.st.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := storetest.LoseTransactions(ctx, v.path); err != nil {
				t.Fatal(err)
			}
			return signed(t, v, pre, id.TokenID)
		}, nil},
		{"a sold token", func(t *testing.T, v env) http.Header {
			pre, id := sold(t, v)
			return signed(t, v, pre, id.TokenID)
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := setup(t)
			h := c.token(t, v)
			for i := range 2 {
				_, err := v.e.auth.Verify(ctx, h, target)
				if c.want == nil && err != nil ||
					c.want != nil && !errors.Is(err, c.want) {
					t.Fatalf("presented %d times: %v, want %v", i+1, err,
						c.want)
				}
			}
			if c.want != nil {
				return
			}
			txs, n, err := v.st.Transactions(ctx, store.TransactionFilter{
				Tokens: true, Limit: 10})
			if err != nil || n != 1 || txs[0].State != store.StateSettled ||
				txs[0].Service != "svc" || txs[0].PriceSat != 5 {
				t.Fatalf("transactions %+v (%d, %v), want the token's, "+
					"settled", txs, n, err)
			}
		})
	}
}

// derivedAuth is the Authorization of a token for svc on (pre, tok),
// signed under the key secret derives for it, as a holder of the
// database's secret can sign one.
func derivedAuth(t *testing.T, secret []byte, pre l402.Preimage,
	tok l402.TokenID) http.Header {

	t.Helper()
	svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
	mac, err := l402.MintDerived(secret, l402.NewIdentifier(pre.Hash(), tok),
		svc)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := l402.Credential{Macaroon: mac, Preimage: pre}.
		Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Authorization": {auth}}
}
