//go:build itest

package serve

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/pgtest"
	"github.com/l402/l402/tokens"
)

// meterYAML is bob's serve.yaml selling an OpenAI-style backend at /v1 by
// the token: model m1 at 1 msat in and 2 out, bundles of 1000 tokens
// (1500 msat, 2 sat), 50 tokens reserved by a request without
// max_tokens.
func meterYAML(backend string) string {
	return strings.Replace(stack.Bob.ServeYAML("v1", backend, 1),
		"    price: 1\n", `    meter:
      bundletokens: 1000
      estimatedtokens: 50
      models:
        m1:
          inputmsatpertoken: 1
          outputmsatpertoken: 2
`, 1)
}

// llmBackend starts the streaming OpenAI-style test backend.
func llmBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(fakeLLM{})
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestItestMeterStreams: l402 fetch (alice) buys a bundle from bob's
// metered serve in front of a streaming backend, spends it over many
// streamed completions, each answer's balance falling by the usage the
// stream reported, and when the balance cannot hold a request's
// reservation, gets a 402 and buys the next bundle, once.
func TestItestMeterStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addr, _ := runServe(t, meterYAML(llmBackend(t)))
	store, err := tokens.Open(ctx, filepath.Join(t.TempDir(), "tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	client := &fetch.Client{HTTP: &http.Client{}, Node: alice(t),
		Store: store}
	// 2 prompt tokens and 40 streamed ones: 82 msat a request.
	body := chatBody("m1", "say 40", 0, true)
	opts := fetch.Options{URL: "http://" + addr + "/v1/chat/completions",
		Method: http.MethodPost,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body: func() (io.Reader, error) {
			return strings.NewReader(body), nil
		},
		MaxCostSat: 10, MaxFeeSat: 10, MaxTotalSat: 100,
		PaymentTimeout: time.Minute}

	// Each completion costs 82 msat and reserves 100 (50 estimated
	// output tokens): 1500 admits 18 of them (down to 24 msat), the 19th
	// is refused and buys the next bundle. A stream cut short on the way
	// (seen once in a CI run beside other builds: serve's read of the
	// backend ended "use of closed network connection", and the client
	// saw an unexpected EOF; not reproduced since) is an abandoned
	// stream, settled at its reservation, or at its usage when the usage
	// chunk had passed: up to two are allowed and reckoned with.
	var (
		bought []int
		cuts   int
		want   = []int64{1500}
	)
	for i := 0; len(bought) < 2; i++ {
		if i > 24 {
			t.Fatalf("%d fetches and bundles bought at %v", i, bought)
		}
		var out strings.Builder
		res, err := client.Fetch(ctx, opts, &out)
		if err != nil {
			if !strings.Contains(err.Error(), "unexpected EOF") ||
				cuts == 2 || i == 0 {
				t.Fatalf("fetch %d: %v", i, err)
			}
			cuts++
			t.Logf("fetch %d: the stream was cut (%v); it settles at "+
				"its reservation or its usage", i, err)
			var next []int64
			for _, w := range want {
				next = append(next, w-100, w-82)
			}
			want = next
			continue
		}
		if !strings.Contains(out.String(), `"completion_tokens":40`) ||
			!strings.HasSuffix(out.String(), "data: [DONE]\n\n") ||
			strings.Count(out.String(), "tok ") != 40 {
			t.Fatalf("fetch %d: the stream came through changed: %q", i,
				out.String())
		}
		if res.BalanceRemaining == nil {
			t.Fatalf("fetch %d: no balance", i)
		}
		got := *res.BalanceRemaining
		if res.L402Paid {
			if res.L402AmountSat != 2 {
				t.Fatalf("fetch %d paid %d sat", i, res.L402AmountSat)
			}
			// Bought first, and again only when the balance could no
			// longer hold a reservation.
			if len(bought) == 1 && slices.IndexFunc(want, func(w int64) bool {
				return w < 100
			}) < 0 {
				t.Fatalf("fetch %d bought a bundle with %v msat left", i,
					want)
			}
			bought = append(bought, i)
			want = []int64{1500}
		}
		if !slices.Contains(want, got) {
			t.Fatalf("fetch %d saw a balance of %d, want one of %v", i,
				got, want)
		}
		want = []int64{got - 82}
	}
	// 18 admissions of 82 msat: the 19th fetch buys (a stream cut and
	// settled at 100 can bring that one fetch earlier).
	if bought[0] != 0 || (cuts == 0 && bought[1] != 18) {
		t.Fatalf("bought at fetches %v (%d streams cut), want 0 and 18",
			bought, cuts)
	}
}

// TestItestMeterReplicas: two replicas of bob's metered serve on one
// Postgres database draw one bundle down together: requests alternating
// between them see one balance, and requests to both at once are admitted
// only as far as the bundle holds their reservations.
func TestItestMeterReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := pgtest.Start(t)
	o := db.Options
	cfg := meterYAML(llmBackend(t)) + fmt.Sprintf("dbbackend: postgres\n"+
		"postgres:\n  host: %q\n  port: %d\n  user: %q\n  password: %q\n"+
		"  dbname: %q\n", o.Host, o.Port, o.User, o.Password, o.DBName)
	a, _ := runServe(t, cfg)
	b, _ := runServe(t, cfg)
	buyer := alice(t)

	post := func(addr, auth, body string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
			"http://"+addr+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		text, _ := io.ReadAll(resp.Body)
		return resp, string(text)
	}
	// The bundle is bought from replica a.
	body := chatBody("m1", "say 40", 0, true)
	resp, _ := post(a, "", body)
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	pre := payOnRegtest(t, ctx, buyer, chs[0].Invoice)
	mac, _ := l402.EncodeMacaroonBase64(chs[0].Macaroon)
	auth := "L402 " + mac + ":" + hex.EncodeToString(pre[:])

	// Alternating: each replica's header says what the other's request
	// left.
	for i := range 6 {
		addr := []string{a, b}[i%2]
		resp, text := post(addr, auth, body)
		got, _ := strconv.ParseInt(resp.Header.Get(HeaderBalanceRemaining),
			10, 64)
		if resp.StatusCode != 200 || got != int64(1500-82*i) {
			t.Fatalf("request %d at %s: %d, balance %d: %q", i, addr,
				resp.StatusCode, got, text)
		}
	}
	// 1008 left: at most ten 100 msat reservations, from 20 requests to
	// both replicas at once.
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		served int
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := post([]string{a, b}[i%2], auth, body)
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case 200:
				served++
			case http.StatusPaymentRequired:
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	resp, _ = post(b, auth, chatBody("m1", "say 1", 1, false))
	left, _ := strconv.ParseInt(resp.Header.Get(HeaderBalanceRemaining), 10,
		64)
	if served == 0 || served > 12 || left != int64(1008-82*served) {
		t.Fatalf("%d served at once, %d msat left; want %d", served, left,
			1008-82*served)
	}
}
