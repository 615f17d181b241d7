package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"
)

// spent returns the ledger's total for the env, pending included.
func (e *env) spent(t *testing.T) int64 {
	t.Helper()
	s, err := e.store.Spent(context.Background(), "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFetchPaysOnceAndReusesTheToken(t *testing.T) {
	e := newEnv(t, 100, "regtest")
	ctx := context.Background()

	var out strings.Builder
	res, err := e.client.Fetch(ctx, e.opts(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "paid content for GET" || res.StatusCode != 200 ||
		!res.L402Paid || res.L402AmountSat != 100 || res.L402FeeSat != 0 ||
		res.Size != int64(out.Len()) || res.ContentType != "text/plain" ||
		res.InvoiceAmountSat != 0 || res.Invoice != "" {
		t.Fatalf("result %+v body %q", res, out.String())
	}

	out.Reset()
	res, err = e.client.Fetch(ctx, e.opts(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.L402Paid || out.String() != "paid content for GET" {
		t.Fatalf("second fetch paid again: %+v", res)
	}
	if n := e.wall.Challenges(); n != 1 {
		t.Fatalf("%d challenges, want 1", n)
	}
	if got := e.spent(t); got != 100_000 {
		t.Fatalf("ledger %d msat", got)
	}
	tok, err := e.store.Token(ctx, e.origin())
	if err != nil || tok.AmountMsat != 100_000 {
		t.Fatalf("stored token %+v %v", tok, err)
	}
}

func TestFetchNoPayNeverPays(t *testing.T) {
	e := newEnv(t, 5000, "regtest")
	opts := e.opts()
	opts.NoPay = true
	var out strings.Builder
	res, err := e.client.Fetch(context.Background(), opts, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 402 || res.L402Paid || res.InvoiceAmountSat != 5000 ||
		res.MaxCostSats != DefaultMaxCostSat || res.Invoice == "" ||
		out.Len() != 0 {
		t.Fatalf("preview %+v %q", res, out.String())
	}
	if e.spent(t) != 0 {
		t.Fatal("--no-pay paid")
	}
}

// TestFetchNoPayLeavesAPendingPaymentUnpaid: a preview that finds a
// payment an earlier run recorded but never made does not make it: it
// stays pending for a run that may pay.
func TestFetchNoPayLeavesAPendingPaymentUnpaid(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	_, p := e.recordPending(t)
	opts := e.opts()
	opts.NoPay = true
	res, err := e.client.Fetch(context.Background(), opts,
		&strings.Builder{})
	if err != nil || res.StatusCode != 402 || res.L402Paid {
		t.Fatalf("preview %+v %v", res, err)
	}
	inv, err := e.seller.LookupInvoice(context.Background(), p.PaymentHash)
	if err != nil || inv.State == lightning.InvoiceSettled {
		t.Fatalf("--no-pay paid the pending invoice: %+v %v", inv, err)
	}
	pend, _ := e.store.PendingFor(context.Background(), "")
	if len(pend) != 1 || pend[0].PaymentHash != p.PaymentHash {
		t.Fatalf("pending %+v, want the recorded payment kept", pend)
	}
}

// hostile rewrites a challenge into one that fetch must refuse.
type hostile struct {
	name     string
	price    int64
	network  string
	rewrite  func(e *env, honest []string, inv lightning.Invoice) []string
	wantCode string
	wantExit int
	wantPaid bool
}

func TestFetchRefusesHostileChallenges(t *testing.T) {
	// otherHash mints a challenge whose macaroon commits to another hash.
	otherHash := func(e *env, _ []string, inv lightning.Invoice) []string {
		mac, _ := l402.Mint(make([]byte, 32), l402.NewIdentifier(
			l402.Hash{9}, l402.TokenID{1}))
		v, _ := l402.BuildChallenges(mac, inv.PaymentRequest)
		return v
	}
	// amountless swaps the invoice for one without an amount.
	amountless := func(e *env, honest []string, _ lightning.Invoice) []string {
		inv, _ := e.seller.AddInvoice(context.Background(),
			lightning.InvoiceRequest{})
		return swapInvoice(honest, inv.PaymentRequest)
	}
	// expired swaps the invoice for one issued two hours ago with an
	// hour to live.
	expired := func(e *env, honest []string, _ lightning.Invoice) []string {
		e.seller.SetClock(func() time.Time {
			return time.Now().Add(-2 * time.Hour)
		})
		defer e.seller.SetClock(time.Now)
		inv, _ := e.seller.AddInvoice(context.Background(),
			lightning.InvoiceRequest{AmountSat: 10, Expiry: time.Hour})
		return swapInvoice(honest, inv.PaymentRequest)
	}

	// forged swaps the invoice for one for the same payment hash, signed
	// by another key, that BOLT 11 says a reader must fail.
	forged := func(opts ...func(*zpay32.Invoice)) func(*env, []string,
		lightning.Invoice) []string {

		return func(e *env, honest []string, inv lightning.Invoice) []string {
			t.Helper()
			return swapInvoice(honest, forgedInvoice(t, inv.PaymentHash,
				time.Now(), opts...))
		}
	}
	highSig := func(e *env, honest []string, inv lightning.Invoice) []string {
		return swapInvoice(honest, highS(t, inv.PaymentRequest))
	}

	tests := []hostile{
		{name: "unknown even feature bit", price: 10, rewrite: forged(
			withSecret(), withFeatures(lnwire.FeatureBit(100))),
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "no payment secret", price: 10, rewrite: forged(),
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "high-S signature", price: 10, rewrite: highSig,
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "price above max-cost", price: 1001, wantCode: "over_budget",
			wantExit: 2},
		{name: "2 BTC written without a multiplier", price: 200_000_000,
			wantCode: "over_budget", wantExit: 2},
		{name: "no amount", price: 10, rewrite: amountless,
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "wrong network", price: 10, network: "testnet",
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "signet prefix", price: 10, network: "signet",
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "wrong hash", price: 10, rewrite: otherHash,
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "expired", price: 10, rewrite: expired,
			wantCode: "invalid_invoice", wantExit: 2},
		{name: "garbage base64", price: 10, rewrite: func(*env, []string,
			lightning.Invoice) []string {
			return []string{`L402 macaroon="!!!", invoice="lnbcrt1x"`}
		}, wantCode: "invalid_challenge", wantExit: 2},
		{name: "no challenge", price: 10, rewrite: func(*env, []string,
			lightning.Invoice) []string {
			return nil
		}, wantCode: "invalid_challenge", wantExit: 2},
		{name: "order swapped", price: 10, rewrite: func(_ *env,
			h []string, _ lightning.Invoice) []string {
			return []string{h[1], h[0]}
		}, wantPaid: true},
		{name: "token= form, L402 only", price: 10, rewrite: func(_ *env,
			h []string, _ lightning.Invoice) []string {
			return []string{strings.Replace(h[1], "macaroon=", "token=", 1)}
		}, wantPaid: true},
		{name: "several challenges in one line", price: 10,
			rewrite: func(_ *env, h []string, _ lightning.Invoice) []string {
				return []string{`Basic realm="x", ` + h[0] + ", " + h[1]}
			}, wantPaid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			network := tc.network
			if network == "" {
				network = "regtest"
			}
			e := newEnv(t, tc.price, network)
			if tc.rewrite != nil {
				e.wall.Rewrite = func(h []string,
					inv lightning.Invoice) []string {
					return tc.rewrite(e, h, inv)
				}
			}
			var out strings.Builder
			res, err := e.client.Fetch(context.Background(), e.opts(), &out)

			if tc.wantPaid {
				if err != nil || !res.L402Paid {
					t.Fatalf("not paid: %+v %v", res, err)
				}
				return
			}
			if cli.Code(err) != tc.wantCode ||
				cli.ExitCode(err) != tc.wantExit {
				t.Fatalf("got %v (%s), want code %s exit %d", err,
					cli.Code(err), tc.wantCode, tc.wantExit)
			}
			if res.L402Paid || e.spent(t) != 0 || out.Len() != 0 {
				t.Fatalf("refused challenge was paid: %+v", res)
			}
			pend, _ := e.store.PendingFor(context.Background(), "")
			if len(pend) != 0 {
				t.Fatalf("refusal left a pending payment")
			}
		})
	}
}

// swapInvoice replaces the invoice of every challenge line.
func swapInvoice(lines []string, invoice string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		start := strings.Index(l, `invoice="`) + len(`invoice="`)
		end := strings.Index(l[start:], `"`) + start
		out[i] = l[:start] + invoice + l[end:]
	}
	return out
}

func TestFetchPaymentFailure(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{FailureReason: "FAILURE_REASON_NO_ROUTE"}
	})
	_, err := e.client.Fetch(context.Background(), e.opts(), &strings.Builder{})
	if cli.ExitCode(err) != cli.ExitPayment ||
		!strings.Contains(err.Error(), "NO_ROUTE") {
		t.Fatalf("got %v", err)
	}
	pend, _ := e.store.PendingFor(context.Background(), "")
	if len(pend) != 0 || e.spent(t) != 0 {
		t.Fatal("a failed payment stayed pending or in the ledger")
	}

	// The fee limit reaches the node: a route that costs more fails.
	e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{FeeMsat: 11_000}
	})
	_, err = e.client.Fetch(context.Background(), e.opts(), &strings.Builder{})
	if cli.ExitCode(err) != cli.ExitPayment {
		t.Fatalf("fee above --max-fee: %v", err)
	}
}

