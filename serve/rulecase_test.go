package serve

import (
	"net/http"
	"testing"
)

// TestCapabilityRulesIgnoreCase: a rule on ^/api/admin guards /api/Admin
// and /api/%41dmin too, as a case-insensitive backend (Express's default,
// ASP.NET, IIS) routes them to the same handler; casesensitive: true
// matches the pattern as written.
func TestCapabilityRulesIgnoreCase(t *testing.T) {
	for _, tc := range []struct {
		extra string
		want  int
	}{
		{"", http.StatusForbidden},
		{"        casesensitive: true\n", http.StatusOK},
	} {
		e := newHandlerEnvWith(t, `    capabilities: read
    capabilityrules:
      - pathregexp: "^/api/admin"
        capabilities: [admin]
`+tc.extra, "")
		resp, _ := e.get(t, "/api/x", nil)
		auth, _ := e.pay(t, resp)
		if code, _ := e.sendRaw(t, "/api/admin", auth); code != 403 {
			t.Fatalf("/api/admin with a read token: %d", code)
		}
		for _, p := range []string{"/api/Admin", "/api/ADMIN/users",
			"/api/%41dmin"} {
			if code, body := e.sendRaw(t, p, auth); code != tc.want {
				t.Errorf("%q %s: %d %q, want %d", tc.extra, p, code, body,
					tc.want)
			}
		}
	}
}
