package serve

import (
	"net"
	"net/http"
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

func TestClientIP(t *testing.T) {
	_, proxies, _ := net.ParseCIDR("10.0.0.0/8")
	trusted := []*net.IPNet{proxies}
	tests := []struct {
		remote, xff string
		trusted     []*net.IPNet
		want        string
	}{
		{"192.0.2.1:5", "198.51.100.7", nil, "192.0.2.1"},
		{"192.0.2.1:5", "198.51.100.7", trusted, "192.0.2.1"},
		{"10.0.0.2:5", "198.51.100.7", trusted, "198.51.100.7"},
		{"10.0.0.2:5", "203.0.113.9, 198.51.100.7, 10.0.0.3", trusted,
			"198.51.100.7"},
		{"10.0.0.2:5", "garbage", trusted, "10.0.0.2"},
	}
	for _, tc := range tests {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", tc.xff)
		if got := clientIP(r, tc.trusted); got.String() != tc.want {
			t.Errorf("%s via %q: %s, want %s", tc.remote, tc.xff, got,
				tc.want)
		}
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