// TestFetchResumesAfterACrash covers a run that stopped while its payment
// was in flight: the next run finishes it instead of paying again.
func TestFetchResumesAfterACrash(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{Hold: true}
	})
	ctx, cancel := context.WithTimeout(context.Background(),
		300*time.Millisecond)
	_, err := e.client.Fetch(ctx, e.opts(), &strings.Builder{})
	cancel()
	if cli.ExitCode(err) != cli.ExitPayment {
		t.Fatalf("interrupted payment: %v", err)
	}
	pend, _ := e.store.PendingFor(context.Background(), "")
	if len(pend) != 1 {
		t.Fatalf("pending %d, want the interrupted payment", len(pend))
	}

	// Still in flight: the next run waits up to the payment timeout,
	// then says so without paying again.
	opts := e.opts()
	opts.PaymentTimeout = 100 * time.Millisecond
	_, err = e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if cli.ExitCode(err) != cli.ExitPayment ||
		!strings.Contains(err.Error(), "still in flight") {
		t.Fatalf("in-flight resume: %v", err)
	}

	// It settles; the next run turns it into the token and pays nothing.
	e.buyer.SetPayHook(nil)
	if !e.buyer.Release(pend[0].PaymentHash, lightning.PayOutcome{}) {
		t.Fatal("payment was not held")
	}
	var out strings.Builder
	res, err := e.client.Fetch(context.Background(), e.opts(), &out)
	if err != nil || res.L402Paid || out.String() != "paid content for GET" {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if n := e.wall.Challenges(); n != 1 {
		t.Fatalf("%d challenges: the resumed payment was bought again", n)
	}
	if e.spent(t) != 10_000 {
		t.Fatalf("ledger %d", e.spent(t))
	}
}

