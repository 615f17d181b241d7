package serve

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// paymentEnv is a Handler selling "api" (100 sat, ^/api/) and "cheap"
// (1 sat, ^/cheap/) with the Payment scheme on, over a SQLite store and
// a memory seller node, and a buyer node that pays its challenges.
type paymentEnv struct {
	srv     *httptest.Server
	h       *Handler
	seller  *lightning.MemoryNode
	buyer   *lightning.MemoryNode
	store   *store.Store
	metrics *Metrics
	now     atomic.Int64
	cfg     *Config
}

// newPaymentEnv builds it with extra authenticator keys (after
// enablempp: true) and extra keys for the "api" service.
func newPaymentEnv(t testing.TB, authExtra, serviceExtra string) *paymentEnv {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		fmt.Fprintf(w, "backend %s auth=%q", r.URL.Path,
			r.Header.Values("Authorization"))
	}))
	t.Cleanup(backend.Close)
	return newPaymentEnvAt(t, strings.TrimPrefix(backend.URL, "http://"),
		authExtra, serviceExtra)
}

// newPaymentEnvAt is newPaymentEnv in front of the backend at addr.
func newPaymentEnvAt(t testing.TB, addr, authExtra,
	serviceExtra string, edits ...func(*HandlerOptions)) *paymentEnv {

	t.Helper()
	yaml := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+addr+`"`, 1)
	yaml = strings.Replace(yaml, "  network:", "  enablempp: true\n"+
		authExtra+"  network:", 1)
	yaml = strings.Replace(yaml, "    price: 100\n", "    price: 100\n"+
		serviceExtra, 1)
	// Tests and benchmarks ask for many challenges from one address.
	yaml = strings.Replace(yaml, "services:\n", "challengelimit:\n"+
		"  disable: true\nservices:\n", 1)
	yaml += fmt.Sprintf(`  - name: "cheap"
    hostregexp: ".*"
    pathregexp: "^/cheap/.*$"
    address: %q
    protocol: http
    price: 1
`, addr)
	cfg, err := LoadConfig(writeConfig(t, yaml))
	if err != nil {
		t.Fatal(err)
	}

	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	st, err := store.OpenSQLite(context.Background(),
		filepath.Join(t.TempDir(), "serve.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := bufferSessionDraws(st, cfg, slog.New(
		slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	secret, err := st.ChallengeSecret(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := &paymentEnv{seller: seller, buyer: buyer, store: st,
		metrics: NewMetrics(), cfg: cfg}
	e.now.Store(time.Now().Unix())
	clock := func() time.Time { return time.Unix(e.now.Load(), 0) }
	seller.SetClock(clock)
	buyer.SetClock(clock)
	auth := newTestAuthenticator(t, seller, st, 0, clock)
	opts := HandlerOptions{Metrics: e.metrics,
		Payment: &PaymentOptions{Store: st, Secret: secret, Node: seller,
			Refunds: seller, Network: "regtest"}}
	for _, edit := range edits {
		edit(&opts)
	}
	h, err := NewHandler(cfg, auth, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// get sends GET path with an Authorization value (none when empty).
func (e *paymentEnv) get(t testing.TB, path, auth string,
	extra ...string) (*http.Response, string) {

	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// challenges asks path for its Payment challenges, by intent.
func (e *paymentEnv) challenges(t testing.TB, path string) (
	map[string]mpp.Challenge, *http.Response) {

	t.Helper()
	resp, _ := e.get(t, path, "")
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]mpp.Challenge{}
	for _, c := range chs {
		out[c.Intent] = c
	}
	return out, resp
}

// pay pays an invoice from the buyer and returns the preimage.
func (e *paymentEnv) pay(t testing.TB, invoice string) l402.Preimage {
	t.Helper()
	p, err := e.buyer.Pay(context.Background(), lightning.PayRequest{
		PaymentRequest: invoice})
	if err != nil {
		t.Fatal(err)
	}
	return p.Preimage
}

// buyCharge pays path's charge challenge as a buyer does (VetCharge, a
// full invoice decode held against the request, the payment) and returns
// the credential's Authorization value.
func (e *paymentEnv) buyCharge(t testing.TB, path string) string {
	t.Helper()
	chs, _ := e.challenges(t, path)
	offer, err := mpp.VetCharge(chs[mpp.IntentCharge], 1000,
		time.Unix(e.now.Load(), 0))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := lightning.DecodeInvoice(offer.Invoice, "regtest")
	if err != nil {
		t.Fatal(err)
	}
	if err := offer.CheckInvoice(inv.PaymentHash, inv.AmountMsat,
		inv.Network); err != nil {
		t.Fatal(err)
	}
	cred, err := offer.Credential(e.pay(t, offer.Invoice))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := cred.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// problemOf decodes a response's problem body.
func problemOf(t *testing.T, resp *http.Response, body string) mpp.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != mpp.ProblemContentType {
		t.Fatalf("content type %q, body %q", ct, body)
	}
	var p mpp.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("problem %q: %v", body, err)
	}
	return p
}

// TestPaymentChallenge checks the 402 with the Payment scheme on: LSAT,
// L402, then the charge and the session challenge, each complete, with a
// request holding the invoice, its hash and network; the RFC 9457 body;
// and gRPC's trailers-only form.
func TestPaymentChallenge(t *testing.T) {
	e := newPaymentEnv(t, "  enablesessions: true\n  mpprealm: "+
		"api.example.com\n", "")
	resp, body := e.get(t, "/api/data", "")
	values := resp.Header.Values("WWW-Authenticate")
	if resp.StatusCode != http.StatusPaymentRequired || len(values) != 4 ||
		!strings.HasPrefix(values[0], "LSAT ") ||
		!strings.HasPrefix(values[1], "L402 ") ||
		!strings.Contains(values[2], `intent="charge"`) ||
		!strings.Contains(values[3], `intent="session"`) {
		t.Fatalf("challenge: %d %q", resp.StatusCode, values)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	p := problemOf(t, resp, body)
	if p.Type != mpp.ProblemBase+"payment-required" || p.Status != 402 {
		t.Fatalf("problem %+v", p)
	}

	chs, err := mpp.ParseChallenges(values)
	if err != nil || len(chs) != 2 {
		t.Fatalf("Payment challenges %v %v", chs, err)
	}
	now := time.Unix(e.now.Load(), 0)
	for _, c := range chs {
		exp, ok, err := c.ExpiresAt()
		if c.ID == "" || c.Realm != "api.example.com" ||
			c.Method != "lightning" || !ok || err != nil ||
			exp.Before(now.Add(DefaultInvoiceExpiry)) {
			t.Errorf("challenge %+v", c)
		}
	}
	req, err := mpp.DecodeChargeRequest(chs[0].Request)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := lightning.DecodeInvoice(req.MethodDetails.Invoice, "regtest")
	if err != nil || req.Amount != "100" || req.Currency != "sat" ||
		req.MethodDetails.Network != "regtest" ||
		req.MethodDetails.PaymentHash != inv.PaymentHash.String() ||
		inv.AmountMsat != 100_000 {
		t.Fatalf("charge request %+v, invoice %+v %v", req, inv, err)
	}
	sreq, err := mpp.DecodeSessionRequest(chs[1].Request)
	if err != nil {
		t.Fatal(err)
	}
	dep, err := lightning.DecodeInvoice(sreq.DepositInvoice, "regtest")
	if err != nil || sreq.Amount != "100" || sreq.DepositAmount != "2000" ||
		dep.AmountMsat != 2_000_000 || sreq.IdleTimeout != "300" ||
		sreq.PaymentHash != dep.PaymentHash.String() {
		t.Fatalf("session request %+v, deposit %+v %v", sreq, dep, err)
	}

	resp, body = e.get(t, "/api/data", "", "Content-Type",
		"application/grpc")
	if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "13" ||
		body != "" || len(resp.Header.Values("WWW-Authenticate")) != 4 {
		t.Fatalf("gRPC challenge: %d %v %q", resp.StatusCode, resp.Header,
			body)
	}
	if !strings.Contains(metricsText(e.metrics),
		`l402_challenges_by_scheme_total{scheme="payment",service="api"} 2`) {
		t.Fatalf("metrics:\n%s", metricsText(e.metrics))
	}
}

// TestPaymentCharge buys one request with a charge: the backend answers,
// with a receipt naming the payment hash; the same credential again, here
// or at another service, buys nothing more.
func TestPaymentCharge(t *testing.T) {
	e := newPaymentEnv(t, "", "")
	auth := e.buyCharge(t, "/api/data")
	resp, body := e.get(t, "/api/data", auth)
	if resp.StatusCode != 200 || !strings.HasPrefix(body,
		"backend /api/data") {
		t.Fatalf("paid request: %d %q", resp.StatusCode, body)
	}
	r, err := mpp.ParseReceipt(resp.Header.Get(mpp.HeaderReceipt))
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := mpp.ParseCredential(http.Header{"Authorization": {auth}})
	req, _ := mpp.DecodeChargeRequest(cred.Challenge.Request)
	if r.Reference != req.MethodDetails.PaymentHash || r.Status != "success" ||
		r.ChallengeID != cred.Challenge.ID || r.Method != "lightning" {
		t.Fatalf("receipt %+v", r)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "private" {
		t.Fatalf("paid response Cache-Control %q", cc)
	}

	resp, body = e.get(t, "/api/data", auth)
	if resp.StatusCode != http.StatusPaymentRequired ||
		problemOf(t, resp, body).Type != mpp.ProblemBase+
			"invalid-challenge" ||
		len(resp.Header.Values("WWW-Authenticate")) != 3 {
		t.Fatalf("replayed charge: %d %q %q", resp.StatusCode, body,
			resp.Header.Values("WWW-Authenticate"))
	}
	m := metricsText(e.metrics)
	for _, want := range []string{
		`l402_credentials_total{outcome="accepted",scheme="payment",service="api"} 1`,
		`l402_credentials_total{outcome="reused",scheme="payment",service="api"} 1`,
		`l402_tokens_rejected_total{reason="reused",service="api"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
}

// tamper returns auth's credential with edit applied to its echoed
// challenge or payload.
func tamper(t *testing.T, auth string, edit func(*mpp.Credential)) string {
	t.Helper()
	c, err := mpp.ParseCredential(http.Header{"Authorization": {auth}})
	if err != nil {
		t.Fatal(err)
	}
	edit(&c)
	v, err := c.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPaymentRefusals refuses every way a charge credential can be wrong,
// each with a 402, fresh challenges and the problem of its condition,
// counted by reason; none reaches the backend.
func TestPaymentRefusals(t *testing.T) {
	e := newPaymentEnv(t, "", "")
	var wrong l402.Preimage
	rand.Read(wrong[:])
	tests := []struct {
		name   string
		auth   func(t *testing.T) string
		path   string
		slug   string
		reason string
	}{
		{"malformed", func(*testing.T) string { return "Payment %%%" },
			"/api/x", "malformed-credential", "malformed"},
		{"wrong realm", func(t *testing.T) string {
			return tamper(t, e.buyCharge(t, "/api/x"), func(c *mpp.Credential) {
				c.Challenge.Realm = "elsewhere.example"
			})
		}, "/api/x", "invalid-challenge", "wrong_realm"},
		{"tampered request", func(t *testing.T) string {
			cheap, _ := e.challenges(t, "/cheap/x")
			return tamper(t, e.buyCharge(t, "/api/x"), func(c *mpp.Credential) {
				c.Challenge.Request = cheap[mpp.IntentCharge].Request
			})
		}, "/api/x", "invalid-challenge", "tampered"},
		{"wrong preimage", func(t *testing.T) string {
			return tamper(t, e.buyCharge(t, "/api/x"), func(c *mpp.Credential) {
				c.Payload, _ = mpp.Canonical(mpp.ChargePayload{
					Preimage: wrong.String()})
			})
		}, "/api/x", "verification-failed", "wrong_preimage"},
		{"another service's challenge", func(t *testing.T) string {
			return e.buyCharge(t, "/cheap/x")
		}, "/api/x", "invalid-challenge", "resource"},
		{"expired", func(t *testing.T) string {
			auth := e.buyCharge(t, "/api/x")
			e.now.Add(int64((DefaultInvoiceExpiry + challengeGrace) /
				time.Second))
			return auth
		}, "/api/x", "payment-expired", "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.get(t, tc.path, tc.auth(t))
			if resp.StatusCode != http.StatusPaymentRequired ||
				strings.HasPrefix(body, "backend") {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			if p := problemOf(t, resp, body); p.Type != mpp.ProblemBase+
				tc.slug || p.Status != 402 {
				t.Fatalf("problem %+v, want %s", p, tc.slug)
			}
			if len(resp.Header.Values("WWW-Authenticate")) != 3 {
				t.Fatalf("no fresh challenges: %q",
					resp.Header.Values("WWW-Authenticate"))
			}
			if !strings.Contains(metricsText(e.metrics),
				`l402_credentials_total{outcome="`+tc.reason+
					`",scheme="payment",service="api"} 1`) {
				t.Fatalf("reason %s not counted:\n%s", tc.reason,
					metricsText(e.metrics))
			}
		})
	}

	// A session credential where no sessions are sold is not a
	// challenge's matter: 400.
	chs, _ := e.challenges(t, "/api/x")
	sessionCred := tamper(t, e.buyCharge(t, "/api/x"), func(c *mpp.Credential) {
		c.Challenge = chs[mpp.IntentCharge]
		c.Challenge.Intent = mpp.IntentSession
	})
	resp, body := e.get(t, "/api/x", sessionCred)
	if resp.StatusCode != http.StatusBadRequest || problemOf(t, resp,
		body).Type != mpp.ProblemBase+"method-unsupported" {
		t.Fatalf("session credential without sessions: %d %q",
			resp.StatusCode, body)
	}
}

// TestPaymentAuthScheme: a service's authscheme picks its schemes, for
// the challenges and for the credentials it takes.
func TestPaymentAuthScheme(t *testing.T) {
	only := newPaymentEnv(t, "", "    authscheme: mpp\n")
	resp, _ := only.get(t, "/api/x", "")
	values := resp.Header.Values("WWW-Authenticate")
	if len(values) != 1 || !strings.HasPrefix(values[0], "Payment ") {
		t.Fatalf("authscheme mpp offers %q", values)
	}

	l402Only := newPaymentEnv(t, "", "    authscheme: l402\n")
	resp, body := l402Only.get(t, "/api/x", "")
	values = resp.Header.Values("WWW-Authenticate")
	if len(values) != 2 || body != "payment required" {
		t.Fatalf("authscheme l402 offers %q with %q", values, body)
	}
	// A charge bought at a Payment service buys nothing at an L402-only
	// one: the credential is not of its schemes.
	auth := l402Only.buyCharge(t, "/cheap/x")
	if resp, _ := l402Only.get(t, "/api/x", auth); resp.StatusCode != 402 {
		t.Fatalf("a Payment credential at an L402-only service: %d",
			resp.StatusCode)
	}
}

// TestPaymentNeedsAStore: the Payment scheme without a store for its
// single-use claims is refused when the handler is built, with the
// reason.
func TestPaymentNeedsAStore(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, mppConfig("")))
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t)
	_, err = NewHandler(cfg, e.auth, HandlerOptions{})
	if err == nil || !strings.Contains(err.Error(), "single-use claims") {
		t.Fatalf("no store: %v", err)
	}
}

