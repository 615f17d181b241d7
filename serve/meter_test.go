package serve

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// meterConfig is a metered service "llm" (^/v1/) in front of addr: model
// "m1" at 1 msat per input token and 2 per output token, bundles of 1000
// tokens (1500 msat, 2 sat), an estimate of 100 tokens.
func meterConfig(addr, authExtra string) string {
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
    meter:
      bundletokens: 1000
      estimatedtokens: 100
      models:
        m1:
          inputmsatpertoken: 1
          outputmsatpertoken: 2
        big:
          inputmsatpertoken: 0.5
          outputmsatpertoken: 1.5
`, authExtra, addr)
}

// meterEnv is a Handler selling "llm" over a SQLite store, a memory seller
// node, and a buyer that pays.
type meterEnv struct {
	*paymentEnv
	llm *fakeLLM
}

// newMeterEnv builds it; authExtra are authenticator keys (enablempp).
func newMeterEnv(t testing.TB, authExtra string) *meterEnv {
	t.Helper()
	llm := &fakeLLM{}
	backend := httptest.NewServer(llm)
	t.Cleanup(backend.Close)
	cfg, err := LoadConfig(writeConfig(t, meterConfig(
		strings.TrimPrefix(backend.URL, "http://"), authExtra)))
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
		Meter: st, Payment: &PaymentOptions{Store: st, Secret: secret,
			Node: seller, Refunds: seller, Network: "regtest"}})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return &meterEnv{paymentEnv: e, llm: llm}
}

// post sends a chat completion request with an Authorization value
// (none when empty) and header pairs, and reads the whole answer.
func (e *meterEnv) post(t testing.TB, body, auth string,
	extra ...string) (*http.Response, string) {

	t.Helper()
	req, _ := http.NewRequest(http.MethodPost,
		e.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
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

// buyL402 posts body unpaid, pays the L402 challenge of the 402 and
// returns the credential and the token's bundle key.
func (e *meterEnv) buyL402(t testing.TB, body string) (string, string) {
	t.Helper()
	resp, text := e.post(t, body, "")
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("unpaid: %d %q", resp.StatusCode, text)
	}
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	pre := e.pay(t, chs[0].Invoice)
	mac, err := l402.EncodeMacaroonBase64(chs[0].Macaroon)
	if err != nil {
		t.Fatal(err)
	}
	id := chs[0].Identifier.TokenID
	return "L402 " + mac + ":" + hex.EncodeToString(pre[:]),
		"token:" + hex.EncodeToString(id[:])
}

// bundle reads a bundle from the store.
func (e *meterEnv) bundle(t testing.TB, key string) store.Bundle {
	t.Helper()
	b, ok, err := e.store.Bundle(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("bundle %s: %v %v", key, ok, err)
	}
	return b
}

// balanceOf reads a response's L402-Balance-Remaining.
func balanceOf(t testing.TB, resp *http.Response) int64 {
	t.Helper()
	v := resp.Header.Get(HeaderBalanceRemaining)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q", HeaderBalanceRemaining, v)
	}
	return n
}

// TestMeterDrawsABundleDown: an unpaid request gets a 402 for a bundle at
// the model's price, booked under its token; paid, each request is
// proxied whole (streamed or not), costs its reported usage at each
// direction's rate, rounded up, and the next response's balance header
// says what is left; an exhausted bundle gets a fresh 402, and the next
// bundle buys on.
func TestMeterDrawsABundleDown(t *testing.T) {
	e := newMeterEnv(t, "")
	body := chatBody("m1", "say 7", 0, true) // prompt 2 words, 7 out
	auth, key := e.buyL402(t, body)
	if b := e.bundle(t, key); b.Activated || b.BalanceMsat != 1500 ||
		b.PriceSat != 2 || b.Model != "m1" {
		t.Fatalf("booked: %+v", b)
	}

	resp, text := e.post(t, body, auth, "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || balanceOf(t, resp) != 1500 ||
		!strings.Contains(text, `"completion_tokens":7`) ||
		!strings.HasSuffix(text, "data: [DONE]\n\n") ||
		strings.Count(text, "tok ") != 7 {
		t.Fatalf("first: %d %q", resp.StatusCode, text)
	}
	// 2 prompt tokens at 1 msat and 7 at 2.
	if b := e.bundle(t, key); !b.Activated || b.BalanceMsat != 1500-16 ||
		b.ReservedMsat != 0 {
		t.Fatalf("after the first: %+v", b)
	}

	// A JSON body: 2 words in, 4 out, 10 msat.
	resp, text = e.post(t, chatBody("m1", "say 4", 0, false), auth)
	if resp.StatusCode != 200 || balanceOf(t, resp) != 1484 ||
		!strings.Contains(text, `"total_tokens":6`) {
		t.Fatalf("json: %d %q", resp.StatusCode, text)
	}
	resp, _ = e.post(t, body, auth)
	if balanceOf(t, resp) != 1474 {
		t.Fatalf("balance %d, want 1474", balanceOf(t, resp))
	}

	// What is left (1458) admits requests reserving 100 tokens at 2
	// msat (200 msat) until it does not: then a fresh 402 with the
	// balance, for a new bundle.
	spent := 0
	for ; spent < 200; spent++ {
		resp, _ = e.post(t, chatBody("m1", "say 90", 0, false), auth)
		if resp.StatusCode != 200 {
			break
		}
	}
	// Each request costs 2 + 180 = 182 msat; 1458 pays 7 (1274), and
	// 184 left is short of a 200 msat reservation.
	if resp.StatusCode != http.StatusPaymentRequired || spent != 7 ||
		balanceOf(t, resp) != 184 {
		t.Fatalf("after %d: %d, balance %s", spent, resp.StatusCode,
			resp.Header.Get(HeaderBalanceRemaining))
	}
	chs, err := l402.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	id := chs[0].Identifier.TokenID
	if b := e.bundle(t, "token:"+hex.EncodeToString(id[:])); b.PriceSat != 2 {
		t.Fatalf("next bundle: %+v", b)
	}
	// A smaller request still fits what is left.
	resp, _ = e.post(t, chatBody("m1", "say 1", 10, false), auth)
	if resp.StatusCode != 200 || balanceOf(t, resp) != 184 {
		t.Fatalf("small request: %d", resp.StatusCode)
	}
	if got := e.bundle(t, key).BalanceMsat; got != 180 {
		t.Fatalf("balance %d after 4 msat", got)
	}

	auth2, _ := e.buyL402(t, body)
	if resp, _ := e.post(t, body, auth2); resp.StatusCode != 200 ||
		balanceOf(t, resp) != 1500 {
		t.Fatalf("next bundle: %d", resp.StatusCode)
	}
}

// TestMeterRefusesWhatItCannotMeter: a model the service does not sell is
// 400, paid or not; a token whose bundle was never booked (minted for the
// service before it was metered) gets a 402, never the backend; another
// model's request on a bundle gets a 402 for that model's bundle.
func TestMeterRefusesWhatItCannotMeter(t *testing.T) {
	e := newMeterEnv(t, "")
	if resp, text := e.post(t, chatBody("gpt-x", "hi", 0, false),
		""); resp.StatusCode != 400 || !strings.Contains(text, "gpt-x") {
		t.Fatalf("unknown model: %d %q", resp.StatusCode, text)
	}
	auth, key := e.buyL402(t, chatBody("m1", "hi", 0, false))
	if resp, _ := e.post(t, chatBody("gpt-x", "hi", 0, false),
		auth); resp.StatusCode != 400 {
		t.Fatalf("unknown model, paid: %d", resp.StatusCode)
	}
	if resp, _ := e.post(t, `{"messages":[]}`, auth); resp.StatusCode != 400 {
		t.Fatalf("no model: %d", resp.StatusCode)
	}
	// max_tokens beyond a bundle (1000 x 2 msat > 1500 msat).
	if resp, _ := e.post(t, chatBody("m1", "hi", 1000, false),
		auth); resp.StatusCode != 400 {
		t.Fatalf("huge max_tokens: %d", resp.StatusCode)
	}
	// A small bound beside a large one (the backend may honour either)
	// reserves the large one: refused, not admitted at one token.
	if resp, _ := e.post(t, `{"model":"m1","max_tokens":1,`+
		`"max_completion_tokens":100000,"messages":[]}`,
		auth); resp.StatusCode != 400 {
		t.Fatalf("a small bound beside a huge one: %d", resp.StatusCode)
	}
	if resp, _ := e.post(t, `{"model":"m1","max_tokens":4000000000,`+
		`"messages":[]}`, auth); resp.StatusCode != 400 {
		t.Fatalf("a bound beyond any count: %d", resp.StatusCode)
	}
	resp, _ := e.post(t, chatBody("big", "hi", 0, false), auth)
	if resp.StatusCode != 402 || balanceOf(t, resp) != 1500 {
		t.Fatalf("another model: %d", resp.StatusCode)
	}
	if b := e.bundle(t, key); b.Uses != 0 {
		t.Fatalf("refused requests used the bundle: %+v", b)
	}

	// A token of the service that no 402 of the meter booked.
	chs, err := e.h.challenge.schemes[0][0].Challenge(context.Background(),
		Offer{Service: "llm", PriceSat: 2})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := l402.ParseChallenges(chs)
	pre := e.pay(t, c[0].Invoice)
	mac, _ := l402.EncodeMacaroonBase64(c[0].Macaroon)
	resp, text := e.post(t, chatBody("m1", "hi", 0, false),
		"L402 "+mac+":"+hex.EncodeToString(pre[:]))
	if resp.StatusCode != 402 || strings.Contains(text, "chatcmpl") {
		t.Fatalf("unbooked token: %d %q", resp.StatusCode, text)
	}
	if resp, _ := e.post(t, chatBody("m1", "hi", 0, false),
		"L402 garbage"); resp.StatusCode != 402 {
		t.Fatalf("malformed credential: %d", resp.StatusCode)
	}
}

// TestMeterSettlements: what a response that reports no usage costs. None
// for no bytes and for a backend's complete error answer; the
// reservation for a compressed tail, a stream without include_usage and
// an abandoned stream; a stream with running totals, abandoned, costs
// its last total.
func TestMeterSettlements(t *testing.T) {
	e := newMeterEnv(t, "")
	auth, key := e.buyL402(t, chatBody("m1", "hi", 0, false))
	balance := int64(1500)
	expect := func(name string, cost int64) {
		t.Helper()
		balance -= cost
		if b := e.bundle(t, key); b.BalanceMsat != balance ||
			b.ReservedMsat != 0 {
			t.Fatalf("%s: %+v, want balance %d", name, b, balance)
		}
	}
	e.post(t, chatBody("m1", "hi", 0, false), auth, "X-Test-Empty", "1")
	expect("no bytes", 0)
	if resp, _ := e.post(t, chatBody("m1", "hi", 0, false), auth,
		"X-Test-Status", "429"); resp.StatusCode != 429 {
		t.Fatalf("backend error: %d", resp.StatusCode)
	}
	expect("backend error", 0)
	// 40 tokens reserved at 2 msat.
	e.post(t, chatBody("m1", "say 3", 40, false), auth,
		"X-Test-Encoding", "br")
	expect("compressed", 80)
	noUsage := strings.Replace(chatBody("m1", "say 3", 40, true),
		`"include_usage":true`, `"include_usage":false`, 1)
	e.post(t, noUsage, auth)
	expect("no include_usage", 80)

	// A stream the client leaves after its second chunk: the backend
	// holds there until the proxy drops its request.
	e.llm.hold = func(ctx context.Context, chunk int) {
		if chunk == 2 {
			<-ctx.Done()
		}
	}
	abandon := func(extra ...string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
			e.srv.URL+"/v1/chat/completions",
			strings.NewReader(chatBody("m1", "say 9", 30, true)))
		req.Header.Set("Authorization", auth)
		for i := 0; i+1 < len(extra); i += 2 {
			req.Header.Set(extra[i], extra[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		// Both chunks reached the client: the proxy read them.
		r := bufio.NewReader(resp.Body)
		for chunks := 0; chunks < 2; {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "data:") {
				chunks++
			}
		}
		cancel()
		resp.Body.Close()
		waitSettled(t, e, key)
	}
	abandon()
	expect("abandoned", 60)
	// Running totals: 2 words in, 2 out when it was left.
	abandon("X-Running-Totals", "1")
	expect("abandoned with running totals", 2+4)
	e.llm.hold = nil
}

// waitSettled waits until bundle key holds no reservation: the settlement
// of a request the client left runs once the proxy sees it gone.
func waitSettled(t testing.TB, e *meterEnv, key string) {
	t.Helper()
	for range 2000 {
		if b := e.bundle(t, key); b.ReservedMsat == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("bundle %s never settled", key)
}

// TestMeterConcurrentRequests: 50 requests at once on a bundle that holds
// little more than a few reservations: those admitted are served and
// billed their usage, the others get a 402, and the balance never goes
// below zero nor bills more than it held.
func TestMeterConcurrentRequests(t *testing.T) {
	e := newMeterEnv(t, "")
	auth, key := e.buyL402(t, chatBody("m1", "hi", 0, false))
	// Bring the balance down to 609, three reservations of 200 msat.
	e.post(t, chatBody("m1", "say 439", 0, false), auth) // 2 + 878
	e.post(t, chatBody("m1", "a", 0, false), auth)       // 1 + 10
	if b := e.bundle(t, key); b.BalanceMsat != 609 {
		t.Fatalf("balance %d", b.BalanceMsat)
	}
	var (
		wg       sync.WaitGroup
		ok, paid atomic.Int64
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.post(t, chatBody("m1", "say 100", 100, true), auth)
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 402:
				paid.Add(1)
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	b := e.bundle(t, key)
	// Each served request costs 2 + 200 msat.
	if ok.Load() == 0 || b.BalanceMsat != 609-202*ok.Load() ||
		b.UnbilledMsat != 0 || b.ReservedMsat != 0 || b.BalanceMsat < 0 {
		t.Fatalf("%d served, %d refused: %+v", ok.Load(), paid.Load(), b)
	}
}

// TestMeterPaymentCharge: a Payment charge on a metered service keys its
// own bundle (booked with the same 402's L402 token's), is presented again
// and again, its first use recorded as a claim, and draws its bundle down.
func TestMeterPaymentCharge(t *testing.T) {
	e := newMeterEnv(t, "  enablempp: true\n")
	body := chatBody("m1", "say 7", 0, true)
	resp, _ := e.post(t, body, "")
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(chs) != 1 {
		t.Fatalf("%v %v", chs, err)
	}
	offer, err := mpp.VetCharge(chs[0], 10, time.Unix(e.now.Load(), 0))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := offer.Credential(e.pay(t, offer.Invoice))
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := cred.Authorization()
	key := "payment:" + hex.EncodeToString(offer.PaymentHash[:])
	for i, want := range []int64{1500, 1484, 1468} {
		resp, _ := e.post(t, body, auth)
		if resp.StatusCode != 200 || balanceOf(t, resp) != want ||
			resp.Header.Get(mpp.HeaderReceipt) == "" {
			t.Fatalf("use %d: %d, balance %s", i, resp.StatusCode,
				resp.Header.Get(HeaderBalanceRemaining))
		}
	}
	if b := e.bundle(t, key); b.Uses != 3 || b.BalanceMsat != 1452 {
		t.Fatalf("bundle: %+v", b)
	}
	// The first use was recorded: the hash is claimed.
	err = e.store.ClaimPayment(context.Background(), offer.PaymentHash,
		"x", time.Unix(e.now.Load()+3600, 0), time.Unix(e.now.Load(), 0))
	if !errors.Is(err, mpp.ErrReused) {
		t.Fatalf("claim after use: %v", err)
	}
	// Past its challenge's expiry, the charge still keys its bundle.
	e.now.Add(3600)
	if resp, _ := e.post(t, body, auth); resp.StatusCode != 200 {
		t.Fatalf("after expiry: %d", resp.StatusCode)
	}
}

// TestMeterSession: a Payment session on a metered service pays each
// request's own quote (its max_tokens, else the estimate, at the dearer
// rate, in sats rounded up) before it is proxied, and gets back what its
// usage did not cost once it is done.
func TestMeterSession(t *testing.T) {
	e := newMeterEnv(t, "  enablempp: true\n  enablesessions: true\n"+
		"  sessiondepositmultiplier: 3\n")
	ctx := context.Background()
	// 600 tokens at 2 msat: a unit price of 2 sat, a deposit of 6.
	resp, _ := e.post(t, chatBody("m1", "hi", 600, false), "")
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
	if err != nil || req.Amount != "2" || req.DepositAmount != "6" {
		t.Fatalf("session challenge: %+v %v", req, err)
	}
	deposit := e.pay(t, req.DepositInvoice)
	ret, _ := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{Memo: "r"})
	id := [32]byte(mustHash(t, req.PaymentHash))
	balance := func() int64 {
		info, err := e.store.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return info.BalanceSat
	}

	// The open pays 2; its usage (16 msat) costs 1: 6 - 2 + 1.
	resp, text := e.post(t, chatBody("m1", "say 7", 600, true),
		sessionCred(t, open, mpp.SessionPayload{Action: mpp.ActionOpen,
			Preimage: deposit.String(), ReturnInvoice: ret.PaymentRequest}))
	if resp.StatusCode != 200 || !strings.Contains(text, "[DONE]") ||
		balanceOf(t, resp) != 4000 || balance() != 5 {
		t.Fatalf("open: %d %q, balance %d", resp.StatusCode, text, balance())
	}
	bearer := sessionCred(t, open, mpp.SessionPayload{
		Action: mpp.ActionBearer, SessionID: req.PaymentHash,
		Preimage: deposit.String()})
	// Quoted 2 (600 tokens), costs 802 msat: 1.
	resp, _ = e.post(t, chatBody("m1", "say 400", 600, false), bearer)
	if resp.StatusCode != 200 || balanceOf(t, resp) != 3000 ||
		balance() != 4 {
		t.Fatalf("bearer: %d, balance %d", resp.StatusCode, balance())
	}
	// Quoted 1 (the estimate), costs 20 msat: 1.
	resp, _ = e.post(t, chatBody("m1", "say 9", 0, false), bearer)
	if resp.StatusCode != 200 || balance() != 3 {
		t.Fatalf("bearer: %d, balance %d", resp.StatusCode, balance())
	}
	// Quoted 2 (700 tokens), costs 1, twice; then the quote is above
	// the balance: a 402.
	resp, _ = e.post(t, chatBody("m1", "say 9", 700, false), bearer)
	if resp.StatusCode != 200 || balance() != 2 {
		t.Fatalf("bearer of 2: %d, balance %d", resp.StatusCode, balance())
	}
	resp, _ = e.post(t, chatBody("m1", "say 9", 700, false), bearer)
	if resp.StatusCode != 200 || balance() != 1 {
		t.Fatalf("bearer of 2: %d, balance %d", resp.StatusCode, balance())
	}
	if resp, _ = e.post(t, chatBody("m1", "say 9", 700, false),
		bearer); resp.StatusCode != 402 || balance() != 1 {
		t.Fatalf("short: %d, balance %d", resp.StatusCode, balance())
	}
}

// TestMeterSessionOpenPaysItsOwnQuote: the open credential may go with
// another request than the one its 402 priced. A 402 for a request of the
// estimate (100 tokens: a unit price of 1 sat, a deposit of 3) opened
// with a stream of 1400 tokens without include_usage (its reservation:
// 2800 msat, 3 sat) cost the open's unit price, 1 sat: the stream was
// served for a third of its reservation. The open pays its own request's
// quote, as a bearer does: the rest of it is drawn from the deposit.
func TestMeterSessionOpenPaysItsOwnQuote(t *testing.T) {
	e := newMeterEnv(t, "  enablempp: true\n  enablesessions: true\n"+
		"  sessiondepositmultiplier: 3\n")
	ctx := context.Background()
	resp, _ := e.post(t, chatBody("m1", "hi", 0, false), "")
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
	if err != nil || req.Amount != "1" || req.DepositAmount != "3" {
		t.Fatalf("session challenge: %+v %v", req, err)
	}
	deposit := e.pay(t, req.DepositInvoice)
	ret, _ := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{Memo: "r"})
	id := [32]byte(mustHash(t, req.PaymentHash))

	noUsage := strings.Replace(chatBody("m1", "say 1400", 1400, true),
		`"include_usage":true`, `"include_usage":false`, 1)
	resp, _ = e.post(t, noUsage, sessionCred(t, open, mpp.SessionPayload{
		Action: mpp.ActionOpen, Preimage: deposit.String(),
		ReturnInvoice: ret.PaymentRequest}))
	info, err := e.store.Session(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 && info.BalanceSat != 0 {
		t.Fatalf("an open with a stream of a 3 sat reservation was "+
			"served for %d sat", 3-info.BalanceSat)
	}
	if resp.StatusCode != 200 && resp.StatusCode != 402 {
		t.Fatalf("open: %d", resp.StatusCode)
	}
}