func TestFetchDropsAPendingPaymentNeverMade(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	pre := l402.Preimage{42}
	if err := e.store.AddPending(context.Background(), tokens.Pending{
		PaymentHash: pre.Hash(), Origin: e.origin(), Invoice: "lnbcrt1x",
		Macaroon: []byte{1}, AmountMsat: 1000}); err != nil {
		t.Fatal(err)
	}
	res, err := e.client.Fetch(context.Background(), e.opts(),
		&strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("%+v %v", res, err)
	}
	if pend, _ := e.store.PendingFor(context.Background(), ""); len(pend) != 0 {
		t.Fatal("the never-made payment is still pending")
	}
}

func TestFetchReplaysTheBody(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	opts := e.opts()
	opts.Method = http.MethodPost
	opts.Body = BodyBytes([]byte(`{"q":1}`))
	opts.Header = http.Header{"Content-Type": {"application/json"}}
	var out strings.Builder
	if _, err := e.client.Fetch(context.Background(), opts, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "paid content for POST" ||
		e.wall.LastBody() != `{"q":1}` {
		t.Fatalf("body %q, server saw %v", out.String(), e.wall.LastBody())
	}
}

func TestFetchReplacesARefusedToken(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	ctx := context.Background()
	if _, err := e.client.Fetch(ctx, e.opts(), &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	first, _ := e.store.Token(ctx, e.origin())

	// The server forgets its tokens: the cached one gets a 402, a new
	// one is bought, and it replaces the old one.
	e.wall.Forget()
	res, err := e.client.Fetch(ctx, e.opts(), &strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("%+v %v", res, err)
	}
	second, _ := e.store.Token(ctx, e.origin())
	if second.PaymentHash == first.PaymentHash {
		t.Fatal("token not replaced")
	}
}

func TestFetchTokenRefusedAfterPurchase(t *testing.T) {
	e := newEnv(t, 10, "regtest")

	// The server forgets every token right after selling it.
	base := e.wall
	srvHandler := http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		base.ServeHTTP(w, r)
		if r.Header.Get("Authorization") == "" {
			base.Forget()
		}
	})
	e.srv.Config.Handler = srvHandler

	_, err := e.client.Fetch(context.Background(), e.opts(), &strings.Builder{})
	if !errors.Is(err, ErrTokenRefused) || cli.Code(err) != "token_refused" {
		t.Fatalf("got %v", err)
	}
	if _, err := e.store.Token(context.Background(), e.origin()); err != nil {
		t.Fatal("a paid token was thrown away")
	}
}

