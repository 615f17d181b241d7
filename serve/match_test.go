package serve

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMatchStage: the first service whose hostregexp matches the
// normalised Host and whose pathregexp (if any) matches the path is the
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
		{"shop.example.com:443", "/cart", "rest"},
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
