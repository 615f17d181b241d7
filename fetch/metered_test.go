package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// meteredWall puts a balance of uses per credential in front of the env's
// paywall, as a metered service does: each answer says what is left in
// L402-Balance-Remaining (100 msat a use), and a credential whose uses are
// spent gets the paywall's 402 with a balance of 0.
type meteredWall struct {
	next http.Handler
	uses int

	mu   sync.Mutex
	seen map[string]int
}

// ServeHTTP implements http.Handler.
func (m *meteredWall) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if auth != "" {
		m.mu.Lock()
		used := m.seen[auth]
		if used < m.uses {
			m.seen[auth] = used + 1
		}
		m.mu.Unlock()
		left := m.uses - used
		if left <= 0 {
			r.Header.Del("Authorization")
		}
		w.Header().Set(HeaderBalanceRemaining,
			strconv.Itoa(100*max(left, 0)))
	}
	m.next.ServeHTTP(w, r)
}

// TestFetchBuysTheNextBundle: fetch reports the balance a metered service
// says is left, and when the credential's balance is spent (a 402 to a
// credential that worked) buys the next bundle, once, through the pending
// record and the ledger, within the caps.
func TestFetchBuysTheNextBundle(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	wall := &meteredWall{next: e.wall, uses: 2, seen: map[string]int{}}
	e.srv.Config.Handler = wall
	ctx := context.Background()
	opts := e.opts()
	var balances []int64
	for i := range 5 {
		res, err := e.client.Fetch(ctx, opts, &strings.Builder{})
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if res.BalanceRemaining == nil {
			t.Fatalf("fetch %d: no balance", i)
		}
		balances = append(balances, *res.BalanceRemaining)
		if line := res.BalanceLine(); !strings.Contains(line,
			strconv.FormatInt(*res.BalanceRemaining, 10)+" msat") {
			t.Fatalf("line %q", line)
		}
	}
	// Bought at the first, third and fifth fetch.
	want := []int64{200, 100, 200, 100, 200}
	for i := range want {
		if balances[i] != want[i] {
			t.Fatalf("balances %v, want %v", balances, want)
		}
	}
	if got := e.spent(t); got != 30_000 {
		t.Fatalf("spent %d sat on three bundles", got)
	}
	if j := res0JSON(t, e); !strings.Contains(j, `"balance_remaining":100`) {
		t.Fatalf("json %s", j)
	}

	// Within the day's cap: a fourth bundle would pass 35 sat.
	opts.MaxTotalSat = 35
	if _, err := e.client.Fetch(ctx, opts, &strings.Builder{}); !errors.Is(
		err, ErrOverBudget) || e.spent(t) != 30_000 {
		t.Fatalf("over the day's cap: %v, spent %d", err, e.spent(t))
	}
}

// res0JSON fetches once more and returns the result's JSON text.
func res0JSON(t *testing.T, e *env) string {
	t.Helper()
	res, err := e.client.Fetch(context.Background(), e.opts(),
		&strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res.JSON())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFetchBuysOneBundleARequest: a bundle that is refused at once (the
// seller's meter refuses every credential) is bought once per request,
// then the fetch ends with token_refused.
func TestFetchBuysOneBundleARequest(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	e.srv.Config.Handler = &meteredWall{next: e.wall, uses: 0,
		seen: map[string]int{}}
	_, err := e.client.Fetch(context.Background(), e.opts(),
		&strings.Builder{})
	if !errors.Is(err, ErrTokenRefused) || e.spent(t) != 10_000 {
		t.Fatalf("%v, spent %d", err, e.spent(t))
	}
}
