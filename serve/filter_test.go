package serve

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

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

// TestFilterStage: the client's address (behind a trusted proxy) goes
// into the flow; a blocklisted client gets 403 (gRPC status 7) and a
// path that is not canonical 400 (gRPC status 3), before any later
// stage.
func TestFilterStage(t *testing.T) {
	cfg := stageConfig(t, "", "trustedproxies: [\"10.0.0.0/8\"]\n"+
		"blocklist: [\"198.51.100.9\"]\n")
	clients, err := newClientFilter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	end := &endStage{}
	s := link(end, &filterStage{clients: clients})

	req := func(path, xff, contentType string) *http.Request {
		r := httptest.NewRequest("GET", "http://x/", nil)
		r.URL.Path, r.RemoteAddr = path, "10.0.0.2:1"
		r.Header.Set("X-Forwarded-For", xff)
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		return r
	}
	f := &flow{}
	if rec := serveStage(s, req("/api/x", "198.51.100.7", ""), f); rec.Code !=
		200 || end.got.ip.String() != "198.51.100.7" {
		t.Fatalf("passed: %d, flow ip %v", rec.Code, end.got.ip)
	}

	tests := []struct {
		name, path, xff, contentType string
		code                         int
		grpc                         string
	}{
		{"blocklisted", "/api/x", "198.51.100.9", "", 403, ""},
		{"blocklisted gRPC", "/api/x", "198.51.100.9", "application/grpc",
			200, "7"},
		{"dot dot", "/api/free/../x", "198.51.100.7", "", 400, ""},
		{"double slash gRPC", "/api//x", "198.51.100.7",
			"application/grpc+proto", 200, "3"},
	}
	for _, tc := range tests {
		calls := end.calls
		rec := serveStage(s, req(tc.path, tc.xff, tc.contentType), &flow{})
		if rec.Code != tc.code || rec.Header().Get("Grpc-Status") != tc.grpc ||
			end.calls != calls {
			t.Errorf("%s: %d grpc %q, next called %v", tc.name, rec.Code,
				rec.Header().Get("Grpc-Status"), end.calls != calls)
		}
	}

	if _, err := newClientFilter(&Config{TrustedProxies: []string{
		"10.0.0.0"}}); err == nil {
		t.Fatal("a trusted proxy without a prefix length accepted")
	}
}
