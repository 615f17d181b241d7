package fetch

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
)

// env is one fetch test's world: a buyer node, a seller behind a paywall,
// a store, and a client.
type env struct {
	buyer  *lightning.MemoryNode
	seller *lightning.MemoryNode
	wall   *testpaywall.Paywall
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
	wall := testpaywall.New(seller, price)
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