// sessionCred returns the Authorization value of a session credential
// answering ch with payload.
func sessionCred(t testing.TB, ch mpp.Challenge,
	payload mpp.SessionPayload) string {

	t.Helper()
	c, err := mpp.NewCredential(ch, payload)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPaymentSession opens a session, draws it down request by request to
// below the price, tops it up, and closes it: the refund of what is left
// is paid to the buyer's return invoice. Open and bearer requests reach
// the backend and cost the price; topUp and close are serve's to answer.
// It runs with the draws held in memory (the default) and with each
// draw written before its request goes on (sessionwriteinterval 0s).
func TestPaymentSession(t *testing.T) {
	for name, extra := range map[string]string{"held": "",
		"written": "  sessionwriteinterval: 0s\n"} {
		t.Run(name, func(t *testing.T) { testPaymentSession(t, extra) })
	}
}

// testPaymentSession is TestPaymentSession with extra authenticator keys.
func testPaymentSession(t *testing.T, extra string) {
	e := newPaymentEnv(t, "  enablesessions: true\n"+
		"  sessiondepositmultiplier: 3\n"+extra, "")
	if held := e.store.HoldsSessionDraws(); held != (extra == "") {
		t.Fatalf("draws held in memory: %v", held)
	}
	ctx := context.Background()
	chs, _ := e.challenges(t, "/api/x")
	open := chs[mpp.IntentSession]
	req, _ := mpp.DecodeSessionRequest(open.Request)
	deposit := e.pay(t, req.DepositInvoice)
	sessionID := req.PaymentHash
	ret, err := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{
		Memo: "refund"})
	if err != nil {
		t.Fatal(err)
	}

	// The open request is the first of the deposit's three.
	resp, body := e.get(t, "/api/x", sessionCred(t, open, mpp.SessionPayload{
		Action: mpp.ActionOpen, Preimage: deposit.String(),
		ReturnInvoice: ret.PaymentRequest}))
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "backend") {
		t.Fatalf("open: %d %q", resp.StatusCode, body)
	}
	if r, err := mpp.ParseReceipt(resp.Header.Get(
		mpp.HeaderReceipt)); err != nil || r.Reference != sessionID {
		t.Fatalf("open receipt %+v %v", r, err)
	}
	bearer := sessionCred(t, open, mpp.SessionPayload{
		Action: mpp.ActionBearer, SessionID: sessionID,
		Preimage: deposit.String()})
	for i := range 2 {
		if resp, body := e.get(t, "/api/x", bearer); resp.StatusCode != 200 {
			t.Fatalf("bearer %d: %d %q", i, resp.StatusCode, body)
		}
	}
	resp, body = e.get(t, "/api/x", bearer)
	if resp.StatusCode != 402 || problemOf(t, resp, body).Type !=
		mpp.ProblemBase+"lightning/insufficient-balance" {
		t.Fatalf("bearer past the balance: %d %q", resp.StatusCode, body)
	}
	// Another service cannot draw on it.
	cheap, _ := e.challenges(t, "/cheap/x")
	if resp, _ := e.get(t, "/cheap/x", sessionCred(t,
		cheap[mpp.IntentSession], mpp.SessionPayload{
			Action: mpp.ActionBearer, SessionID: sessionID,
			Preimage: deposit.String()})); resp.StatusCode != 402 {
		t.Fatalf("bearer at another service: %d", resp.StatusCode)
	}

	// Top up with the fresh session challenge of that 402.
	fresh, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	top := fresh[len(fresh)-1]
	topReq, _ := mpp.DecodeSessionRequest(top.Request)
	topPreimage := e.pay(t, topReq.DepositInvoice)
	// The top-up is answered by serve, not the backend, and costs
	// nothing: the draft's {"status":"ok"}.
	resp, body = e.get(t, "/api/x", sessionCred(t, top, mpp.SessionPayload{
		Action: mpp.ActionTopUp, SessionID: sessionID,
		TopUpPreimage: topPreimage.String()}))
	if resp.StatusCode != 200 || body != `{"status":"ok"}` ||
		resp.Header.Get(mpp.HeaderReceipt) == "" {
		t.Fatalf("top-up: %d %q", resp.StatusCode, body)
	}
	info, _ := e.store.Session(ctx, [32]byte(mustHash(t, sessionID)))
	if info.BalanceSat != 300 || info.DepositedSat != 600 {
		t.Fatalf("after the top-up: %+v", info)
	}
	if resp, _ := e.get(t, "/api/x", bearer); resp.StatusCode != 200 {
		t.Fatalf("bearer after the top-up: %d", resp.StatusCode)
	}

	// Close: answered by serve with the refund of the 200 left.
	resp, body = e.get(t, "/api/x", sessionCred(t, top, mpp.SessionPayload{
		Action: mpp.ActionClose, SessionID: sessionID,
		Preimage: deposit.String()}))
	if resp.StatusCode != 200 || body != `{"refundSats":200,`+
		`"refundStatus":"succeeded","status":"closed"}` {
		t.Fatalf("close: %d %q", resp.StatusCode, body)
	}
	r, err := mpp.ParseReceipt(resp.Header.Get(mpp.HeaderReceipt))
	if err != nil || r.RefundSats == nil || *r.RefundSats != 200 ||
		r.RefundStatus != mpp.RefundSucceeded || r.Reference != sessionID {
		t.Fatalf("close receipt %+v %v", r, err)
	}
	paid, _ := e.buyer.LookupInvoice(ctx, ret.PaymentHash)
	if paid.State != lightning.InvoiceSettled || paid.AmountPaidMsat != 200_000 {
		t.Fatalf("the return invoice: %+v", paid)
	}
	if resp, _ := e.get(t, "/api/x", bearer); resp.StatusCode != 402 {
		t.Fatalf("bearer after close: %d", resp.StatusCode)
	}
	m := metricsText(e.metrics)
	for _, want := range []string{
		`l402_payment_sessions_opened_total{service="api"} 1`,
		`l402_payment_session_deposits_sat_total{service="api"} 600`,
		`l402_payment_session_refunds_sat_total{service="api",status="succeeded"} 200`,
		`l402_payment_sessions_closed_total{service="api",why="closed"} 1`,
		`l402_credentials_total{outcome="insufficient_balance",scheme="payment",service="api"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
}

// mustHash parses a hex payment hash.
func mustHash(t *testing.T, s string) l402.Hash {
	t.Helper()
	h, err := l402.ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPaymentSessionRefusals: an open whose return invoice cannot take a
// refund, a reused deposit, an idle session; and an empty session's close,
// which has nothing to refund.
func TestPaymentSessionRefusals(t *testing.T) {
	e := newPaymentEnv(t, "  enablesessions: true\n"+
		"  sessiondepositmultiplier: 2\n  sessionidletimeout: 60\n", "")
	ctx := context.Background()
	openSession := func(t *testing.T) (mpp.Challenge, l402.Preimage,
		string) {

		chs, _ := e.challenges(t, "/api/x")
		ch := chs[mpp.IntentSession]
		req, _ := mpp.DecodeSessionRequest(ch.Request)
		return ch, e.pay(t, req.DepositInvoice), req.PaymentHash
	}

	ch, deposit, _ := openSession(t)
	fixed, _ := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 5})
	resp, body := e.get(t, "/api/x", sessionCred(t, ch, mpp.SessionPayload{
		Action: mpp.ActionOpen, Preimage: deposit.String(),
		ReturnInvoice: fixed.PaymentRequest}))
	if resp.StatusCode != 402 || problemOf(t, resp, body).Type !=
		mpp.ProblemBase+"lightning/invalid-return-invoice" {
		t.Fatalf("a return invoice with an amount: %d %q", resp.StatusCode,
			body)
	}

	ret, _ := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{})
	open := sessionCred(t, ch, mpp.SessionPayload{Action: mpp.ActionOpen,
		Preimage: deposit.String(), ReturnInvoice: ret.PaymentRequest})
	if resp, _ := e.get(t, "/api/x", open); resp.StatusCode != 200 {
		t.Fatalf("open: %d", resp.StatusCode)
	}
	if resp, body := e.get(t, "/api/x", open); resp.StatusCode != 402 ||
		problemOf(t, resp, body).Type != mpp.ProblemBase+
			"invalid-challenge" {
		t.Fatalf("a second open with one deposit: %d %q", resp.StatusCode,
			body)
	}

	// Idle for longer than the timeout: the session takes no draw, but
	// its close still refunds.
	req, _ := mpp.DecodeSessionRequest(ch.Request)
	id := req.PaymentHash
	e.now.Add(61)
	fresh, _ := e.challenges(t, "/api/x")
	bearer := sessionCred(t, fresh[mpp.IntentSession], mpp.SessionPayload{
		Action: mpp.ActionBearer, SessionID: id,
		Preimage: deposit.String()})
	if resp, body := e.get(t, "/api/x", bearer); resp.StatusCode != 402 ||
		problemOf(t, resp, body).Type != mpp.ProblemBase+
			"lightning/session-closed" {
		t.Fatalf("bearer on an idle session: %d %q", resp.StatusCode, body)
	}

	// A session spent to nothing closes with its refund skipped: the
	// deposit of 200 paid the open and one bearer request.
	ch2, deposit2, id2 := openSession(t)
	ret2, _ := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{})
	if resp, _ := e.get(t, "/api/x", sessionCred(t, ch2, mpp.SessionPayload{
		Action: mpp.ActionOpen, Preimage: deposit2.String(),
		ReturnInvoice: ret2.PaymentRequest})); resp.StatusCode != 200 {
		t.Fatalf("second open: %d", resp.StatusCode)
	}
	if resp, _ := e.get(t, "/api/x", sessionCred(t, ch2, mpp.SessionPayload{
		Action: mpp.ActionBearer, SessionID: id2,
		Preimage: deposit2.String()})); resp.StatusCode != 200 {
		t.Fatalf("bearer: %d", resp.StatusCode)
	}
	resp, body = e.get(t, "/api/x", sessionCred(t, ch2, mpp.SessionPayload{
		Action: mpp.ActionClose, SessionID: id2,
		Preimage: deposit2.String()}))
	if resp.StatusCode != 200 || !strings.Contains(body, `"skipped"`) {
		t.Fatalf("closing an empty session: %d %q", resp.StatusCode, body)
	}
	r, err := mpp.ParseReceipt(resp.Header.Get(mpp.HeaderReceipt))
	if err != nil || r.RefundSats == nil || *r.RefundSats != 0 ||
		r.RefundStatus != mpp.RefundSkipped {
		t.Fatalf("its receipt %+v %v", r, err)
	}
}

// TestPaymentDynamicPrice: a dynamically priced service's charge is bound
// to the path and query it was priced for, and the service offers no
// session (one request's price is not a unit's).
func TestPaymentDynamicPrice(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		fmt.Fprint(w, "generated")
	}))
	t.Cleanup(backend.Close)
	e := newPaymentEnvAt(t, strings.TrimPrefix(backend.URL, "http://"),
		"  enablesessions: true\n", "    dynamicprice:\n      enabled: "+
			"true\n      grpcaddress: \"127.0.0.1:1\"\n",
		func(o *HandlerOptions) {
			o.DialPricer = func(DynamicPriceConfig) (Pricer, error) {
				return &fakePricer{}, nil
			}
		})
	resp, _ := e.get(t, "/api/gen?size=1", "")
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(chs) != 1 || chs[0].Intent != mpp.IntentCharge {
		t.Fatalf("a dynamic price's Payment challenges: %+v %v", chs, err)
	}
	auth := e.buyCharge(t, "/api/gen?size=1")
	if resp, body := e.get(t, "/api/gen?size=2", auth); resp.StatusCode !=
		402 || problemOf(t, resp, body).Type != mpp.ProblemBase+
		"invalid-challenge" {
		t.Fatalf("a charge for another path: %d %q", resp.StatusCode, body)
	}
	if resp, body := e.get(t, "/api/gen?size=1", auth); resp.StatusCode !=
		200 || body != "generated" {
		t.Fatalf("the charge for its own path: %d %q", resp.StatusCode, body)
	}
}