func TestFetchConcurrentBuyersPayOnce(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine is its own client, as separate processes
			// would be, sharing the store file.
			c := &Client{HTTP: e.client.HTTP, Node: e.buyer, Store: e.store}
			var out strings.Builder
			if _, err := c.Fetch(context.Background(), e.opts(),
				&out); err != nil {
				errs <- err
				return
			}
			if out.String() != "paid content for GET" {
				errs <- fmt.Errorf("body %q", out.String())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if e.spent(t) != 10_000 {
		t.Fatalf("spent %d msat: paid more than once", e.spent(t))
	}
}

func TestFetchBadArguments(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	for _, u := range []string{"ftp://x/", "::nope", "/relative"} {
		opts := e.opts()
		opts.URL = u
		_, err := e.client.Fetch(context.Background(), opts,
			&strings.Builder{})
		if cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%q: %v", u, err)
		}
	}
	opts := e.opts()
	opts.MaxCostSat = -1
	if _, err := e.client.Fetch(context.Background(), opts,
		&strings.Builder{}); cli.ExitCode(err) != cli.ExitUsage {
		t.Errorf("negative max cost: %v", err)
	}
}

func TestFetchNetworkError(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	opts := e.opts()
	e.srv.Close()
	_, err := e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if cli.ExitCode(err) != cli.ExitNetwork {
		t.Fatalf("got %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second,
			true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"999999", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range tests {
		got, ok := retryAfter(http.Header{"Retry-After": {tc.v}}, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %v, want %v %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFetchStatusExitCodes(t *testing.T) {
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch r.URL.Path {
		case "/401":
			http.Error(w, "who are you", http.StatusUnauthorized)
		case "/429-once":
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			io.WriteString(w, "ok")
		case "/429-long":
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	e := newEnv(t, 10, "regtest")
	client := &Client{HTTP: srv.Client(), Node: e.buyer, Store: e.store}

	get := func(path string) (string, error) {
		opts := e.opts()
		opts.URL = srv.URL + path
		opts.MaxRetryWait = 2 * time.Second
		var out strings.Builder
		_, err := client.Fetch(context.Background(), opts, &out)
		return out.String(), err
	}

	if _, err := get("/401"); cli.ExitCode(err) != cli.ExitUnauthorized {
		t.Fatalf("401: %v", err)
	}
	calls = 0
	if body, err := get("/429-once"); err != nil || body != "ok" {
		t.Fatalf("429 with a short Retry-After: %q %v", body, err)
	}
	start := time.Now()
	_, err := get("/429-long")
	if cli.ExitCode(err) != cli.ExitRateLimited ||
		!strings.Contains(err.Error(), "3600") ||
		time.Since(start) > time.Second {
		t.Fatalf("429 with a long Retry-After: %v", err)
	}
}

func TestFetchSpendingCaps(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	ctx := context.Background()

	// A second paywall, its seller on the buyer's network, at another
	// origin: the caps span both.
	seller2, err := e.buyer.Network().NewNode("seller2", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	other := struct {
		wall *testpaywall.Paywall
		srv  *httptest.Server
	}{wall: testpaywall.New(seller2, 10)}
	other.srv = httptest.NewServer(other.wall)
	defer other.srv.Close()
	client := &Client{HTTP: e.client.HTTP, Node: e.buyer, Store: e.store}
	opts := func(url string) Options {
		o := e.opts()
		o.URL = url + "/api"
		o.MaxFeeSat = 1
		o.MaxTotalSat = 15
		return o
	}
	if _, err := client.Fetch(ctx, opts(e.srv.URL),
		&strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	_, err = client.Fetch(ctx, opts(other.srv.URL), &strings.Builder{})
	if !errors.Is(err, ErrOverBudget) || cli.Code(err) != "over_budget" ||
		cli.ExitCode(err) != 2 || refusedLimit(err) != LimitTotal ||
		!strings.Contains(err.Error(), "over max total of 15 sat") ||
		!strings.Contains(flagNamed(err).Error(), "over --max-total of 15") {
		t.Fatalf("over --max-total: %v", err)
	}

	// The per-origin cap counts only the origin's spending.
	o := opts(other.srv.URL)
	o.MaxTotalSat, o.MaxOriginSat = 0, 11
	if _, err := client.Fetch(ctx, o, &strings.Builder{}); err != nil {
		t.Fatalf("first purchase at another origin: %v", err)
	}
	other.wall.Forget()
	_, err = client.Fetch(ctx, o, &strings.Builder{})
	if !errors.Is(err, ErrOverBudget) || cli.Code(err) != "over_budget" ||
		refusedLimit(err) != LimitOrigin ||
		!strings.Contains(err.Error(), "per-origin") {
		t.Fatalf("over the per-origin cap: %v", err)
	}
	if spent, _ := e.store.Spent(ctx, "", time.Time{}); spent != 20_000 {
		t.Fatalf("spent %d msat", spent)
	}
}

// refusedLimit returns the cap a refusal names, LimitNone for another
// error.
func refusedLimit(err error) Limit {
	var r *Refusal
	if !errors.As(err, &r) {
		return LimitNone
	}
	return r.Limit
}

// flagNamed names the limits in err as the CLI does.
func flagNamed(err error) error {
	return NameLimits(err, map[Limit]string{LimitCost: "--max-cost",
		LimitTotal: "--max-total"})
}

// TestFetchCrashAtEachStep leaves the store and the node as a fetch killed
// at each step of a purchase would, and checks that the next run pays at
// most once in all.
func TestFetchCrashAtEachStep(t *testing.T) {
	steps := []struct {
		name string
		// crash brings the env to the state a kill at this step leaves.
		crash func(t *testing.T, e *env)
	}{
		{"after recording, before paying", func(t *testing.T, e *env) {
			e.recordPending(t)
			t.Cleanup(func() {
				// The recorded invoice itself is paid: none is bought.
				if n := e.wall.Challenges(); n != 1 {
					t.Errorf("%d challenges, want the recorded one", n)
				}
			})
		}},
		{"after paying, before storing the token", func(t *testing.T,
			e *env) {
			inv, _ := e.recordPending(t)
			if _, err := e.buyer.Pay(context.Background(),
				lightning.PayRequest{PaymentRequest: inv}); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a failed payment, before forgetting it", func(t *testing.T,
			e *env) {
			inv, _ := e.recordPending(t)
			e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
				return lightning.PayOutcome{FailureReason: "FAILURE_REASON_NO_ROUTE"}
			})
			e.buyer.Pay(context.Background(), lightning.PayRequest{
				PaymentRequest: inv})
			e.buyer.SetPayHook(nil)
		}},
		{"after storing the token, before the retry", func(t *testing.T,
			e *env) {
			if _, err := e.client.Fetch(context.Background(), e.opts(),
				&strings.Builder{}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, 10, "regtest")
			st.crash(t, e)

			var out strings.Builder
			if _, err := e.client.Fetch(context.Background(), e.opts(),
				&out); err != nil {
				t.Fatal(err)
			}
			if out.String() != "paid content for GET" {
				t.Fatalf("body %q", out.String())
			}
			pend, _ := e.store.PendingFor(context.Background(), "")
			stats, _ := e.store.Stats(context.Background())
			if len(pend) != 0 || len(stats) != 1 || stats[0].Payments != 1 {
				t.Fatalf("pending %d, ledger %+v: want one payment",
					len(pend), stats)
			}
			settled := 0
			for _, h := range e.wall.Issued() {
				inv, _ := e.seller.LookupInvoice(context.Background(), h)
				if inv.State == lightning.InvoiceSettled {
					settled++
				}
			}
			if settled != 1 {
				t.Fatalf("%d invoices paid, want 1", settled)
			}
		})
	}
}

// recordPending gets a real challenge from the paywall and records its
// payment as pending, as fetch does just before paying.
func (e *env) recordPending(t *testing.T) (string, tokens.Pending) {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o, err := vetChallenge(resp.Header, "regtest", 1000,
		DefaultMaxInvoiceExpiry, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := o.challenge.Macaroon.MarshalBinary()
	p := tokens.Pending{PaymentHash: o.invoice.PaymentHash,
		Origin: e.origin(), Macaroon: mac, Invoice: o.challenge.Invoice,
		AmountMsat: o.invoice.AmountMsat, CreatedAt: time.Now()}
	if err := e.store.AddPending(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return o.challenge.Invoice, p
}

// TestFetchPendingWithoutANode: a pending payment with no node configured
// is an error that says so, not a crash and not a second purchase.
func TestFetchPendingWithoutANode(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	e.recordPending(t)
	e.client.Node = nil
	opts := e.opts()
	opts.NoPay = true
	_, err := e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if !errors.Is(err, ErrNoNode) || !strings.Contains(err.Error(),
		"pending") {
		t.Fatalf("got %v", err)
	}
}

// TestFetchRedirects: a token never follows a redirect to another origin,
// and a 402 reached by such a redirect is not bought.
func TestFetchRedirects(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	ctx := context.Background()
	if _, err := e.client.Fetch(ctx, e.opts(), &strings.Builder{}); err != nil {
		t.Fatal(err)
	}

	// The paywall's origin now redirects to another port, which records
	// what it is sent.
	var seen atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		seen.Store(r.Header.Get("Authorization"))
		io.WriteString(w, "elsewhere")
	}))
	defer elsewhere.Close()
	wall := e.wall
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, elsewhere.URL+"/x", http.StatusFound)
			return
		}
		if r.URL.Path == "/to-paywall" {
			http.Redirect(w, r, otherWall(t, e)+"/api", http.StatusFound)
			return
		}
		wall.ServeHTTP(w, r)
	})

	opts := e.opts()
	opts.URL = e.srv.URL + "/moved"
	var out strings.Builder
	if _, err := e.client.Fetch(ctx, opts, &out); err != nil ||
		out.String() != "elsewhere" {
		t.Fatalf("redirect: %q %v", out.String(), err)
	}
	if seen.Load() != "" {
		t.Fatalf("the token followed the redirect: %q", seen.Load())
	}

	opts.URL = e.srv.URL + "/to-paywall"
	spent := e.spent(t)
	_, err := e.client.Fetch(ctx, opts, &strings.Builder{})
	if !errors.Is(err, ErrRedirectedChallenge) ||
		cli.Code(err) != "redirected_challenge" ||
		cli.ExitCode(err) != 2 || e.spent(t) != spent {
		t.Fatalf("402 after a redirect: %v", err)
	}
}

// otherWall starts a second paywall on the env's network.
func otherWall(t *testing.T, e *env) string {
	seller, err := e.buyer.Network().NewNode("other", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(testpaywall.New(seller, 10))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFetchContinueChecksContentRange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		w.Header().Set("Content-Range", "bytes 0-9/10")
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, "0123456789")
	}))
	defer srv.Close()
	e := newEnv(t, 10, "regtest")
	client := &Client{HTTP: srv.Client(), Node: e.buyer, Store: e.store}
	opts := e.opts()
	opts.URL = srv.URL
	opts.ResumeFrom = 5
	var out strings.Builder
	_, err := client.Fetch(context.Background(), opts, &out)
	if err == nil || out.Len() != 0 || !strings.Contains(err.Error(),
		"Content-Range") {
		t.Fatalf("wrong range accepted: %v %q", err, out.String())
	}
}

