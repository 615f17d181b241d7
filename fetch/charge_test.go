package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
)

// chargeEnv is an env whose paywall sells with the schemes given, as
// serve's authscheme names them.
func chargeEnv(t *testing.T, price int64, schemes string) *env {
	t.Helper()
	e := newEnv(t, price, "regtest")
	e.wall.SetSchemes(schemes)
	return e
}

// ledger returns the env's ledger, newest first.
func (e *env) ledger(t *testing.T) []tokens.Payment {
	t.Helper()
	paid, err := e.store.Payments(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return paid
}

// checkSentOnce fails unless the paywall saw each Payment credential
// once, and n of them in all.
func (e *env) checkSentOnce(t *testing.T, n int) {
	t.Helper()
	creds, _ := e.wall.Credentials()
	seen := map[string]bool{}
	for _, c := range creds {
		if seen[c] {
			t.Fatalf("a Payment credential was sent twice: %v", creds)
		}
		seen[c] = true
	}
	if len(creds) != n {
		t.Fatalf("%d Payment credentials sent, want %d", len(creds), n)
	}
}

// TestFetchPaysACharge: a seller that offers only a Payment charge is
// paid through the pending record and the ledger, the request is retried
// once with the credential, and the receipt is kept. A charge buys one
// request: no token is stored, and the next fetch pays again.
func TestFetchPaysACharge(t *testing.T) {
	e := chargeEnv(t, 25, "mpp")
	ctx := context.Background()
	var log strings.Builder
	e.client.Log = &log

	var out strings.Builder
	res, err := e.client.Fetch(ctx, e.opts(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "paid content for GET" || !res.L402Paid ||
		res.L402AmountSat != 25 || res.PaymentScheme != "Payment" ||
		res.StatusCode != 200 || res.Invoice != "" {
		t.Fatalf("result %+v body %q", res, out.String())
	}
	paid := e.ledger(t)
	if len(paid) != 1 || paid[0].Scheme != tokens.SchemePayment ||
		paid[0].AmountMsat != 25_000 {
		t.Fatalf("ledger %+v", paid)
	}
	if r := res.PaymentReceipt; r == nil || r.Status != "success" ||
		r.Reference != paid[0].PaymentHash.String() || r.Method != "lightning" {
		t.Fatalf("receipt %+v", res.PaymentReceipt)
	}
	if !strings.Contains(log.String(), "receipt: success lightning") {
		t.Fatalf("-v does not show the receipt:\n%s", log.String())
	}
	j, _ := json.Marshal(res.JSON())
	if !strings.Contains(string(j), `"payment_scheme":"Payment"`) ||
		!strings.Contains(string(j), `"payment_receipt":{"status":"success"`) {
		t.Fatalf("JSON %s", j)
	}
	if _, err := e.store.Token(ctx, e.origin()); !errors.Is(err,
		tokens.ErrNotFound) {
		t.Fatalf("a charge stored a token: %v", err)
	}

	res, err = e.client.Fetch(ctx, e.opts(), &strings.Builder{})
	if err != nil || !res.L402Paid || e.wall.ChargesServed() != 2 ||
		len(e.ledger(t)) != 2 {
		t.Fatalf("second fetch: %+v %v", res, err)
	}
	e.checkSentOnce(t, 2)
	if pend, _ := e.store.PendingFor(ctx, ""); len(pend) != 0 {
		t.Fatalf("pending left %+v", pend)
	}
}

// TestFetchSchemePreference: with both schemes offered L402 is paid
// unless payment is preferred; a 402 that offers one scheme is paid with
// it whatever the preference; a cached L402 token is sent first.
func TestFetchSchemePreference(t *testing.T) {
	for _, tc := range []struct {
		schemes string
		prefer  Scheme
		want    string
	}{
		{"l402+mpp", "", "L402"},
		{"l402+mpp", SchemeL402, "L402"},
		{"l402+mpp", SchemePayment, "Payment"},
		{"l402", SchemePayment, "L402"},
		{"mpp", SchemeL402, "Payment"},
	} {
		t.Run(fmt.Sprintf("%s prefer %q", tc.schemes, tc.prefer),
			func(t *testing.T) {
				e := chargeEnv(t, 10, tc.schemes)
				opts := e.opts()
				opts.PreferScheme = tc.prefer
				var out strings.Builder
				res, err := e.client.Fetch(context.Background(), opts,
					&out)
				if err != nil || res.PaymentScheme != tc.want ||
					!res.L402Paid || out.String() != "paid content for GET" {
					t.Fatalf("%+v %q %v, want paid with %s", res,
						out.String(), err, tc.want)
				}
				_, terr := e.store.Token(context.Background(), e.origin())
				paid := e.ledger(t)
				if tc.want == "L402" {
					if terr != nil || paid[0].Scheme != tokens.SchemeL402 ||
						e.wall.ChargesServed() != 0 {
						t.Fatalf("L402: token %v, ledger %+v", terr, paid)
					}
					return
				}
				if terr == nil || paid[0].Scheme != tokens.SchemePayment ||
					e.wall.ChargesServed() != 1 {
					t.Fatalf("Payment: token %v, ledger %+v", terr, paid)
				}
			})
	}

	// A cached L402 token goes first, even when payment is preferred.
	e := chargeEnv(t, 10, "l402+mpp")
	if _, err := e.client.Fetch(context.Background(), e.opts(),
		&strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	opts := e.opts()
	opts.PreferScheme = SchemePayment
	res, err := e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if err != nil || res.L402Paid || e.wall.Challenges() != 1 ||
		res.PaymentScheme != "" {
		t.Fatalf("with a cached token: %+v %v", res, err)
	}

	// The token refused, payment preferred: a charge is paid, and the
	// token is kept.
	e.wall.Forget()
	res, err = e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if err != nil || !res.L402Paid || res.PaymentScheme != "Payment" {
		t.Fatalf("token refused, payment preferred: %+v %v", res, err)
	}
	if _, err := e.store.Token(context.Background(), e.origin()); err != nil {
		t.Fatalf("the refused token was dropped for a charge: %v", err)
	}
}

// TestFetchPreviewsACharge: --no-pay reports a charge's price and scheme,
// and pays nothing.
func TestFetchPreviewsACharge(t *testing.T) {
	e := chargeEnv(t, 30, "l402+mpp")
	opts := e.opts()
	opts.NoPay, opts.PreferScheme = true, SchemePayment
	res, err := e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if err != nil || res.StatusCode != 402 || res.InvoiceAmountSat != 30 ||
		res.PaymentScheme != "Payment" || res.Invoice == "" || res.L402Paid {
		t.Fatalf("preview %+v %v", res, err)
	}
	if e.spent(t) != 0 {
		t.Fatal("a preview paid")
	}
}

// TestFetchRefusesHostileCharges: every refusal of a Payment charge on the
// client side, with a challenge the seller bound (its id is valid): the
// request's hash, amount or network not the invoice's, an expired
// challenge, a price above --max-cost, another intent. Nothing is paid,
// recorded or sent.
func TestFetchRefusesHostileCharges(t *testing.T) {
	other := l402.Preimage{99}.Hash().String()
	tests := []struct {
		name    string
		price   int64
		rewrite func(*mpp.ChargeRequest, *mpp.Challenge)
		code    string
	}{
		{"hash mismatch between request and invoice", 10,
			func(r *mpp.ChargeRequest, _ *mpp.Challenge) {
				r.MethodDetails.PaymentHash = other
			}, "invalid_invoice"},
		{"request cheaper than the invoice", 10,
			func(r *mpp.ChargeRequest, _ *mpp.Challenge) {
				r.Amount = "1"
			}, "invalid_invoice"},
		{"request on another network", 10,
			func(r *mpp.ChargeRequest, _ *mpp.Challenge) {
				r.MethodDetails.Network = "mainnet"
			}, "invalid_invoice"},
		{"expired challenge", 10,
			func(_ *mpp.ChargeRequest, c *mpp.Challenge) {
				c.Expires = mpp.FormatExpires(time.Now().Add(-time.Second))
			}, "invalid_challenge"},
		{"amount above max-cost", 1001, nil, "over_budget"},
		{"currency other than sat", 10,
			func(r *mpp.ChargeRequest, _ *mpp.Challenge) {
				r.Currency = "usd"
			}, "invalid_challenge"},
		{"another method", 10,
			func(_ *mpp.ChargeRequest, c *mpp.Challenge) {
				c.Method = "tempo"
			}, "invalid_challenge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := chargeEnv(t, tc.price, "mpp")
			if tc.rewrite != nil {
				e.wall.RewriteCharge(tc.rewrite)
			}
			res, err := e.client.Fetch(context.Background(), e.opts(),
				&strings.Builder{})
			var r *Refusal
			if cli.Code(err) != tc.code || cli.ExitCode(err) != 2 ||
				!errors.As(err, &r) {
				t.Fatalf("got %v (%s), want %s", err, cli.Code(err),
					tc.code)
			}
			pend, _ := e.store.PendingFor(context.Background(), "")
			if res.L402Paid || e.spent(t) != 0 || len(pend) != 0 {
				t.Fatalf("refused charge recorded or paid: %+v %+v", res,
					pend)
			}
			e.checkSentOnce(t, 0)
		})
	}
}

// TestFetchChargeInPaymentAuthorization: a challenge that selects the
// Payment-Authorization field gets its credential there.
func TestFetchChargeInPaymentAuthorization(t *testing.T) {
	e := chargeEnv(t, 10, "mpp")
	e.wall.SetCredentialHeader(true)
	res, err := e.client.Fetch(context.Background(), e.opts(),
		&strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("%+v %v", res, err)
	}
	creds, fields := e.wall.Credentials()
	if len(creds) != 1 || fields[0] != mpp.HeaderPaymentAuthorization {
		t.Fatalf("credential sent in %v", fields)
	}
}

// recordingTransport records every request it sends, with its headers.
type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []*http.Request
}

// RoundTrip implements http.RoundTripper.
func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response,
	error) {

	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

// payments returns the URLs of the requests that carried a Payment
// credential, in either field.
func (r *recordingTransport) payments() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, req := range r.reqs {
		for _, f := range []string{"Authorization",
			mpp.HeaderPaymentAuthorization} {
			if strings.HasPrefix(req.Header.Get(f), "Payment ") {
				out = append(out, req.URL.String())
			}
		}
	}
	return out
}

// TestFetchChargeFollowsNoRedirect: a charge's credential goes to the
// resource whose 402 asked for it, after the redirects that led there,
// and follows no redirect of the answer: not to its own origin (it would
// be sent twice), not to http from an https purchase, not to another
// origin.
func TestFetchChargeFollowsNoRedirect(t *testing.T) {
	net := lightning.NewMemoryNetwork()
	buyer, _ := net.NewNode("buyer", "regtest")
	seller, _ := net.NewNode("seller", "regtest")
	wall := testpaywall.New(seller, 10)
	wall.SetSchemes("mpp")

	var plainSeen []string
	var mu sync.Mutex
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		mu.Lock()
		plainSeen = append(plainSeen, r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, "plain")
	}))
	defer plain.Close()

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		switch r.URL.Path {
		case "/start":
			// The 402 comes after a redirect to the origin itself.
			http.Redirect(w, r, "/paid?"+r.URL.RawQuery, http.StatusFound)
		case "/paid":
			rec := httptest.NewRecorder()
			wall.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			// Paid: the answer redirects, with the receipt.
			w.Header().Set(mpp.HeaderReceipt, rec.Header().Get(
				mpp.HeaderReceipt))
			http.Redirect(w, r, r.URL.Query().Get("then"),
				http.StatusFound)
		default:
			io.WriteString(w, "same origin, "+r.Header.Get("Authorization"))
		}
	}))
	defer srv.Close()
	host := srv.Listener.Addr().String()

	for _, then := range []string{
		"/elsewhere",                  // its own origin
		"http://" + host + "/x",       // http, same host and port
		plain.URL + "/another-origin", // another origin
	} {
		t.Run(then, func(t *testing.T) {
			store, err := tokens.Open(context.Background(),
				filepath.Join(t.TempDir(), "tokens.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			rt := &recordingTransport{base: srv.Client().Transport}
			c := &Client{HTTP: &http.Client{Transport: rt}, Node: buyer,
				Store: store}
			opts := Options{URL: srv.URL + "/start?then=" + then,
				MaxCostSat: 100, MaxFeeSat: 1, PaymentTimeout: 5 * time.Second,
				AllowHTTPError: true}
			res, err := c.Fetch(context.Background(), opts,
				&strings.Builder{})
			if err != nil && !errors.Is(err, ErrNetwork) {
				t.Fatal(err)
			}
			sent := rt.payments()
			if !res.L402Paid || len(sent) != 1 ||
				!strings.HasPrefix(sent[0], srv.URL+"/paid") {
				t.Fatalf("credential sent to %v (result %+v)", sent, res)
			}
			if res.PaymentReceipt == nil {
				t.Fatal("the receipt of the redirecting answer was lost")
			}
		})
	}
	for _, a := range plainSeen {
		if a != "" {
			t.Fatalf("another origin got %q", a)
		}
	}
}

// TestFetchChargeRefusedIsNotSentAgain: a server that answers 402 to the
// charge it was just paid gets token_refused, and the credential is not
// sent a second time; nor is it after a 429.
func TestFetchChargeRefusedIsNotSentAgain(t *testing.T) {
	for _, status := range []int{http.StatusPaymentRequired,
		http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := chargeEnv(t, 10, "mpp")
			wall := e.wall
			e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter,
				r *http.Request) {
				if strings.HasPrefix(r.Header.Get("Authorization"),
					"Payment ") {
					rec := httptest.NewRecorder()
					wall.ServeHTTP(rec, r) // seen, and claimed
					w.Header().Set("Retry-After", "0")
					http.Error(w, "no", status)
					return
				}
				wall.ServeHTTP(w, r)
			})
			opts := e.opts()
			opts.MaxRetryWait = time.Second
			_, err := e.client.Fetch(context.Background(), opts,
				&strings.Builder{})
			want := "token_refused"
			if status == http.StatusTooManyRequests {
				want = "rate_limited"
			}
			if cli.Code(err) != want {
				t.Fatalf("got %v (%s), want %s", err, cli.Code(err), want)
			}
			e.checkSentOnce(t, 1)
			if len(e.ledger(t)) != 1 {
				t.Fatalf("ledger %+v: the paid charge is not recorded",
					e.ledger(t))
			}
		})
	}
}

// TestFetchKeepsNoBadReceipt: a missing or malformed receipt is left out
// of the result; the fetch succeeds.
func TestFetchKeepsNoBadReceipt(t *testing.T) {
	for _, v := range []string{"", "not base64url!", mpp.Encode(
		[]byte(`{"status":"failed"}`))} {
		e := chargeEnv(t, 10, "mpp")
		e.wall.RewriteReceipt(func(string) string { return v })
		res, err := e.client.Fetch(context.Background(), e.opts(),
			&strings.Builder{})
		if err != nil || !res.L402Paid || res.PaymentReceipt != nil {
			t.Fatalf("receipt %q: %+v %v", v, res, err)
		}
	}
}

// TestFetchConcurrentChargesPayEachOnce: four processes buying charges
// from one origin at once pay four invoices, each once, and send each
// credential once.
func TestFetchConcurrentChargesPayEachOnce(t *testing.T) {
	e := chargeEnv(t, 10, "mpp")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
	e.checkSentOnce(t, 4)
	if e.spent(t) != 40_000 || e.wall.ChargesServed() != 4 {
		t.Fatalf("spent %d msat for %d charges", e.spent(t),
			e.wall.ChargesServed())
	}
}
