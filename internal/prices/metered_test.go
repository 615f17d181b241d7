package prices

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/prices/pricesrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// scripted is a price server whose every metered answer is set by the test;
// it keeps what it received.
type scripted struct {
	pricesrpc.UnimplementedPricesServer

	addr string

	mu     sync.Mutex
	err    error
	delay  time.Duration
	auth   *pricesrpc.AuthorizeRequestResponse
	debit  *pricesrpc.ReportUsageResponse
	quote  *pricesrpc.QuoteSessionResponse
	settle *pricesrpc.SettleSessionResponse
	got    []proto.Message
}

// answer records req, waits out the delay and returns the scripted error.
func (s *scripted) answer(ctx context.Context, req proto.Message) error {
	s.mu.Lock()
	s.got = append(s.got, req)
	err, delay := s.err, s.delay
	s.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (s *scripted) ChallengeMinted(ctx context.Context,
	req *pricesrpc.ChallengeMintedRequest) (*pricesrpc.ChallengeMintedResponse,
	error) {

	if err := s.answer(ctx, req); err != nil {
		return nil, err
	}
	return &pricesrpc.ChallengeMintedResponse{}, nil
}

func (s *scripted) AuthorizeRequest(ctx context.Context,
	req *pricesrpc.AuthorizeRequestRequest) (
	*pricesrpc.AuthorizeRequestResponse, error) {

	if err := s.answer(ctx, req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth, nil
}

func (s *scripted) ReportUsage(ctx context.Context,
	req *pricesrpc.ReportUsageRequest) (*pricesrpc.ReportUsageResponse, error) {

	if err := s.answer(ctx, req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.debit, nil
}

func (s *scripted) QuoteSession(ctx context.Context,
	req *pricesrpc.QuoteSessionRequest) (*pricesrpc.QuoteSessionResponse, error) {

	if err := s.answer(ctx, req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quote, nil
}

func (s *scripted) SettleSession(ctx context.Context,
	req *pricesrpc.SettleSessionRequest) (*pricesrpc.SettleSessionResponse,
	error) {

	if err := s.answer(ctx, req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settle, nil
}

// received returns the requests received so far.
func (s *scripted) received() []proto.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]proto.Message(nil), s.got...)
}

// startScripted serves a scripted price server on 127.0.0.1 and returns it
// with a client dialed to it.
func startScripted(t *testing.T) (*scripted, *Client) {
	t.Helper()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &scripted{addr: lis.Addr().String()}
	gs := grpc.NewServer()
	pricesrpc.RegisterPricesServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	return srv, dial(t, Config{Address: srv.addr, Insecure: true,
		Timeout: 2 * time.Second})
}

// chatRequest is a metered request as a buyer sends it.
func chatRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"m","max_tokens":50}`))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// TestMeteredCallsSend checks what each metered call puts on the wire: the
// request's path and text, the key, the service, and the usage fields.
func TestMeteredCallsSend(t *testing.T) {
	srv, c := startScripted(t)
	srv.auth = &pricesrpc.AuthorizeRequestResponse{Allowed: true,
		ReservedEstimate: 50}
	srv.debit = &pricesrpc.ReportUsageResponse{DebitedSats: 2,
		RemainingSats: 98}
	srv.quote = &pricesrpc.QuoteSessionResponse{UnitPriceSats: 3}
	srv.settle = &pricesrpc.SettleSessionResponse{CostSats: 4}
	ctx := context.Background()

	r := chatRequest()
	cr, err := NewRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ChallengeMinted(ctx, cr, "ab01", "llm", 100); err != nil {
		t.Fatalf("ChallengeMinted: %v", err)
	}
	a, err := c.AuthorizeRequest(ctx, chatReq(t), "ab01", "llm")
	if err != nil || a != (Admission{Allowed: true, ReservedEstimate: 50}) {
		t.Fatalf("AuthorizeRequest = %+v, %v", a, err)
	}
	tail := []byte("data: [DONE]\n\n")
	d, err := c.ReportUsage(ctx, Usage{Key: "ab01",
		Response: Response{Path: "/v1/chat/completions", Service: "llm",
			Status: 200, ContentType: "text/event-stream", Complete: true,
			Tail: tail}, ReservedEstimate: 50})
	if err != nil || d != (Debit{DebitedSats: 2, RemainingSats: 98}) {
		t.Fatalf("ReportUsage = %+v, %v", d, err)
	}
	q, err := c.QuoteSession(ctx, chatReq(t), "", "llm")
	if err != nil || q != (SessionQuote{UnitPriceSats: 3}) {
		t.Fatalf("QuoteSession = %+v, %v", q, err)
	}
	text := chatReq(t).Text
	cost, err := c.SettleSession(ctx, SessionUsage{SessionID: "s1",
		Response: Response{Path: "/v1/chat/completions", Service: "llm",
			Status: 200, ContentType: "application/json",
			ContentEncoding: "identity", Tail: tail},
		EstimateSats: 3, RequestText: text})
	if err != nil || cost != 4 {
		t.Fatalf("SettleSession = %d, %v", cost, err)
	}

	got := srv.received()
	if len(got) != 5 {
		t.Fatalf("server received %d calls, want 5", len(got))
	}
	minted := got[0].(*pricesrpc.ChallengeMintedRequest)
	if minted.GetPath() != "/v1/chat/completions" ||
		minted.GetTokenId() != "ab01" || minted.GetPriceSats() != 100 ||
		minted.GetServiceName() != "llm" ||
		!strings.HasSuffix(minted.GetHttpRequestText(), `"max_tokens":50}`) {

		t.Errorf("ChallengeMinted sent %v", minted)
	}
	if rest := readAll(t, r); rest != `{"model":"m","max_tokens":50}` {
		t.Errorf("body after NewRequest = %q", rest)
	}
	auth := got[1].(*pricesrpc.AuthorizeRequestRequest)
	if auth.GetTokenId() != "ab01" || auth.GetServiceName() != "llm" ||
		!strings.HasPrefix(auth.GetHttpRequestText(), "POST /v1/chat/completions") {

		t.Errorf("AuthorizeRequest sent %v", auth)
	}
	report := got[2].(*pricesrpc.ReportUsageRequest)
	if report.GetTokenId() != "ab01" || report.GetHttpStatus() != 200 ||
		!report.GetComplete() || !bytes.Equal(report.GetResponseTail(), tail) ||
		report.GetReservedEstimate() != 50 ||
		report.GetContentType() != "text/event-stream" {

		t.Errorf("ReportUsage sent %v", report)
	}
	quote := got[3].(*pricesrpc.QuoteSessionRequest)
	if quote.GetSessionId() != "" || quote.GetServiceName() != "llm" {
		t.Errorf("QuoteSession sent %v", quote)
	}
	settle := got[4].(*pricesrpc.SettleSessionRequest)
	if settle.GetSessionId() != "s1" || settle.GetEstimateSats() != 3 ||
		settle.GetHttpRequestText() != text ||
		settle.GetContentEncoding() != "identity" || settle.GetComplete() {

		t.Errorf("SettleSession sent %v", settle)
	}
}

// chatReq is chatRequest, serialized for the metered calls.
func chatReq(t *testing.T) Request {
	t.Helper()

	r, err := NewRequest(chatRequest())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readAll reads what is left of r's body.
func readAll(t *testing.T, r *http.Request) string {
	t.Helper()

	var b bytes.Buffer
	if _, err := b.ReadFrom(r.Body); err != nil {
		t.Fatalf("read the body: %v", err)
	}
	return b.String()
}

// TestMeteredRefusesBadAnswers checks that the answers a price server must
// not give (negative or impossible prices, costs, balances and
// reservations) are errors wrapping ErrBadPrice or ErrZeroPrice that name
// the server, the call and the field, and that a refusal's reason is kept
// printable and short.
func TestMeteredRefusesBadAnswers(t *testing.T) {
	srv, c := startScripted(t)
	ctx := context.Background()
	usage := Usage{Key: "k", Response: Response{Status: 200}}

	check := func(name string, err error, want error, field string) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", name, err, want)
			return
		}
		for _, part := range []string{srv.addr, field} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("%s: error %q does not name %q", name, err, part)
			}
		}
	}

	srv.auth = &pricesrpc.AuthorizeRequestResponse{PriceSats: -1}
	_, err := c.AuthorizeRequest(ctx, chatReq(t), "k", "s")
	check("negative next price", err, ErrBadPrice, "price_sats -1")

	srv.auth = &pricesrpc.AuthorizeRequestResponse{PriceSats: MaxPriceSats + 1}
	_, err = c.AuthorizeRequest(ctx, chatReq(t), "k", "s")
	check("impossible next price", err, ErrBadPrice, "AuthorizeRequest")

	srv.auth = &pricesrpc.AuthorizeRequestResponse{Allowed: true,
		ReservedEstimate: -5}
	_, err = c.AuthorizeRequest(ctx, chatReq(t), "k", "s")
	check("negative reservation", err, ErrBadPrice, "reserved_estimate -5")

	srv.auth = &pricesrpc.AuthorizeRequestResponse{
		Reason: "spent\x1b[31m\n" + strings.Repeat("x", 300)}
	a, err := c.AuthorizeRequest(ctx, chatReq(t), "k", "s")
	if err != nil || a.Allowed || strings.ContainsAny(a.Reason, "\x1b\n") ||
		len([]rune(a.Reason)) != maxReasonRunes+3 {

		t.Errorf("refusal = %+v, %v; want a short printable reason", a, err)
	}

	srv.debit = &pricesrpc.ReportUsageResponse{DebitedSats: -1}
	_, err = c.ReportUsage(ctx, usage)
	check("negative debit", err, ErrBadPrice, "debited_sats -1")

	srv.debit = &pricesrpc.ReportUsageResponse{RemainingSats: MaxPriceSats + 1}
	_, err = c.ReportUsage(ctx, usage)
	check("impossible balance", err, ErrBadPrice, "remaining_sats")

	srv.debit = &pricesrpc.ReportUsageResponse{DebitedSats: 5,
		RemainingSats: -20}
	d, err := c.ReportUsage(ctx, usage)
	if err != nil || d != (Debit{DebitedSats: 5}) {
		t.Errorf("overdrawn balance = %+v, %v; want it read as 0", d, err)
	}

	srv.quote = &pricesrpc.QuoteSessionResponse{}
	_, err = c.QuoteSession(ctx, chatReq(t), "", "s")
	check("zero unit price", err, ErrZeroPrice, "unit_price_sats 0")

	srv.quote = &pricesrpc.QuoteSessionResponse{UnitPriceSats: -3}
	_, err = c.QuoteSession(ctx, chatReq(t), "", "s")
	check("negative unit price", err, ErrBadPrice, "unit_price_sats -3")

	srv.quote = &pricesrpc.QuoteSessionResponse{UnitPriceSats: 3,
		DepositSats: -1}
	_, err = c.QuoteSession(ctx, chatReq(t), "", "s")
	check("negative deposit", err, ErrBadPrice, "deposit_sats -1")

	srv.settle = &pricesrpc.SettleSessionResponse{CostSats: -7}
	_, err = c.SettleSession(ctx, SessionUsage{SessionID: "s1",
		Response: Response{Status: 200}})
	check("negative cost", err, ErrBadPrice, "cost_sats -7")

	srv.settle = &pricesrpc.SettleSessionResponse{CostSats: MaxPriceSats + 1}
	_, err = c.SettleSession(ctx, SessionUsage{SessionID: "s1",
		Response: Response{Status: 200}})
	check("impossible cost", err, ErrBadPrice, "SettleSession")
}

// TestMeteredRefusesBadReports checks that a report l402 should never make
// is refused before it is sent.
func TestMeteredRefusesBadReports(t *testing.T) {
	srv, c := startScripted(t)
	ctx := context.Background()
	big := make([]byte, MaxUsageTailBytes+1)

	for name, u := range map[string]Usage{
		"no key":      {Response: Response{Status: 200}},
		"huge tail":   {Key: "k", Response: Response{Status: 200, Tail: big}},
		"no status":   {Key: "k"},
		"bad status":  {Key: "k", Response: Response{Status: 1000}},
		"tiny status": {Key: "k", Response: Response{Status: 99}},
	} {
		if _, err := c.ReportUsage(ctx, u); !errors.Is(err, ErrBadUsage) {
			t.Errorf("%s: ReportUsage = %v, want ErrBadUsage", name, err)
		}
	}
	_, err := c.SettleSession(ctx, SessionUsage{Response: Response{Status: 200}})
	if !errors.Is(err, ErrBadUsage) {
		t.Errorf("SettleSession without a session = %v, want ErrBadUsage", err)
	}
	if err := c.ChallengeMinted(ctx, chatReq(t), "", "s", 1); err == nil {
		t.Error("ChallengeMinted without a key succeeded")
	}
	if _, err := c.AuthorizeRequest(ctx, chatReq(t), "", "s"); err == nil {
		t.Error("AuthorizeRequest without a key succeeded")
	}
	if got := srv.received(); len(got) != 0 {
		t.Errorf("server received %d calls, want none", len(got))
	}
}

// TestMeteredErrors checks that a status, a server that does not answer
// in time and a server that only knows GetPrice are errors that name the
// server and the call, with the gRPC code still reachable.
func TestMeteredErrors(t *testing.T) {
	srv, c := startScripted(t)
	ctx := context.Background()

	srv.err = status.Error(codes.InvalidArgument, "unknown model")
	err := c.ChallengeMinted(ctx, chatReq(t), "k", "s", 1)
	if status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "answered ChallengeMinted with "+
			"InvalidArgument: unknown model") {

		t.Errorf("ChallengeMinted = %v", err)
	}

	srv.mu.Lock()
	srv.err, srv.delay = nil, time.Minute
	srv.mu.Unlock()
	short := dial(t, Config{Address: srv.addr, Insecure: true,
		Timeout: 200 * time.Millisecond})
	_, err = short.AuthorizeRequest(ctx, chatReq(t), "k", "s")
	if status.Code(err) != codes.DeadlineExceeded ||
		!strings.Contains(err.Error(), "did not answer AuthorizeRequest") {

		t.Errorf("AuthorizeRequest against a slow server = %v", err)
	}

	old := startServer(t, 5, nil)
	oc := dial(t, Config{Address: old.addr, Insecure: true})
	_, err = oc.ReportUsage(ctx, Usage{Key: "k", Response: Response{Status: 200}})
	if status.Code(err) != codes.Unimplemented ||
		!strings.Contains(err.Error(), "pricesrpc.Prices/ReportUsage") ||
		!strings.Contains(err.Error(), "dynamicprice.metered") {

		t.Errorf("ReportUsage against a GetPrice-only server = %v", err)
	}
}

// TestRequestWithBody checks that a request serialized from a body prefix
// the caller already read is the text NewRequest makes, short body or
// long, and that the body is left alone.
func TestRequestWithBody(t *testing.T) {
	for _, body := range []string{"", `{"model":"m"}`,
		strings.Repeat("é", MaxBodyBytes)} {

		want, err := NewRequest(httptest.NewRequest(http.MethodPost,
			"/v1/x?q=1", strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}

		r := httptest.NewRequest(http.MethodPost, "/v1/x?q=1",
			strings.NewReader(body))
		prefix := []byte(body)
		truncated := len(prefix) > MaxBodyBytes
		got, err := RequestWithBody(r, prefix, truncated)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("body of %d bytes: RequestWithBody differs from "+
				"NewRequest (%d and %d bytes of text)", len(body),
				len(got.Text), len(want.Text))
		}
		if rest := readAll(t, r); rest != body {
			t.Errorf("RequestWithBody read the body")
		}
	}
}
