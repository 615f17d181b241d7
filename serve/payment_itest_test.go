//go:build itest

package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/pgtest"
)

// runServe runs serve.Run in this process on the config yaml, selling
// through bob, and returns its address and a stop function that waits for
// Run to return.
func runServe(t *testing.T, yaml string) (addr string, stop func()) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, RunOptions{ConfigPath: path, Dir: dir,
			Log: testLog{t}, Ready: func(a string) { ready <- a }})
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped before it was ready: %v", err)
	case <-time.After(time.Minute):
		cancel()
		t.Fatal("serve was not ready within a minute")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return addr, stop
}

// testLog writes serve's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// paymentYAML is bob's serve.yaml for one service at /weather, with the
// Payment scheme's keys (and any others) in the authenticator section.
func paymentYAML(backend string, price int64, authKeys string) string {
	return strings.Replace(stack.Bob.ServeYAML("weather", backend, price),
		"authenticator:\n", "authenticator:\n  enablempp: true\n"+authKeys,
		1)
}

// alice returns an lnd client of the buyer, closed when the test ends.
func alice(t *testing.T) *lightning.Lnd {
	t.Helper()
	a, err := lightning.NewLnd(lightning.LndConfig{Name: "alice",
		Host: stack.Alice.RPCHost, TLSCertPath: stack.Alice.TLSCertPath,
		MacaroonPath: stack.Alice.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// weather sends GET /weather to addr with an Authorization value (none
// when empty).
func weather(t *testing.T, ctx context.Context, addr, auth string) (
	*http.Response, string) {

	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+addr+"/weather", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// paymentChallenges returns addr's Payment challenges by intent.
func paymentChallenges(t *testing.T, ctx context.Context,
	addr string) map[string]mpp.Challenge {

	t.Helper()
	resp, body := weather(t, ctx, addr, "")
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatalf("402 %d %q: %v", resp.StatusCode, body, err)
	}
	out := map[string]mpp.Challenge{}
	for _, c := range chs {
		out[c.Intent] = c
	}
	return out
}

// payOnRegtest pays a BOLT11 invoice from alice and returns the preimage.
func payOnRegtest(t *testing.T, ctx context.Context, a *lightning.Lnd,
	invoice string) l402.Preimage {

	t.Helper()
	p, err := a.Pay(ctx, lightning.PayRequest{PaymentRequest: invoice,
		MaxFeeSat: 10, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return p.Preimage
}

// buyCharge buys a charge credential from addr as a buyer must: the
// challenge vetted, the invoice fully decoded and held against the
// request, paid by alice.
func buyCharge(t *testing.T, ctx context.Context, a *lightning.Lnd,
	addr string) string {

	t.Helper()
	offer, err := mpp.VetCharge(paymentChallenges(t, ctx, addr)[mpp.IntentCharge],
		1000, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := lightning.DecodeInvoice(offer.Invoice, stack.Network)
	if err != nil {
		t.Fatal(err)
	}
	if err := offer.CheckInvoice(inv.PaymentHash, inv.AmountMsat,
		inv.Network); err != nil {
		t.Fatal(err)
	}
	cred, err := offer.Credential(payOnRegtest(t, ctx, a, offer.Invoice))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := cred.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// TestItestPaymentReplicasClaimOnce runs two serve replicas on one
// Postgres database, both selling through bob with the Payment scheme. A
// charge credential paid on regtest buys one request on either replica:
// the replay on the other is refused, and of the same credential sent to
// both at once exactly one is served.
func TestItestPaymentReplicasClaimOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := pgtest.Start(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "shared weather")
	}))
	defer backend.Close()
	o := db.Options
	cfg := paymentYAML(strings.TrimPrefix(backend.URL, "http://"), 7,
		"  mpprealm: weather.example\n") + fmt.Sprintf("dbbackend: postgres\n"+
		"postgres:\n  host: %q\n  port: %d\n  user: %q\n  password: %q\n"+
		"  dbname: %q\n", o.Host, o.Port, o.User, o.Password, o.DBName)
	a, _ := runServe(t, cfg)
	b, _ := runServe(t, cfg)
	buyer := alice(t)

	for i, pair := range [][2]string{{a, b}, {b, a}} {
		auth := buyCharge(t, ctx, buyer, pair[0])
		resp, body := weather(t, ctx, pair[1], auth)
		if resp.StatusCode != 200 || body != "shared weather" {
			t.Fatalf("round %d: the other replica refused a fresh "+
				"charge: %d %q", i, resp.StatusCode, body)
		}
		if _, err := mpp.ParseReceipt(resp.Header.Get(
			mpp.HeaderReceipt)); err != nil {
			t.Fatalf("round %d: receipt: %v", i, err)
		}
		resp, body = weather(t, ctx, pair[0], auth)
		if resp.StatusCode != http.StatusPaymentRequired ||
			!strings.Contains(body, "invalid-challenge") {
			t.Fatalf("round %d: the replay on the first replica: %d %q", i,
				resp.StatusCode, body)
		}
	}

	// One credential, both replicas at once: one request is served.
	auth := buyCharge(t, ctx, buyer, a)
	codes := make(chan int, 2)
	var wg sync.WaitGroup
	for _, addr := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := weather(t, ctx, addr, auth)
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	served := 0
	for c := range codes {
		if c == 200 {
			served++
		} else if c != http.StatusPaymentRequired {
			t.Fatalf("status %d", c)
		}
	}
	if served != 1 {
		t.Fatalf("one charge credential served %d requests across the "+
			"replicas, want 1", served)
	}
}

// sessionMacDir bakes bob's macaroons for serve with sessions: the
// invoice-only one as invoice.macaroon and a seller-sessions one, in a
// fresh directory.
func sessionMacDir(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	for role, name := range map[string]string{
		"invoice-only": "invoice.macaroon", "seller-sessions": sessionMacaroonName} {
		mac, err := macaroons.Bake(ctx, stack.Bob.Lnd(), role)
		if err != nil {
			t.Fatal(err)
		}
		if err := macaroons.WriteSecretFile(filepath.Join(dir, name), mac,
			false); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestItestPaymentSession opens a session on regtest (alice pays the
// deposit), draws it down over several requests, restarts serve (the
// balance is the database's), tops it up and closes it: bob refunds the
// rest to alice's return invoice through the seller-sessions macaroon,
// and alice's node shows it settled.
func TestItestPaymentSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "metered weather")
	}))
	defer backend.Close()
	const price, multiplier = 2000, 10
	cfg := paymentYAML(strings.TrimPrefix(backend.URL, "http://"), price,
		fmt.Sprintf("  enablesessions: true\n  sessiondepositmultiplier: "+
			"%d\n", multiplier))
	cfg = strings.Replace(cfg, fmt.Sprintf("macdir: %q",
		stack.Bob.MacaroonDir), fmt.Sprintf("macdir: %q",
		sessionMacDir(t, ctx)), 1)
	cfg += fmt.Sprintf("sqlite:\n  dbfile: %q\n",
		filepath.Join(t.TempDir(), "serve.db"))
	addr, stop := runServe(t, cfg)
	buyer := alice(t)

	open := paymentChallenges(t, ctx, addr)[mpp.IntentSession]
	req, err := mpp.DecodeSessionRequest(open.Request)
	if err != nil {
		t.Fatal(err)
	}
	if req.DepositAmount != fmt.Sprint(price*multiplier) {
		t.Fatalf("deposit %s, want %d", req.DepositAmount, price*multiplier)
	}
	deposit := payOnRegtest(t, ctx, buyer, req.DepositInvoice)
	ret, err := buyer.AddInvoice(ctx, lightning.InvoiceRequest{
		Memo: "session refund", Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	send := func(ch mpp.Challenge, p mpp.SessionPayload) (*http.Response,
		string) {
		c, err := mpp.NewCredential(ch, p)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := c.Authorization()
		return weather(t, ctx, addr, v)
	}
	id := req.PaymentHash
	if resp, body := send(open, mpp.SessionPayload{Action: mpp.ActionOpen,
		Preimage:      deposit.String(),
		ReturnInvoice: ret.PaymentRequest}); resp.StatusCode != 200 ||
		body != "metered weather" {
		t.Fatalf("open: %d %q", resp.StatusCode, body)
	}
	bearer := mpp.SessionPayload{Action: mpp.ActionBearer, SessionID: id,
		Preimage: deposit.String()}
	for i := range 4 {
		if resp, body := send(open, bearer); resp.StatusCode != 200 {
			t.Fatalf("bearer %d: %d %q", i, resp.StatusCode, body)
		}
	}

	// The balance outlives serve.
	stop()
	addr, _ = runServe(t, cfg)
	if resp, body := send(open, bearer); resp.StatusCode != 200 {
		t.Fatalf("bearer after a restart: %d %q", resp.StatusCode, body)
	}

	top := paymentChallenges(t, ctx, addr)[mpp.IntentSession]
	topReq, _ := mpp.DecodeSessionRequest(top.Request)
	topPreimage := payOnRegtest(t, ctx, buyer, topReq.DepositInvoice)
	if resp, body := send(top, mpp.SessionPayload{Action: mpp.ActionTopUp,
		SessionID: id, TopUpPreimage: topPreimage.String()}); resp.StatusCode != 200 ||
		body != `{"status":"ok"}` {
		t.Fatalf("top-up: %d %q", resp.StatusCode, body)
	}
	if resp, body := send(top, bearer); resp.StatusCode != 200 {
		t.Fatalf("bearer after the top-up: %d %q", resp.StatusCode, body)
	}

	// Spent: the open and 6 bearer requests, of 2 deposits of 10.
	const refund = 2*price*multiplier - 7*price
	resp, body := send(top, mpp.SessionPayload{Action: mpp.ActionClose,
		SessionID: id, Preimage: deposit.String()})
	if resp.StatusCode != 200 || !strings.Contains(body,
		fmt.Sprintf(`"refundSats":%d`, refund)) {
		t.Fatalf("close: %d %q", resp.StatusCode, body)
	}
	r, err := mpp.ParseReceipt(resp.Header.Get(mpp.HeaderReceipt))
	if err != nil || r.RefundSats == nil || *r.RefundSats != refund ||
		r.RefundStatus != mpp.RefundSucceeded {
		t.Fatalf("close receipt %+v %v", r, err)
	}
	settled, err := buyer.LookupInvoice(ctx, ret.PaymentHash)
	if err != nil || settled.State != lightning.InvoiceSettled ||
		settled.AmountPaidMsat != refund*1000 {
		t.Fatalf("alice's return invoice: %+v %v, want %d sat settled",
			settled, err, refund)
	}
	if resp, _ := send(top, bearer); resp.StatusCode !=
		http.StatusPaymentRequired {
		t.Fatalf("bearer after the close: %d", resp.StatusCode)
	}
	t.Logf("session %s: refunded %d sat to alice", id[:12], refund)
}
