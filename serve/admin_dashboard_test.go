package serve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/l402/l402/serve/dashboard"
)

// TestAdminServesTheDashboard: with the admin API on, its listener serves
// the dashboard's page and files without a macaroon (the page asks for
// it), before any service (the catch-all "api" service would otherwise
// answer 402), while the REST paths it calls still refuse a request
// without the macaroon.
func TestAdminServesTheDashboard(t *testing.T) {
	w := newAdminWorld(t)
	w.edit = func(y string) string {
		return strings.Replace(y, `pathregexp: "^/api/.*$"`,
			`pathregexp: "^/.*$"`, 1)
	}
	e := w.replica(t, "")
	for _, p := range []string{dashboard.Prefix, dashboard.Prefix + "app.js"} {
		resp, body := e.getBody(t, p)
		if resp.StatusCode != 200 || len(body) < 100 ||
			resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d %v", p, resp.StatusCode, resp.Header)
		}
	}
	if resp, _ := e.getBody(t, "/api/admin/stats"); resp.StatusCode !=
		http.StatusUnauthorized {
		t.Errorf("stats without the macaroon: %d", resp.StatusCode)
	}
	if resp, _ := e.getBody(t, "/"); resp.StatusCode !=
		http.StatusPaymentRequired {
		t.Errorf("/ on the main listener is the services': %d",
			resp.StatusCode)
	}
	// On a listener of its own (admin.listenaddr), the admin handler
	// has every path: its root is the dashboard.
	rec := httptest.NewRecorder()
	e.s.admin.Load().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusFound ||
		rec.Header().Get("Location") != dashboard.Prefix {
		t.Errorf("the admin listener's root: %d %v", rec.Code, rec.Header())
	}
}
