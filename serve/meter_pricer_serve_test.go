package serve

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/pricetest"
	"github.com/l402/l402/internal/store"
)

// pricerConfig is service "llm" (^/v1/) in front of addr, metered by the
// price server at pricer.
func pricerConfig(addr, pricer, authExtra string) string {
	return fmt.Sprintf(`listenaddr: "localhost:8081"
insecure: true
authenticator:
  network: "regtest"
  lndhost: "localhost:10009"
%schallengelimit:
  disable: true
services:
  - name: "llm"
    hostregexp: ".*"
    pathregexp: "^/v1/.*$"
    address: %q
    protocol: http
    dynamicprice:
      enabled: true
      grpcaddress: %q
      insecure: true
      metered: true
`, authExtra, addr, pricer)
}

// startTokenPricer runs the test price server selling "m1" at 1 sat per
// token either way, in bundles of 100 tokens (100 sat), reserving 10.
func startTokenPricer(t *testing.T) *pricetest.Server {
	t.Helper()

	srv, err := pricetest.Start(pricetest.Config{
		Models: map[string]pricetest.Rates{
			"m1": {InputMsat: 1000, OutputMsat: 1000}},
		Default:        "m1",
		BundleTokens:   100,
		EstimateTokens: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// newPricerEnv is the meter tests' environment (a memory seller and buyer,
// the fake LLM behind a Handler) with "llm" metered by the price server
// pricer instead of the built-in meter, dialed as serve dials it.
func newPricerEnv(t *testing.T, pricer *pricetest.Server,
	authExtra string) *meterEnv {

	t.Helper()
	llm := &fakeLLM{}
	backend := httptest.NewServer(llm)
	t.Cleanup(backend.Close)
	cfg, err := LoadConfig(writeConfig(t, pricerConfig(
		strings.TrimPrefix(backend.URL, "http://"), pricer.Addr(),
		authExtra)))
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
	h, err := NewHandler(cfg, auth, HandlerOptions{Metrics: e.metrics,
		DialPricer: dialPrices, DialMeter: dialMeter, Meter: st,
		Payment: &PaymentOptions{Store: st, Secret: secret, Node: seller,
			Refunds: seller, Network: "regtest"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return &meterEnv{paymentEnv: e, llm: llm}
}

// waitReports waits until the price server has n usage reports: a
// report follows its response.
func waitReports(t *testing.T, pricer *pricetest.Server, n int) {
	t.Helper()
	for range 2000 {
		if len(pricer.Reports()) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d usage reports, want %d", len(pricer.Reports()), n)
}

// TestPricerMeterThroughServe: serve sells "llm" through an external
// metered price server as Aperture does. The 402 is priced by GetPrice
// and its bundle booked under the token ID; each paid request is admitted
// by AuthorizeRequest, proxied without the client's Accept-Encoding, and
// its response's tail reported with the server's reservation; the balance
// header is the server's last report; a spent bundle gets a fresh 402,
// booked again; a model the server does not sell is 400.
func TestPricerMeterThroughServe(t *testing.T) {
	pricer := startTokenPricer(t)
	e := newPricerEnv(t, pricer, "")
	body := chatBody("m1", "say 7", 0, true) // 2 tokens in, 7 out

	auth, key := e.buyL402(t, body)
	id := strings.TrimPrefix(key, "token:")
	if b, ok := pricer.Bundle(id); !ok || b.PriceSats != 100 ||
		b.Remaining != 100 || b.Used {
		t.Fatalf("booked %+v %v", b, ok)
	}
	if n := pricer.Calls("GetPrice"); n != 1 {
		t.Errorf("GetPrice called %d times, want 1", n)
	}

	resp, text := e.post(t, body, auth, "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || balanceOf(t, resp) != 100_000 ||
		!strings.HasSuffix(text, "data: [DONE]\n\n") ||
		strings.Count(text, "tok ") != 7 {
		t.Fatalf("first: %d %q", resp.StatusCode, text)
	}
	waitReports(t, pricer, 1)
	report := pricer.Reports()[0]
	if report.GetTokenId() != id || report.GetServiceName() != "llm" ||
		!report.GetComplete() || report.GetHttpStatus() != 200 ||
		report.GetReservedEstimate() != 10 || report.GetContentEncoding() != "" ||
		!strings.Contains(string(report.GetResponseTail()), `"completion_tokens":7`) {
		t.Fatalf("report %v", report)
	}
	if b, _ := pricer.Bundle(id); b.Remaining != 91 || b.Reserved != 0 {
		t.Fatalf("after the first: %+v", b)
	}

	// 2 in, 90 out: admitted on the 91 left, and it spends them. The
	// token is bound to the service, not to the path it was bought on.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+
		"/v1/completions?n=1", strings.NewReader(chatBody("m1", "say 90",
		0, false)))
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || balanceOf(t, resp) != 91_000 {
		t.Fatalf("second: %d, balance %s", resp.StatusCode,
			resp.Header.Get(HeaderBalanceRemaining))
	}
	waitReports(t, pricer, 2)

	resp, _ = e.post(t, body, auth)
	if resp.StatusCode != http.StatusPaymentRequired ||
		balanceOf(t, resp) != 0 {
		t.Fatalf("spent: %d, balance %s", resp.StatusCode,
			resp.Header.Get(HeaderBalanceRemaining))
	}
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chs[0].Macaroon.Caveats() {
		if strings.Contains(string(c.Id), l402.CondResourceSuffix) {
			t.Errorf("a metered token carries %q", c.Id)
		}
	}
	next := chs[0].Identifier.TokenID
	if b, ok := pricer.Bundle(hex.EncodeToString(next[:])); !ok ||
		b.PriceSats != 100 {
		t.Fatalf("next bundle: %+v %v", b, ok)
	}
	if inv, _ := lightning.DecodeInvoice(chs[0].Invoice, "regtest"); inv.AmountMsat != 100_000 {
		t.Errorf("next bundle's invoice: %d msat", inv.AmountMsat)
	}
	if n := len(pricer.Reports()); n != 2 {
		t.Errorf("%d reports; a refused request reports nothing", n)
	}

	resp, text = e.post(t, chatBody("gpt-x", "hi", 0, false), "")
	if resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(text, `"gpt-x" is not sold here`) {
		t.Errorf("unknown model: %d %q", resp.StatusCode, text)
	}
}

// TestPricerMeterDownRefuses: with the price server down, a paid request
// is refused with a 503 that says why and never reaches the backend, and
// an unpaid one gets no challenge; the same once it answers an error. Back
// up, the bundle serves again.
func TestPricerMeterDownRefuses(t *testing.T) {
	pricer := startTokenPricer(t)
	e := newPricerEnv(t, pricer, "")
	body := chatBody("m1", "say 3", 0, false)
	auth, _ := e.buyL402(t, body)

	pricer.Stop()
	resp, text := e.post(t, body, auth)
	if resp.StatusCode != http.StatusServiceUnavailable ||
		strings.Contains(text, "tok ") || !strings.Contains(text, "meter") {
		t.Fatalf("paid, server down: %d %q", resp.StatusCode, text)
	}
	if resp, text := e.post(t, body, ""); resp.StatusCode !=
		http.StatusServiceUnavailable ||
		resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("unpaid, server down: %d %q", resp.StatusCode, text)
	}

	if err := pricer.Restart(); err != nil {
		t.Fatal(err)
	}
	pricer.Fail(fmt.Errorf("disk full"))
	if resp, _ := e.post(t, body, auth); resp.StatusCode !=
		http.StatusServiceUnavailable {
		t.Fatalf("paid, server failing: %d", resp.StatusCode)
	}
	pricer.Fail(nil)

	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, text = e.post(t, body, auth)
		if resp.StatusCode == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp.StatusCode != 200 || strings.Count(text, "tok ") != 3 {
		t.Fatalf("server back: %d %q", resp.StatusCode, text)
	}
	if reports := pricer.Reports(); len(reports) > 1 {
		t.Errorf("%d reports for one served request", len(reports))
	}
}

// TestPricerMeterPaymentCharge: with the Payment scheme, a 402 books a
// bundle under its L402 token ID and another under its charge's payment
// hash; the paid charge is presented again and again and draws its own
// bundle down.
func TestPricerMeterPaymentCharge(t *testing.T) {
	pricer := startTokenPricer(t)
	e := newPricerEnv(t, pricer, "  enablempp: true\n")
	body := chatBody("m1", "say 8", 0, false) // 10 tokens

	resp, _ := e.post(t, body, "")
	if n := len(pricer.Keys()); n != 2 {
		t.Fatalf("%d bundles booked for one 402, want 2", n)
	}
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(chs) != 1 {
		t.Fatalf("%v %v", chs, err)
	}
	offer, err := mpp.VetCharge(chs[0], 200, time.Unix(e.now.Load(), 0))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := offer.Credential(e.pay(t, offer.Invoice))
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := cred.Authorization()
	hash := hex.EncodeToString(offer.PaymentHash[:])
	for i, want := range []int64{100_000, 90_000, 80_000} {
		resp, _ := e.post(t, body, auth)
		if resp.StatusCode != 200 || balanceOf(t, resp) != want {
			t.Fatalf("use %d: %d, balance %s", i, resp.StatusCode,
				resp.Header.Get(HeaderBalanceRemaining))
		}
		waitReports(t, pricer, i+1)
	}
	if b, _ := pricer.Bundle(hash); b.Remaining != 70 {
		t.Errorf("charge's bundle: %+v", b)
	}
}

// TestDialMeter: serve's handler dials the metered price server of a
// service with dynamicprice.metered (without it, the handler would refuse
// to build).
func TestDialMeter(t *testing.T) {
	pricer := startTokenPricer(t)
	cfg, err := LoadConfig(writeConfig(t, pricerConfig("127.0.0.1:1",
		pricer.Addr(), "")))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{opts: RunOptions{ConfigPath: "serve.yaml",
		DialPricer: dialPrices}, metrics: NewMetrics(),
		log: newLogger(nil, cfg)}
	ae := newAuthEnv(t)
	s.auth = ae.auth
	h, err := s.handler(cfg)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	h.Close()
}

// TestPricerMeterSession: a Payment session on a service metered by a
// price server pays each request's QuoteSession price before it is
// proxied (an open, the challenge's unit price) and is settled to what
// SettleSession says its usage cost; the price server keeps no session
// balance, serve's store does.
func TestPricerMeterSession(t *testing.T) {
	pricer := startTokenPricer(t)
	e := newPricerEnv(t, pricer, "  enablempp: true\n  enablesessions: true\n"+
		"  sessiondepositmultiplier: 3\n")
	ctx := context.Background()

	// max_tokens 60 at 1 sat a token: a unit price of 60, a deposit of
	// 180.
	resp, _ := e.post(t, chatBody("m1", "hi", 60, false), "")
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	var open mpp.Challenge
	for _, c := range chs {
		if c.Intent == mpp.IntentSession {
			open = c
		}
	}
	req, err := mpp.DecodeSessionRequest(open.Request)
	if err != nil || req.Amount != "60" || req.DepositAmount != "180" {
		t.Fatalf("session challenge: %+v %v", req, err)
	}
	deposit := e.pay(t, req.DepositInvoice)
	ret, _ := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{Memo: "r"})
	id := [32]byte(mustHash(t, req.PaymentHash))
	balanceIs := func(want int64) {
		t.Helper()
		var got int64
		for range 2000 {
			info, err := e.store.Session(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got = info.BalanceSat; got == want {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("session balance %d, want %d", got, want)
	}

	// The open pays 60; its usage, 2 in and 7 out, costs 9.
	resp, text := e.post(t, chatBody("m1", "say 7", 60, true),
		sessionCred(t, open, mpp.SessionPayload{Action: mpp.ActionOpen,
			Preimage: deposit.String(), ReturnInvoice: ret.PaymentRequest}))
	if resp.StatusCode != 200 || !strings.Contains(text, "[DONE]") {
		t.Fatalf("open: %d %q", resp.StatusCode, text)
	}
	balanceIs(180 - 9)

	// A bearer pays its quote (60) and gets back what 42 tokens did not
	// cost.
	bearer := sessionCred(t, open, mpp.SessionPayload{
		Action: mpp.ActionBearer, SessionID: req.PaymentHash,
		Preimage: deposit.String()})
	resp, _ = e.post(t, chatBody("m1", "say 40", 60, false), bearer)
	if resp.StatusCode != 200 {
		t.Fatalf("bearer: %d", resp.StatusCode)
	}
	balanceIs(171 - 42)

	if n := pricer.Calls("SettleSession"); n != 2 {
		t.Errorf("SettleSession called %d times, want 2", n)
	}
	if n := pricer.Calls("AuthorizeRequest") + len(pricer.Reports()); n != 0 {
		t.Errorf("a session request reached the bundle calls %d times", n)
	}
}

// TestManifestMeteredPricer: the discovery manifest of a service metered
// by a price server says its pricing is dynamic and names no resource
// caveat, since its tokens buy a bundle for the whole service.
func TestManifestMeteredPricer(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, pricerConfig("127.0.0.1:9",
		"127.0.0.1:1", "")))
	if err != nil {
		t.Fatal(err)
	}
	e := manifestEntry(cfg.Services[0], []string{"L402"})
	if p := e.Resources[0].Pricing; p.Model != "dynamic" || p.PriceMsat != nil {
		t.Errorf("pricing %+v", p)
	}
	if _, ok := manifestCaveats(cfg.Services[0])["llm"+l402.CondResourceSuffix]; ok {
		t.Error("the manifest names a resource caveat metered tokens do not carry")
	}
}