// TestFetchForgetsAPaymentTheNodeRefusedAtOnce: an invoice the node
// refuses before it starts the payment (lnd's SendPaymentV2 answering
// with an error, no payment made) leaves nothing pending and nothing
// counted against the caps, and the origin is not blocked.
func TestFetchForgetsAPaymentTheNodeRefusedAtOnce(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	ctx := context.Background()
	e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{Refuse: "the AMP flag must be set"}
	})
	opts := e.opts()
	opts.MaxFeeSat, opts.MaxTotalSat = 1, 15
	_, err := e.client.Fetch(ctx, opts, &strings.Builder{})
	if cli.ExitCode(err) != cli.ExitPayment ||
		!errors.Is(err, lightning.ErrPaymentNotStarted) ||
		!strings.Contains(err.Error(), "AMP flag") ||
		!strings.Contains(err.Error(), "nothing was paid") {
		t.Fatalf("refused at once: %v", err)
	}
	if pend, _ := e.store.PendingFor(ctx, ""); len(pend) != 0 ||
		e.spent(t) != 0 {
		t.Fatalf("pending %+v, spent %d msat: want nothing", pend,
			e.spent(t))
	}

	// The next run, with an invoice the node takes, pays within the
	// cap that the refused one would have filled.
	e.buyer.SetPayHook(nil)
	res, err := e.client.Fetch(ctx, opts, &strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("after the refusal: %+v %v", res, err)
	}
}

