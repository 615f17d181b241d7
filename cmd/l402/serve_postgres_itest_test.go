//go:build itest

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/pgtest"
)

// TestItestServePostgresReplicas runs two `l402 serve` processes on one
// Postgres database, both selling through bob. A token bought from either
// replica (a real invoice, paid by alice) is accepted by the other.
func TestItestServePostgresReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := pgtest.Start(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "shared weather")
	}))
	defer backend.Close()

	cfg := stack.Bob.ServeYAML("weather", strings.TrimPrefix(backend.URL,
		"http://"), 11)
	cfg = strings.Replace(cfg, fmt.Sprintf("macdir: %q",
		stack.Bob.MacaroonDir), fmt.Sprintf("macdir: %q",
		invoiceOnlyMacDir(t)), 1)
	o := db.Options
	cfg += fmt.Sprintf("dbbackend: postgres\npostgres:\n  host: %q\n"+
		"  port: %d\n  user: %q\n  password: %q\n  dbname: %q\n",
		o.Host, o.Port, o.User, o.Password, o.DBName)
	replicas := []string{startServeYAML(t, cfg), startServeYAML(t, cfg)}

	alice, err := lightning.NewLnd(lightning.LndConfig{Name: "alice",
		Host: stack.Alice.RPCHost, TLSCertPath: stack.Alice.TLSCertPath,
		MacaroonPath: stack.Alice.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()

	get := func(addr, auth string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
			"http://"+addr+"/weather", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for i, seller := range replicas {
		other := replicas[1-i]
		chs, err := l402.ParseChallenges(get(seller, "").Header.Values(
			"WWW-Authenticate"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := alice.Pay(ctx, lightning.PayRequest{
			PaymentRequest: chs[1].Invoice, MaxFeeSat: 10,
			Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		auth, _ := l402.Credential{Macaroon: chs[1].Macaroon,
			Preimage: p.Preimage}.Authorization()
		if resp := get(other, auth); resp.StatusCode != 200 {
			t.Fatalf("token from replica %d refused by the other: %d", i,
				resp.StatusCode)
		}
		if resp := get(seller, auth); resp.StatusCode != 200 {
			t.Fatalf("token refused by its own replica %d: %d", i,
				resp.StatusCode)
		}
	}
	t.Logf("two serve replicas on Postgres %s accept each other's tokens",
		o.DBName)
}
