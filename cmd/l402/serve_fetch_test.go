package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
	"github.com/l402/l402/serve"
	"github.com/l402/l402/tokens"
)

// TestFetchBuysFromServe runs l402's own client against l402's own server
// (memory nodes): the client pays once, then reuses its token.
func TestFetchBuysFromServe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		fmt.Fprint(w, "weather: sunny")
	}))
	defer backend.Close()

	cfgPath := filepath.Join(dir, "serve.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`listenaddr: "127.0.0.1:0"
insecure: true
authenticator:
  lndhost: "unused:1"
services:
  - name: weather
    hostregexp: ".*"
    pathregexp: "^/weather"
    address: %q
    price: 21
    timeout: 3600
`, strings.TrimPrefix(backend.URL, "http://"))), 0o600)
	cfg, err := serve.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	db, err := store.OpenSQLite(ctx, filepath.Join(dir, "serve.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	auth, err := serve.NewAuthenticator(context.Background(), seller, db, 0,
		nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := serve.NewHandler(cfg, auth, serve.HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	toks, err := tokens.Open(ctx, filepath.Join(dir, "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer toks.Close()
	client := &fetch.Client{HTTP: srv.Client(), Node: buyer, Store: toks}
	opts := fetch.Options{URL: srv.URL + "/weather", MaxCostSat: 50,
		PaymentTimeout: 5 * time.Second}

	for i, wantPaid := range []bool{true, false} {
		var out strings.Builder
		res, err := client.Fetch(ctx, opts, &out)
		if err != nil || out.String() != "weather: sunny" ||
			res.L402Paid != wantPaid {
			t.Fatalf("fetch %d: %+v %q %v", i, res, out.String(), err)
		}
	}
	tok, _ := toks.Token(ctx, "http://"+srv.Listener.Addr().String())
	if until, ok := tok.ValidUntil(); !ok || until.Before(time.Now()) {
		t.Fatalf("token validity %v %v", until, ok)
	}
}
