package serve

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMatchStage: the first service whose hostregexp matches the
// normalised Host (without its port) and whose pathregexp (if any) matches the path is the
// flow's route; a request for no service gets 404 and goes no further.
func TestMatchStage(t *testing.T) {
	cfg := stageConfig(t, `  - name: "shop"
    hostregexp: "^shop\\.example\\.com$"
    address: "127.0.0.1:8081"
  - name: "rest"
    hostregexp: ".*"
    address: "127.0.0.1:8082"
`, "")
	end := &endStage{}
	s := link(end, newMatchStage(cfg))
	for _, tc := range []struct{ host, path, want string }{
		{"anything", "/api/x", "api"},
		{"SHOP.Example.com.", "/cart", "shop"},
		{"shop.example.com:443", "/cart", "shop"},
		{"other", "/cart", "rest"},
	} {
		r := httptest.NewRequest("GET", "http://x"+tc.path, nil)
		r.Host = tc.host
		rec := serveStage(s, r, &flow{})
		if rec.Code != 200 || end.got.route == nil ||
			end.got.route.cfg.Name != tc.want ||
			&cfg.Services[end.got.route.index] != end.got.route.cfg {
			t.Errorf("%s%s: %d, route %+v, want %s", tc.host, tc.path,
				rec.Code, end.got.route, tc.want)
		}
	}

	only := link(end, newMatchStage(stageConfig(t, "", "")))
	calls := end.calls
	rec := serveStage(only, httptest.NewRequest("GET", "http://x/elsewhere",
		nil), &flow{})
	if rec.Code != 404 || end.calls != calls ||
		!strings.Contains(rec.Body.String(), "no service") {
		t.Fatalf("no service: %d %q", rec.Code, rec.Body)
	}
}

// TestMatchStageIgnoresThePort: hostregexp sees the Host without its
// port, IPv6 literals keeping their brackets, so that ^api\.example$
// matches api.example:80 and ^\[::1\]$ matches [::1]:8081.
func TestMatchStageIgnoresThePort(t *testing.T) {
	cfg := stageConfig(t, `  - name: "named"
    hostregexp: "^api\\.example$"
    address: "127.0.0.1:8081"
  - name: "v6"
    hostregexp: "^\\[::1\\]$"
    address: "127.0.0.1:8082"
  - name: "withport"
    hostregexp: ":8443$"
    address: "127.0.0.1:8083"
`, "")
	end := &endStage{}
	s := link(end, newMatchStage(cfg))
	for host, want := range map[string]string{
		"api.example": "named", "api.example:80": "named",
		"API.Example.:8443": "named", "[::1]:8081": "v6", "[::1]": "v6",
		"[::1]:": "v6", "other:8443": "",
	} {
		r := httptest.NewRequest("GET", "http://x/cart", nil)
		r.Host = host
		rec := serveStage(s, r, &flow{})
		got := ""
		if rec.Code == 200 {
			got = end.got.route.cfg.Name
		}
		if got != want {
			t.Errorf("Host %q: %d, service %q, want %q", host, rec.Code,
				got, want)
		}
	}
}
