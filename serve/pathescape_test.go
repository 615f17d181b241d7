package serve

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// sendRaw sends a GET for the request-URI raw exactly as written (not
// cleaned or re-escaped by the client) and returns the status and body.
func (e *handlerEnv) sendRaw(t *testing.T, raw, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
	req.URL.Opaque = raw
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pathEscapes are the request paths that walk around a rule on
// /api/free/ (or /api/x/) into /api/data (or /api/admin) on a backend
// that strips ";" parameters (Tomcat, Jetty, Spring), decodes twice,
// reads overlong UTF-8, folds Unicode (NFKC) or stops at a NUL.
var pathEscapes = []string{
	"/api/free/..;/data",
	"/api/free/..;jsessionid=1/data",
	"/api/free/.;/data",
	"/api/free/..%3b/data",
	"/api/free/%252e%252e/data",
	"/api/free/%252fdata",
	"/api/free/%c0%ae%c0%ae/data",
	"/api/free/%c0%af..%c0%afdata",
	"/api/free/%ff/data",
	"/api/free/%ef%bc%8e%ef%bc%8e/data",
	"/api/free/%e2%80%a4%e2%80%a4/data",
	"/api/free/%ef%b9%92%ef%b9%92/data",
	"/api/free/%e2%80%a5/data",
	"/api/free/%e3%80%82%e3%80%82/data",
	"/api/free%ef%bc%8f..%ef%bc%8fdata",
	"/api/free/..%00/data",
	"/api/free/%00",
}

// TestHandlerRefusesPathRuleEscapes: with a whitelist on ^/api/free/,
// none of the escapes reaches the backend without a token; each gets 400.
func TestHandlerRefusesPathRuleEscapes(t *testing.T) {
	e := newHandlerEnvEdited(t, "", "", func(cfg string) string {
		return strings.Replace(cfg, `["^/api/free$"]`, `["^/api/free/"]`, 1)
	})
	if code, body := e.sendRaw(t, "/api/free/x", ""); code != 200 ||
		!strings.Contains(body, "backend") {
		t.Fatalf("the whitelisted path: %d %q", code, body)
	}
	for _, p := range pathEscapes {
		if code, body := e.sendRaw(t, p, ""); code != http.StatusBadRequest {
			t.Errorf("%s: %d %q, want 400", p, code, body)
		}
	}
}

// TestHandlerPathEscapesDoNotPassCapabilityRules: a read-only token does
// not reach /api/admin, guarded by a capability rule, through any of the
// escapes from /api/x/.
func TestHandlerPathEscapesDoNotPassCapabilityRules(t *testing.T) {
	e := newHandlerEnvWith(t, `    capabilities: read
    capabilityrules:
      - pathregexp: "^/api/admin"
        capabilities: [admin]
`, "")
	resp, _ := e.get(t, "/api/x", nil)
	auth, _ := e.pay(t, resp)
	if code, _ := e.sendRaw(t, "/api/admin", auth); code != 403 {
		t.Fatalf("/api/admin with a read token: %d", code)
	}
	for _, p := range pathEscapes {
		p = strings.Replace(p, "/api/free", "/api/x", 1)
		p = strings.Replace(p, "data", "admin", 1)
		if code, body := e.sendRaw(t, p, auth); code != http.StatusBadRequest {
			t.Errorf("%s: %d %q, want 400", p, code, body)
		}
	}
}

// TestHandlerPassesOrdinaryPaths: Unicode letters, escaped spaces, a ";"
// that does not follow a dot segment, dots inside names and query
// strings all still reach the backend.
func TestHandlerPassesOrdinaryPaths(t *testing.T) {
	e := newHandlerEnvEdited(t, "", "", func(cfg string) string {
		return strings.Replace(cfg, `["^/api/free$"]`, `["^/api/free/"]`, 1)
	})
	for _, p := range []string{"/api/free/caf%c3%a9", "/api/free/café",
		"/api/free/%e6%97%a5%e6%9c%ac", "/api/free/a%20b", "/api/free/x;v=1",
		"/api/free/x;", "/api/free/.well-known", "/api/free/a..b",
		"/api/free/...", "/api/free/v1.2/x", "/api/free/x?q=..;&r=%252e",
		"/api/free/x?s=%c0%ae", "/api/free/dir/"} {
		if code, body := e.sendRaw(t, p, ""); code != 200 ||
			!strings.HasPrefix(body, "backend GET /api/free/") {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
}

// TestNonCanonicalPathSegments: the segment checks on their own, on
// parsed request URIs.
func TestNonCanonicalPathSegments(t *testing.T) {
	for raw, ok := range map[string]bool{"/a/..;/b": false, "/a/.;x/b": false,
		"/a/..;": false, "/a/b;..": true, "/a/x;/b": true, "/a/%2525": false,
		"/a/%00": false, "/a/%c0%ae": false, "/a/%ed%a0%80": false,
		"/a/%ef%bc%8e": false, "/a/%e2%80%a4": false, "/a/%ef%b9%92": false,
		"/a/%ef%bc%8f": false, "/a/%ef%bc%bc": false, "/a/%c3%a9": true,
		"/a/%e2%82%ac": true, "/a/b.c": true} {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := nonCanonicalPath(u) == ""; got != ok {
			t.Errorf("%s: canonical %v, want %v", raw, got, ok)
		}
	}
}