// TestFetchResumeForgetsAPaymentTheNodeRefuses: a pending payment the node
// has no record of is paid again; when the node refuses it at once, it is
// forgotten instead of blocking the origin until its invoice expires.
func TestFetchResumeForgetsAPaymentTheNodeRefuses(t *testing.T) {
	e := newEnv(t, 10, "regtest")
	ctx := context.Background()
	_, p := e.recordPending(t)
	e.buyer.SetPayHook(func(pr lightning.PayReq) lightning.PayOutcome {
		if pr.PaymentHash == p.PaymentHash {
			return lightning.PayOutcome{Refuse: "self-payments not allowed"}
		}
		return lightning.PayOutcome{}
	})
	res, err := e.client.Fetch(ctx, e.opts(), &strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("with a pending payment the node refuses: %+v %v", res, err)
	}
	pend, _ := e.store.PendingFor(ctx, "")
	if len(pend) != 0 || e.spent(t) != 10_000 {
		t.Fatalf("pending %+v, spent %d msat", pend, e.spent(t))
	}
	if inv, _ := e.seller.LookupInvoice(ctx, p.PaymentHash); inv.State ==
		lightning.InvoiceSettled {
		t.Fatal("the refused invoice was paid")
	}
}

// TestFetchCapsInvoiceExpiry: an invoice that would stay payable longer
// than the cap (a seller's 10-year invoice, or one dated in the future) is
// refused before anything is recorded, naming the cap; lnd's default of
// 24 hours passes the default cap.
func TestFetchCapsInvoiceExpiry(t *testing.T) {
	year := 365 * 24 * time.Hour
	tests := []struct {
		name     string
		expiry   time.Duration
		ahead    time.Duration // the seller's clock ahead of ours
		maxAge   time.Duration
		noPay    bool
		want     string
		wantPaid bool
	}{
		{name: "ten years", expiry: 10 * year,
			want: "over max invoice expiry 25h"},
		{name: "ten years, previewed", expiry: 10 * year, noPay: true,
			want: "over max invoice expiry 25h"},
		{name: "an hour, dated a year ahead", expiry: time.Hour,
			ahead: year, want: "over max invoice expiry 25h"},
		{name: "lnd's default of a day, the seller's clock a minute ahead",
			expiry: 24 * time.Hour, ahead: time.Minute, wantPaid: true},
		{name: "an hour, capped at 30 minutes", expiry: time.Hour,
			maxAge: 30 * time.Minute, want: "over max invoice expiry 30m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 10, "regtest")
			e.wall.SetExpiry(tc.expiry)
			e.seller.SetClock(func() time.Time {
				return time.Now().Add(tc.ahead)
			})
			opts := e.opts()
			opts.MaxInvoiceExpiry, opts.NoPay = tc.maxAge, tc.noPay
			res, err := e.client.Fetch(context.Background(), opts,
				&strings.Builder{})
			if tc.wantPaid {
				if err != nil || !res.L402Paid {
					t.Fatalf("not paid: %+v %v", res, err)
				}
				return
			}
			if cli.Code(err) != "invalid_invoice" || cli.ExitCode(err) != 2 ||
				refusedLimit(err) != LimitInvoiceExpiry ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid_invoice naming %q", err,
					tc.want)
			}
			named := NameLimits(err, map[Limit]string{
				LimitInvoiceExpiry: "--max-invoice-expiry"})
			if !strings.Contains(named.Error(), "--max-invoice-expiry") {
				t.Fatalf("named: %v", named)
			}
			pend, _ := e.store.PendingFor(context.Background(), "")
			if res.L402Paid || e.spent(t) != 0 || len(pend) != 0 {
				t.Fatalf("refused invoice recorded: %+v %+v", res, pend)
			}
		})
	}
}
