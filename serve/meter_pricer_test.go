package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/pricetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// startPricer runs the test price server: model "m" at 4 and 16 msat per
// token (a blended 10), bundles of 1000 tokens (10 sat), an estimate of
// 100 tokens.
func startPricer(t *testing.T, noSessions bool) *pricetest.Server {
	t.Helper()

	srv, err := pricetest.Start(pricetest.Config{
		Models:         map[string]pricetest.Rates{"m": {InputMsat: 4, OutputMsat: 16}},
		Default:        "m",
		BundleTokens:   1000,
		EstimateTokens: 100,
		NoSessions:     noSessions,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// newPricerMeter dials a pricer meter for service "llm" to srv.
func newPricerMeter(t *testing.T, srv *pricetest.Server) *pricerMeter {
	t.Helper()

	m, err := dialPricerMeter("llm", DynamicPriceConfig{Enabled: true,
		GRPCAddress: srv.Addr(), Insecure: true, Metered: true})
	if err != nil {
		t.Fatal(err)
	}
	m.retry = time.Millisecond
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// meterRequest is a chat request as the stage hands it to a backend, its
// body already read into Body.
func meterRequest(t *testing.T, body string) *MeterRequest {
	t.Helper()

	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return &MeterRequest{Service: "llm", HTTP: r, Body: b}
}

// randomKey is a fresh key of kind.
func randomKey(t *testing.T, kind MeterKeyKind) MeterKey {
	t.Helper()

	k := MeterKey{Kind: kind}
	if _, err := rand.Read(k.ID[:]); err != nil {
		t.Fatal(err)
	}
	return k
}

// jsonResponse is a complete JSON response reporting p+c tokens.
func jsonResponse(p, c string) *MeterResponse {
	tail := []byte(`{"choices":[],"usage":{"prompt_tokens":` + p +
		`,"completion_tokens":` + c + `}}`)
	return &MeterResponse{Status: 200, ContentType: "application/json",
		Tail: tail, Bytes: int64(len(tail)), Complete: true}
}

// TestPricerMeterBundle sells a bundle through the price server and spends
// it: the quote, the booking under the token ID in hex, admissions with the
// server's reservation, debits by reported usage, the balance from the
// server's reports, and the refusal with the next price.
func TestPricerMeterBundle(t *testing.T) {
	srv := startPricer(t, false)
	m := newPricerMeter(t, srv)
	ctx := context.Background()
	req := meterRequest(t, `{"model":"m","max_tokens":300}`)
	key := randomKey(t, MeterToken)

	price, err := m.Quote(ctx, req)
	if err != nil || price != 10 {
		t.Fatalf("Quote = %d, %v; want 10", price, err)
	}
	if err := m.Book(ctx, req, key, price); err != nil {
		t.Fatal(err)
	}
	if b, ok := srv.Bundle(key.Hex()); !ok || b.PriceSats != 10 ||
		b.Remaining != 1000 {
		t.Fatalf("booked %+v, %v", b, ok)
	}

	a, err := m.Authorize(ctx, req, key)
	if err != nil || !a.Allowed || a.Reservation != 300 {
		t.Fatalf("Authorize = %+v, %v", a, err)
	}
	if !a.RemainingKnown || a.RemainingMsat != 10_000 {
		t.Errorf("first balance %d (%v), want the bundle's 10000 msat",
			a.RemainingMsat, a.RemainingKnown)
	}
	if _, err := io.ReadAll(req.HTTP.Body); err != nil {
		t.Fatal(err)
	}

	// 100 prompt and 200 completion: 400+3200 msat, 4 sat, 360 tokens.
	s, err := m.Settle(ctx, req, key, a, jsonResponse("100", "200"))
	if err != nil {
		t.Fatal(err)
	}
	if s.DebitedMsat != 4000 || s.RemainingMsat != 6000 ||
		!s.RemainingKnown || s.Tokens != 300 {
		t.Errorf("Settle = %+v", s)
	}
	if reports := srv.Reports(); len(reports) != 1 ||
		reports[0].GetReservedEstimate() != 300 ||
		reports[0].GetTokenId() != key.Hex() ||
		reports[0].GetServiceName() != "llm" ||
		reports[0].GetPath() != "/v1/chat/completions" {
		t.Errorf("reports = %v", reports)
	}
	if b, _ := srv.Bundle(key.Hex()); b.Remaining != 640 || b.Reserved != 0 {
		t.Errorf("bundle after the report = %+v", b)
	}

	a, err = m.Authorize(ctx, req, key)
	if err != nil || !a.Allowed || a.RemainingMsat != 6000 {
		t.Fatalf("second Authorize = %+v, %v", a, err)
	}
	if _, err := m.Settle(ctx, req, key, a, jsonResponse("0", "640")); err != nil {
		t.Fatal(err)
	}

	a, err = m.Authorize(ctx, req, key)
	if err != nil || a.Allowed || a.NextPriceSat != 10 ||
		a.Reason != "bundle exhausted" || a.RemainingMsat != 0 ||
		!a.RemainingKnown {
		t.Errorf("exhausted: %+v, %v; want refused at 10 sat", a, err)
	}
}

// TestPricerMeterKeys checks which keys reach the price server: a Payment
// charge's payment hash as token_id, and never a session.
func TestPricerMeterKeys(t *testing.T) {
	srv := startPricer(t, false)
	m := newPricerMeter(t, srv)
	ctx := context.Background()
	req := meterRequest(t, `{"model":"m"}`)

	charge := randomKey(t, MeterPayment)
	if err := m.Book(ctx, req, charge, 10); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Bundle(charge.Hex()); !ok {
		t.Errorf("no bundle under the payment hash %s", charge.Hex())
	}
	if a, err := m.Authorize(ctx, req, charge); err != nil || !a.Allowed {
		t.Errorf("Authorize(charge) = %+v, %v", a, err)
	}

	session := randomKey(t, MeterSession)
	if err := m.Book(ctx, req, session, 10); err == nil {
		t.Error("Book took a session key")
	}
	if _, err := m.Authorize(ctx, req, session); err == nil {
		t.Error("Authorize took a session key")
	}
	if n := srv.Calls("ChallengeMinted") + srv.Calls("AuthorizeRequest"); n != 2 {
		t.Errorf("%d calls reached the server, want 2", n)
	}

	if a, err := m.Authorize(ctx, req, randomKey(t, MeterToken)); err != nil ||
		a.Allowed || a.RemainingKnown {
		t.Errorf("unknown key: %+v, %v; want refused, balance unknown", a, err)
	}
}

// TestPricerMeterRefusals checks the answers the stage turns into a 400 or
// a 503: a model the server does not sell (InvalidArgument) is the
// request's fault; a server that is down, or answers 0 for a bundle, is
// not, and nothing is admitted.
func TestPricerMeterRefusals(t *testing.T) {
	srv := startPricer(t, false)
	m := newPricerMeter(t, srv)
	ctx := context.Background()

	_, err := m.Quote(ctx, meterRequest(t, `{"model":"other"}`))
	if !errors.Is(err, ErrMeterRequest) ||
		!strings.Contains(err.Error(), `model "other" is not sold here`) {
		t.Errorf("Quote(unknown model) = %v, want ErrMeterRequest", err)
	}
	_, err = m.QuoteSession(ctx, meterRequest(t, `{"model":"other"}`))
	if !errors.Is(err, ErrMeterRequest) {
		t.Errorf("QuoteSession(unknown model) = %v, want ErrMeterRequest", err)
	}

	srv.Stop()
	req := meterRequest(t, `{"model":"m"}`)
	key := randomKey(t, MeterToken)
	if _, err := m.Quote(ctx, req); err == nil || errors.Is(err, ErrMeterRequest) {
		t.Errorf("Quote against a stopped server = %v", err)
	}
	if err := m.Book(ctx, req, key, 10); status.Code(err) != codes.Unavailable {
		t.Errorf("Book against a stopped server = %v", err)
	}
	a, err := m.Authorize(ctx, req, key)
	if status.Code(err) != codes.Unavailable || a.Allowed ||
		!strings.Contains(err.Error(), "is unavailable") {
		t.Errorf("Authorize against a stopped server = %+v, %v", a, err)
	}
}

// TestPricerMeterReportsRetry checks that a usage report waits out a price
// server that is briefly unavailable, and gives up, saying the debit is
// lost, after reportAttempts; other errors are not retried.
func TestPricerMeterReportsRetry(t *testing.T) {
	srv := startPricer(t, false)
	m := newPricerMeter(t, srv)
	ctx := context.Background()
	req := meterRequest(t, `{"model":"m"}`)
	key := randomKey(t, MeterToken)
	if err := m.Book(ctx, req, key, 10); err != nil {
		t.Fatal(err)
	}
	a, err := m.Authorize(ctx, req, key)
	if err != nil {
		t.Fatal(err)
	}

	unavailable := status.Error(codes.Unavailable, "restarting")
	srv.FailNext(reportAttempts-1, unavailable)
	if _, err := m.Settle(ctx, req, key, a, jsonResponse("1", "1")); err != nil {
		t.Fatalf("Settle after %d failures: %v", reportAttempts-1, err)
	}
	if n := srv.Calls("ReportUsage"); n != reportAttempts {
		t.Errorf("%d attempts, want %d", n, reportAttempts)
	}

	srv.FailNext(reportAttempts, unavailable)
	_, err = m.Settle(ctx, req, key, a, jsonResponse("1", "1"))
	if err == nil || !strings.Contains(err.Error(), "debit is lost") {
		t.Errorf("Settle after %d failures = %v", reportAttempts, err)
	}

	before := srv.Calls("ReportUsage")
	srv.FailNext(1, status.Error(codes.Internal, "bug"))
	if _, err := m.Settle(ctx, req, key, a, jsonResponse("1", "1")); err == nil {
		t.Error("Settle succeeded on Internal")
	}
	if n := srv.Calls("ReportUsage") - before; n != 1 {
		t.Errorf("an Internal error was tried %d times, want once", n)
	}
}

// TestPricerMeterNoResponse checks that a request whose backend never
// answered is reported as a 502 without a tail, which releases the
// reservation and debits nothing.
func TestPricerMeterNoResponse(t *testing.T) {
	srv := startPricer(t, false)
	m := newPricerMeter(t, srv)
	ctx := context.Background()
	req := meterRequest(t, `{"model":"m","max_tokens":700}`)
	key := randomKey(t, MeterToken)
	if err := m.Book(ctx, req, key, 10); err != nil {
		t.Fatal(err)
	}
	a, err := m.Authorize(ctx, req, key)
	if err != nil {
		t.Fatal(err)
	}

	s, err := m.Settle(ctx, req, key, a, &MeterResponse{})
	if err != nil || s.DebitedMsat != 0 || s.RemainingMsat != 10_000 {
		t.Errorf("Settle(no response) = %+v, %v", s, err)
	}
	reports := srv.Reports()
	if len(reports) != 1 || reports[0].GetHttpStatus() != http.StatusBadGateway ||
		reports[0].GetComplete() || len(reports[0].GetResponseTail()) != 0 {
		t.Errorf("reported %v", reports)
	}
	if b, _ := srv.Bundle(key.Hex()); b.Reserved != 0 || b.Remaining != 1000 {
		t.Errorf("bundle after a lost response = %+v", b)
	}
}

// TestPricerMeterSessions quotes and settles session requests, and falls
// back as Aperture does with a price server that has no session calls:
// GetPrice's price, and the estimate standing.
func TestPricerMeterSessions(t *testing.T) {
	ctx := context.Background()
	req := meterRequest(t, `{"model":"m","max_tokens":1000}`)
	var session [32]byte
	session[0] = 7

	srv := startPricer(t, false)
	m := newPricerMeter(t, srv)
	q, err := m.QuoteSession(ctx, req)
	if err != nil || q != (SessionQuote{UnitPriceSat: 10}) {
		t.Fatalf("QuoteSession = %+v, %v", q, err)
	}
	cost, err := m.SettleSession(ctx, req, session, 10, jsonResponse("10", "10"))
	if err != nil || cost != 1 {
		t.Errorf("SettleSession = %d, %v; want 1 (200 msat)", cost, err)
	}

	old := startPricer(t, true)
	om := newPricerMeter(t, old)
	q, err = om.QuoteSession(ctx, req)
	if err != nil || q.UnitPriceSat != 10 || old.Calls("GetPrice") != 1 {
		t.Errorf("QuoteSession without session calls = %+v, %v", q, err)
	}
	cost, err = om.SettleSession(ctx, req, session, 7, jsonResponse("10", "10"))
	if err != nil || cost != 7 {
		t.Errorf("SettleSession without session calls = %d, %v; want 7",
			cost, err)
	}
}

// TestPricerMeterKeysInThePrefix: an external price server reads the
// first MeterBodyBytes of the body (Aperture's prefix), so a body whose
// model or output bound the server would not see, or would see other
// than the backend reads, cannot be priced by it (400); a long body
// whose keys come first is priced as usual.
func TestPricerMeterKeysInThePrefix(t *testing.T) {
	srv := startPricer(t, false)
	m := newPricerMeter(t, srv)
	ctx := context.Background()
	long := strings.Repeat("x", MeterBodyBytes)
	read := func(body string) *MeterRequest {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(body))
		req, err := (&flow{}).meterRequest(r, "llm")
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	for _, body := range []string{
		`{"messages":"` + long + `","model":"m"}`,
		`{"model":"m","messages":"` + long + `","model":"dear"}`,
		`{"model":"m","max_tokens":5,"messages":"` + long +
			`","max_tokens":90000}`,
	} {
		if _, err := m.Quote(ctx, read(body)); !errors.Is(err,
			ErrMeterRequest) {
			t.Errorf("keys beyond the prefix (%d bytes): %v, want "+
				"ErrMeterRequest", len(body), err)
		}
	}
	if _, err := m.Quote(ctx, read(`{"model":"m","max_tokens":5,`+
		`"messages":"`+long+`"}`)); err != nil {
		t.Errorf("keys first: %v", err)
	}
}
