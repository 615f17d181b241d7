package fetch

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// paywall is a small L402 server for fetch's tests, built from the
// protocol core and a memory node: it sells one service at a price.
type paywall struct {
	t      *testing.T
	seller lightning.Node
	price  int64

	mu       sync.Mutex
	rootKeys map[l402.Identifier][]byte

	challenges atomic.Int32
	served     atomic.Int32
	lastBody   atomic.Value

	// challenge, when set, replaces the WWW-Authenticate values (for
	// hostile challenges); it gets the honest ones.
	challenge func(honest []string, inv lightning.Invoice) []string
}

// RootKey implements l402.RootKeyLookup.
func (p *paywall) RootKey(id l402.Identifier) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ok := p.rootKeys[id]
	if !ok {
		return nil, l402.ErrUnknownToken
	}
	return k, nil
}

// forget drops every root key, so that every token is refused.
func (p *paywall) forget() {
	p.mu.Lock()
	p.rootKeys = map[l402.Identifier][]byte{}
	p.mu.Unlock()
}

func (p *paywall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cred, err := l402.ParseCredential(r.Header)
	if err == nil {
		_, err = l402.Verify(cred.Macaroon, cred.Preimage, p,
			l402.Target{Service: "svc", Now: time.Now()})
		if err == nil {
			p.served.Add(1)
			p.lastBody.Store(string(body))
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "paid content for "+r.Method)
			return
		}
	}

	p.challenges.Add(1)
	inv, err := p.seller.AddInvoice(r.Context(), lightning.InvoiceRequest{
		AmountSat: p.price, Memo: "svc", Expiry: time.Hour})
	if err != nil {
		p.t.Errorf("paywall: %v", err)
		return
	}
	rootKey := make([]byte, 32)
	var tid l402.TokenID
	rand.Read(rootKey)
	rand.Read(tid[:])
	id := l402.NewIdentifier(inv.PaymentHash, tid)
	svc, _ := l402.ServicesCaveat(l402.Service{Name: "svc"})
	mac, err := l402.Mint(rootKey, id, svc)
	if err != nil {
		p.t.Errorf("paywall: %v", err)
		return
	}
	p.mu.Lock()
	p.rootKeys[id] = rootKey
	p.mu.Unlock()

	values, _ := l402.BuildChallenges(mac, inv.PaymentRequest)
	if p.challenge != nil {
		values = p.challenge(values, inv)
	}
	for _, v := range values {
		w.Header().Add("WWW-Authenticate", v)
	}
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
}

// env is one fetch test's world: a buyer node, a seller behind a paywall,
// a store, and a client.
type env struct {
	buyer  *lightning.MemoryNode
	seller *lightning.MemoryNode
	wall   *paywall
	srv    *httptest.Server
	store  *tokens.Store
	client *Client
}

// newEnv builds an env with a paywall selling at price sats, the seller
// on sellerNet.
func newEnv(t *testing.T, price int64, sellerNet string) *env {
	t.Helper()
	net := lightning.NewMemoryNetwork()
	buyer, err := net.NewNode("buyer", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	seller, err := net.NewNode("seller", sellerNet)
	if err != nil {
		t.Fatal(err)
	}
	wall := &paywall{t: t, seller: seller, price: price,
		rootKeys: map[l402.Identifier][]byte{}}
	srv := httptest.NewServer(wall)
	t.Cleanup(srv.Close)

	store, err := tokens.Open(context.Background(),
		filepath.Join(t.TempDir(), "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	return &env{
		buyer: buyer, seller: seller, wall: wall, srv: srv, store: store,
		client: &Client{HTTP: srv.Client(), Node: buyer, Store: store},
	}
}

// opts returns default options for a GET of the paywall.
func (e *env) opts() Options {
	return Options{
		URL:            e.srv.URL + "/api",
		MaxCostSat:     DefaultMaxCostSat,
		MaxFeeSat:      DefaultMaxFeeSat,
		PaymentTimeout: 5 * time.Second,
	}
}

// origin returns the paywall's origin.
func (e *env) origin() string { return "http://" + e.srv.Listener.Addr().String() }
