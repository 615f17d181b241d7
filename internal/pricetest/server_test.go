package pricetest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/prices"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// start runs a server selling model "m" at 4 and 16 msat per token (a
// blended 10), in bundles of 1000 tokens (10 sat), with an estimate of 100,
// and a client dialed to it.
func start(t *testing.T) (*Server, *prices.Client) {
	t.Helper()

	srv, err := Start(Config{
		Models:         map[string]Rates{"m": {4, 16}, "big": {40, 160}},
		Default:        "m",
		BundleTokens:   1000,
		EstimateTokens: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)

	c, err := prices.Dial(prices.Config{Address: srv.Addr(), Insecure: true,
		Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	return srv, c
}

// chat is a chat request for model with an optional max_tokens.
func chat(model string, maxTokens int) prices.Request {
	body := `{"model":"` + model + `"`
	if maxTokens > 0 {
		body += `,"max_tokens":` + strconv.Itoa(maxTokens)
	}
	r, err := prices.NewRequest(httptest.NewRequest(http.MethodPost,
		"/v1/chat/completions", strings.NewReader(body+"}")))
	if err != nil {
		panic(err)
	}
	return r
}

// TestBundleLifecycle sells a bundle, spends it by reported usage (JSON,
// SSE, a stream abandoned before its usage) and sees it refused when spent,
// with the next bundle's price.
func TestBundleLifecycle(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()

	price, err := c.PriceOf(ctx, chat("m", 0))
	if err != nil || price != 10 {
		t.Fatalf("Price = %d, %v; want 10", price, err)
	}
	if err := c.ChallengeMinted(ctx, chat("m", 0), "k1", "llm", price); err != nil {
		t.Fatal(err)
	}

	a, err := c.AuthorizeRequest(ctx, chat("m", 300), "k1", "llm")
	if err != nil || !a.Allowed || a.ReservedEstimate != 300 {
		t.Fatalf("AuthorizeRequest = %+v, %v", a, err)
	}
	if b, _ := srv.Bundle("k1"); b.Reserved != 300 {
		t.Errorf("reserved %d, want 300", b.Reserved)
	}

	// 100 prompt and 200 completion tokens: 400+3200 msat, 4 sat; 360
	// bundle tokens at the blended rate of 10.
	d, err := c.ReportUsage(ctx, prices.Usage{Key: "k1",
		Response: prices.Response{Status: 200,
			ContentType: "application/json", Complete: true,
			Tail: []byte(`{"choices":[],"usage":{"prompt_tokens":100,` +
				`"completion_tokens":200,"total_tokens":300}}`)},
		ReservedEstimate: 300})
	if err != nil || d.DebitedSats != 4 {
		t.Fatalf("ReportUsage = %+v, %v", d, err)
	}
	if b, _ := srv.Bundle("k1"); b.Remaining != 640 || b.Reserved != 0 {
		t.Errorf("bundle after a JSON report = %+v, want 640 left", b)
	}

	// An SSE tail whose first line is cut, with running totals: the last
	// usage counts.
	sse := `lta":{"content":"x"}}]}` + "\n\n" +
		`data: {"choices":[],"usage":{"total_tokens":40}}` + "\n\n" +
		`data: {"choices":[],"usage":{"total_tokens":50}}` + "\n\n" +
		"data: [DONE]\n\n"
	if _, err := c.AuthorizeRequest(ctx, chat("m", 0), "k1", "llm"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReportUsage(ctx, prices.Usage{Key: "k1",
		Response: prices.Response{Status: 200,
			ContentType: "text/event-stream", Complete: true,
			Tail: []byte(sse)}, ReservedEstimate: 100}); err != nil {
		t.Fatal(err)
	}
	if b, _ := srv.Bundle("k1"); b.Remaining != 590 {
		t.Errorf("bundle after an SSE report = %d, want 590", b.Remaining)
	}

	// Abandoned before the usage chunk: the reservation is the cost.
	if _, err := c.AuthorizeRequest(ctx, chat("m", 500), "k1", "llm"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReportUsage(ctx, prices.Usage{Key: "k1",
		Response: prices.Response{Status: 200,
			ContentType: "text/event-stream",
			Tail:        []byte(`data: {"choices":[{"delta":{}}]}` + "\n\n")},
		ReservedEstimate: 500}); err != nil {
		t.Fatal(err)
	}
	if b, _ := srv.Bundle("k1"); b.Remaining != 90 {
		t.Errorf("bundle after an abandoned stream = %d, want 90", b.Remaining)
	}

	// The last 90 tokens still admit one request, which overdraws to 0.
	if a, _ := c.AuthorizeRequest(ctx, chat("m", 0), "k1", "llm"); !a.Allowed {
		t.Fatal("refused with 90 tokens left")
	}
	d, err = c.ReportUsage(ctx, prices.Usage{Key: "k1",
		Response: prices.Response{Status: 200,
			ContentType: "application/json", Complete: true,
			Tail: []byte(`{"usage":{"total_tokens":95}}`)},
		ReservedEstimate: 100})
	if err != nil || d.RemainingSats != 0 {
		t.Fatalf("last report = %+v, %v", d, err)
	}

	a, err = c.AuthorizeRequest(ctx, chat("m", 0), "k1", "llm")
	if err != nil || a.Allowed || a.PriceSats != 10 || a.Reason != "bundle exhausted" {
		t.Errorf("spent bundle: %+v, %v; want refused at 10", a, err)
	}
	a, _ = c.AuthorizeRequest(ctx, chat("big", 0), "k1", "llm")
	if a.Allowed || a.PriceSats != 100 {
		t.Errorf("another model: %+v; want refused at its price, 100", a)
	}
	if a, _ := c.AuthorizeRequest(ctx, chat("m", 0), "nope", "llm"); a.Allowed {
		t.Error("an unknown key was admitted")
	}
}

// TestReservationsBoundConcurrency checks that requests in flight hold the
// bundle: with 1000 tokens and reservations of 400, three are admitted
// (meterd admits while anything is left after the reservations) and the
// fourth is refused until a report releases one.
func TestReservationsBoundConcurrency(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()
	if err := c.ChallengeMinted(ctx, chat("m", 0), "k", "llm", 10); err != nil {
		t.Fatal(err)
	}

	for i, want := range []bool{true, true, true, false} {
		a, err := c.AuthorizeRequest(ctx, chat("m", 400), "k", "llm")
		if err != nil || a.Allowed != want {
			t.Fatalf("request %d: %+v, %v; want allowed %v", i, a, err, want)
		}
	}
	if _, err := c.ReportUsage(ctx, prices.Usage{Key: "k",
		Response: prices.Response{Status: 200}, ReservedEstimate: 400}); err != nil {
		t.Fatal(err)
	}
	if a, _ := c.AuthorizeRequest(ctx, chat("m", 400), "k", "llm"); !a.Allowed {
		t.Error("still refused after a reservation was released")
	}
	if b, _ := srv.Bundle("k"); b.Reserved != 1200 {
		t.Errorf("reserved %d, want 1200", b.Reserved)
	}
}

// TestSessions quotes and settles a session request.
func TestSessions(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()

	q, err := c.QuoteSession(ctx, chat("m", 1000), "", "llm")
	if err != nil || q.UnitPriceSats != 10 {
		t.Fatalf("QuoteSession = %+v, %v; want 10", q, err)
	}
	text := chat("big", 0).Text
	cost, err := c.SettleSession(ctx, prices.SessionUsage{SessionID: "s",
		Response: prices.Response{Status: 200, Complete: true,
			ContentType: "application/json",
			Tail:        []byte(`{"usage":{"prompt_tokens":10,"completion_tokens":10}}`)},
		EstimateSats: 9, RequestText: text})
	if err != nil || cost != 2 {
		t.Errorf("SettleSession = %d, %v; want 2 (200+1600 msat)", cost, err)
	}
	cost, _ = c.SettleSession(ctx, prices.SessionUsage{SessionID: "s",
		Response: prices.Response{Status: 200}, EstimateSats: 9,
		RequestText: text})
	if cost != 9 {
		t.Errorf("SettleSession without usage = %d, want the estimate 9", cost)
	}
}

// TestStopAndFail checks the two ways a test makes the server unusable.
func TestStopAndFail(t *testing.T) {
	srv, c := start(t)
	ctx := context.Background()

	srv.Fail(status.Error(codes.Internal, "disk full"))
	if err := c.ChallengeMinted(ctx, chat("m", 0), "k", "llm", 10); status.Code(err) != codes.Internal {
		t.Errorf("ChallengeMinted while failing = %v", err)
	}
	srv.Fail(nil)

	srv.Stop()
	_, err := c.AuthorizeRequest(ctx, chat("m", 0), "k", "llm")
	if status.Code(err) != codes.Unavailable {
		t.Errorf("AuthorizeRequest while stopped = %v, want Unavailable", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, err = c.PriceOf(ctx, chat("m", 0))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("Price after Restart: %v", err)
	}
}

// TestExtractUsage reads usage from the tails a backend sends.
func TestExtractUsage(t *testing.T) {
	tests := []struct {
		name, ct, tail string
		want           usage
		found          bool
	}{
		{"json", "application/json",
			`{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
			usage{1, 2, 3, true}, true},
		{"json total only", "application/json; charset=utf-8",
			`{"usage":{"total_tokens":7}}`, usage{0, 0, 7, false}, true},
		{"json without usage", "application/json", `{"id":"x"}`, usage{}, false},
		{"sse last chunk", "text/event-stream",
			"data: {\"usage\":{\"total_tokens\":1}}\n\ndata: {\"usage\":" +
				"{\"prompt_tokens\":2,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n",
			usage{2, 3, 5, true}, true},
		{"sse without usage", "text/event-stream",
			"data: {\"choices\":[]}\n\ndata: [DONE]\n\n", usage{}, false},
		{"gzip", "application/json", "\x1f\x8b\x08\x00", usage{}, false},
	}
	for _, tt := range tests {
		got, found := extractUsage(tt.ct, []byte(tt.tail))
		if got != tt.want || found != tt.found {
			t.Errorf("%s: %+v, %v; want %+v, %v", tt.name, got, found,
				tt.want, tt.found)
		}
	}
}

// TestHandler checks the backend's two answers.
func TestHandler(t *testing.T) {
	hs := httptest.NewServer(Handler())
	defer hs.Close()

	for _, stream := range []bool{false, true} {
		body := `{"model":"m"}`
		if stream {
			body = `{"model":"m","stream":true}`
		}
		req, _ := http.NewRequest(http.MethodPost, hs.URL, strings.NewReader(body))
		req.Header.Set("X-Usage", "3,4")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()

		u, found := extractUsage(resp.Header.Get("Content-Type"), b)
		if !found || u != (usage{3, 4, 7, true}) {
			t.Errorf("stream %v: usage %+v in %q", stream, u, b)
		}
	}
}

// TestStartChecksConfig refuses a config the server cannot sell from.
func TestStartChecksConfig(t *testing.T) {
	_, err := Start(Config{Models: map[string]Rates{"m": {1, 1}}, Default: "x",
		BundleTokens: 1, EstimateTokens: 1})
	if err == nil {
		t.Error("Start accepted a default model without rates")
	}
	_, err = Start(Config{Models: map[string]Rates{"m": {1, 1}}, Default: "m"})
	if err == nil {
		t.Error("Start accepted a bundle of 0 tokens")
	}
}
