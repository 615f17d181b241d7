package serve

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(RateLimitConfig{Requests: 2, Per: time.Minute, Burst: 3})
	now := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.allow("a", now)
	if ok || wait != 30*time.Second {
		t.Fatalf("over the burst: %v %v, want a 30s wait", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("another key shares the bucket")
	}
	if ok, _ := l.allow("a", now.Add(30*time.Second)); !ok {
		t.Fatal("not refilled after the wait")
	}
	if ok, _ := l.allow("a", now.Add(30*time.Second)); ok {
		t.Fatal("refilled more than the rate")
	}

	// Defaults: burst is the request count.
	l = newLimiter(RateLimitConfig{Requests: 1, Per: time.Second})
	l.allow("x", now)
	if ok, _ := l.allow("x", now); ok {
		t.Fatal("burst above requests")
	}
}

func TestHandlerLimitsAndBlocklist(t *testing.T) {
	extra := `    ratelimits:
      - pathregexp: "^/api/free$"
        requests: 2
        per: 1h
`
	e := newHandlerEnvWith(t, extra, "")
	for i := 0; i < 2; i++ {
		if resp, _ := e.get(t, "/api/free", nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := e.get(t, "/api/free", nil)
	if resp.StatusCode != http.StatusTooManyRequests ||
		resp.Header.Get("Retry-After") != "1800" {
		t.Fatalf("third request: %d Retry-After %q", resp.StatusCode,
			resp.Header.Get("Retry-After"))
	}
	resp, _ = e.get(t, "/api/free", map[string][]string{
		"Content-Type": {"application/grpc"}})
	if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "8" {
		t.Fatalf("gRPC over the limit: %d %v", resp.StatusCode, resp.Header)
	}

	blocked := newHandlerEnvWith(t, "", "blocklist: [\"127.0.0.1\"]\n")
	if resp, body := blocked.get(t, "/api/free", nil); resp.StatusCode != 403 ||
		!strings.Contains(body, "forbidden") {
		t.Fatalf("blocklisted client: %d", resp.StatusCode)
	}
}

// TestHandlerRateLimitsFreebies: a freebie is a request without a token,
// so the service's ratelimits count it per client, as they did before the
// chain: "auth: freebie N" does not lift them.
func TestHandlerRateLimitsFreebies(t *testing.T) {
	e := newHandlerEnvWith(t, `    auth: freebie 5
    ratelimits:
      - requests: 2
        per: 1h
`, "")
	for i := range 2 {
		if resp, _ := e.get(t, "/api/data", nil); resp.StatusCode != 200 {
			t.Fatalf("freebie %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := e.get(t, "/api/data", nil)
	if resp.StatusCode != http.StatusTooManyRequests ||
		resp.Header.Get("Retry-After") != "1800" {
		t.Fatalf("third freebie over the limit: %d Retry-After %q",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestHandlerChallengeLimit(t *testing.T) {
	e := newHandlerEnvWith(t, "", "challengelimit:\n  requests: 2\n  per: 1h\n")
	for i := 0; i < 2; i++ {
		if resp, _ := e.get(t, "/api/data", nil); resp.StatusCode != 402 {
			t.Fatalf("challenge %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := e.get(t, "/api/data", nil)
	if resp.StatusCode != http.StatusTooManyRequests ||
		len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("third challenge: %d", resp.StatusCode)
	}

	// Whitelisted paths and paid requests are not challenges.
	if resp, _ := e.get(t, "/api/free", nil); resp.StatusCode != 200 {
		t.Fatalf("whitelisted path under the challenge limit: %d",
			resp.StatusCode)
	}

	off := newHandlerEnvWith(t, "", "challengelimit:\n  disable: true\n"+
		"  requests: 1\n")
	for i := 0; i < 3; i++ {
		if resp, _ := off.get(t, "/api/data", nil); resp.StatusCode != 402 {
			t.Fatalf("disabled limit, challenge %d: %d", i, resp.StatusCode)
		}
	}
}

// TestLimitStage: every rule whose pathregexp matches must allow the
// request; a paid request is counted per token, others (freebies too) per
// client; a refused request gets 429 with Retry-After (gRPC
// status 8) and goes no further.
func TestLimitStage(t *testing.T) {
	cfg := stageConfig(t, `    ratelimits:
      - requests: 1
        per: 1h
      - pathregexp: "^/api/other$"
        requests: 100
        per: 1s
`, "")
	now := time.Unix(1000, 0)
	m := NewMetrics()
	end := &endStage{}
	s := link(end, newLimitStage(cfg, func() time.Time { return now }, m))
	var last *httptest.ResponseRecorder
	send := func(f *flow, contentType string) (int, string, bool) {
		r := httptest.NewRequest("GET", "http://x/api/x", nil)
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		calls := end.calls
		last = serveStage(s, r, f)
		return last.Code, last.Header().Get("Retry-After"),
			end.calls != calls
	}

	unpaidFlow := flowFor(cfg)
	if code, _, next := send(unpaidFlow, ""); code != 200 || !next {
		t.Fatalf("first request: %d", code)
	}
	if code, wait, next := send(flowFor(cfg), ""); code != 429 ||
		wait != "3600" || next {
		t.Fatalf("second from the client: %d Retry-After %q", code, wait)
	}
	f := flowFor(cfg)
	f.access, f.grant = paid, Grant{Key: "token:1"}
	if code, _, next := send(f, ""); code != 200 || !next {
		t.Fatalf("paid, counted per token: %d", code)
	}
	f = flowFor(cfg)
	f.access, f.grant = paid, Grant{Key: "token:1"}
	if code, _, next := send(f, "application/grpc"); code != 200 || next ||
		last.Header().Get("Grpc-Status") != "8" {
		t.Fatalf("gRPC over the limit: HTTP %d, next %v, %v", code, next,
			last.Header())
	}
	f = flowFor(cfg)
	f.pass(freebie, "freebie")
	if code, wait, next := send(f, ""); code != 429 || wait != "3600" ||
		next {
		t.Fatalf("freebie of a client over its limit: %d Retry-After %q",
			code, wait)
	}
	if !strings.Contains(metricsText(m),
		`l402_rate_limited_total{limit="rule",service="api"} 3`) {
		t.Fatalf("metrics:\n%s", metricsText(m))
	}
}

// TestLimiterFullKeepsRecentClients fills a limiter to its maxBuckets keys:
// an exhausted client that keeps asking must stay refused when the next
// new key arrives. The least recently used key is forgotten, not every
// bucket (which gave the exhausted client its whole burst back).
func TestLimiterFullKeepsRecentClients(t *testing.T) {
	l := newLimiter(RateLimitConfig{Requests: 2, Per: time.Hour})
	now := time.Unix(1000, 0)
	for i := 0; i < 2; i++ {
		l.allow("hog", now)
	}
	if ok, _ := l.allow("hog", now); ok {
		t.Fatal("the third request within the hour passed")
	}
	for i := 0; i < maxBuckets-1; i++ {
		key := "client-" + strconv.Itoa(i)
		l.allow(key, now)
		l.allow(key, now)
	}
	if ok, _ := l.allow("hog", now); ok {
		t.Fatal("the exhausted client passed with the limiter full")
	}
	for i := 0; i < 10; i++ {
		l.allow("newcomer-"+strconv.Itoa(i), now)
		if ok, _ := l.allow("hog", now); ok {
			t.Fatalf("newcomer %d gave the exhausted client its burst "+
				"back", i)
		}
	}
	// The oldest clients were the ones forgotten; a recent one is not.
	if ok, _ := l.allow("client-0", now); !ok {
		t.Fatal("the least recently used client was not the one forgotten")
	}
	if ok, _ := l.allow("client-"+strconv.Itoa(maxBuckets-2), now); ok {
		t.Fatal("a recent exhausted client was forgotten")
	}
}
