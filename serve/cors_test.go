package serve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/l402/l402/internal/l402"
)

// corsEnv is a Handler with cors keys in front of a backend that sends
// CORS headers of its own.
func corsEnv(t *testing.T, cors string) *httptest.Server {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("X-Request-Id", "r1")
		w.Write([]byte("backend"))
	}))
	t.Cleanup(backend.Close)
	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1) +
		"    authwhitelistpaths: [\"^/api/free$\"]\n" + cors
	cfg, err := LoadConfig(writeConfig(t, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(cfg, newAuthEnv(t).auth, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// send sends a request with the headers, in "Name: value" form.
func send(t *testing.T, method, url string, headers ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestCORS: with cors on, a preflight from an allowed origin is answered
// 204 without payment, and a 402 or a backend's response carries the
// origin (never "*"), Vary: Origin and the headers a page must read
// (WWW-Authenticate for the challenge); the backend's own CORS headers
// give way to serve's. Another origin gets no CORS headers, and its
// preflight 403.
func TestCORS(t *testing.T) {
	srv := corsEnv(t, `cors:
  alloworigins: ["https://App.example"]
  exposeheaders: [X-Request-Id]
  maxage: 10m
`)
	const origin = "Origin: https://app.example"

	pre := send(t, http.MethodOptions, srv.URL+"/api/paid", origin,
		"Access-Control-Request-Method: GET",
		"Access-Control-Request-Headers: authorization")
	h := pre.Header
	if pre.StatusCode != http.StatusNoContent ||
		h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"),
			"Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
		h.Get("Access-Control-Max-Age") != "600" ||
		!strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") ||
		h.Get("WWW-Authenticate") != "" {
		t.Fatalf("preflight: %d %v", pre.StatusCode, h)
	}

	paid := send(t, http.MethodGet, srv.URL+"/api/paid", origin)
	h = paid.Header
	if paid.StatusCode != http.StatusPaymentRequired ||
		h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"),
			"WWW-Authenticate") ||
		!strings.Contains(h.Get("Vary"), "Origin") {
		t.Fatalf("402: %d %v", paid.StatusCode, h)
	}
	if _, err := l402.ParseChallenges(h.Values("WWW-Authenticate")); err != nil {
		t.Fatalf("challenge: %v", err)
	}

	free := send(t, http.MethodGet, srv.URL+"/api/free", origin)
	h = free.Header
	if free.StatusCode != http.StatusOK ||
		len(h.Values("Access-Control-Allow-Origin")) != 1 ||
		h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"),
			"X-Request-Id") {
		t.Fatalf("proxied: %d %v", free.StatusCode, h)
	}

	other := "Origin: https://evil.example"
	pre = send(t, http.MethodOptions, srv.URL+"/api/paid", other,
		"Access-Control-Request-Method: GET")
	if pre.StatusCode != http.StatusForbidden ||
		pre.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight of another origin: %d %v", pre.StatusCode,
			pre.Header)
	}
	paid = send(t, http.MethodGet, srv.URL+"/api/paid", other)
	if paid.StatusCode != http.StatusPaymentRequired ||
		paid.Header.Get("Access-Control-Allow-Origin") != "" ||
		paid.Header.Get("Access-Control-Expose-Headers") != "" ||
		!strings.Contains(paid.Header.Get("Vary"), "Origin") {
		t.Fatalf("402 to another origin: %v", paid.Header)
	}
}

// TestCORSOff: without a cors block serve adds no CORS header and a
// preflight is an unpaid request like any other; the backend's CORS
// headers pass.
func TestCORSOff(t *testing.T) {
	srv := corsEnv(t, "")
	pre := send(t, http.MethodOptions, srv.URL+"/api/paid",
		"Origin: https://app.example", "Access-Control-Request-Method: GET")
	if pre.StatusCode != http.StatusPaymentRequired ||
		pre.Header.Get("Access-Control-Allow-Origin") != "" ||
		pre.Header.Get("Vary") != "" {
		t.Fatalf("preflight with cors off: %d %v", pre.StatusCode,
			pre.Header)
	}
	free := send(t, http.MethodGet, srv.URL+"/api/free",
		"Origin: https://app.example")
	if free.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("backend's CORS header lost: %v", free.Header)
	}
}

// TestCORSAnyOriginAndCredentials: "*" answers with the request's own
// origin; allowcredentials says so, and is refused with "*".
func TestCORSAnyOriginAndCredentials(t *testing.T) {
	srv := corsEnv(t, "cors:\n  alloworigins: [\"*\"]\n")
	paid := send(t, http.MethodGet, srv.URL+"/api/paid",
		"Origin: https://any.example")
	if paid.Header.Get("Access-Control-Allow-Origin") !=
		"https://any.example" ||
		paid.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("any origin: %v", paid.Header)
	}

	srv = corsEnv(t, "cors:\n  alloworigins: [\"https://app.example\"]\n"+
		"  allowcredentials: true\n  allowheaders: [Content-Type]\n")
	pre := send(t, http.MethodOptions, srv.URL+"/api/paid",
		"Origin: https://app.example", "Access-Control-Request-Method: POST")
	if pre.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		pre.Header.Get("Access-Control-Allow-Headers") !=
			"Authorization, Content-Type" {
		t.Fatalf("credentials: %v", pre.Header)
	}
}

// TestCORSConfigRefuses: origins that are not origins, "null", "*" with
// credentials, and cors keys without alloworigins.
func TestCORSConfigRefuses(t *testing.T) {
	for cors, want := range map[string]string{
		"cors:\n  alloworigins: [\"*\"]\n  allowcredentials: true\n":                         "every site",
		"cors:\n  alloworigins: [\"null\"]\n":                                                "sandboxed",
		"cors:\n  alloworigins: [\"https://a.example/path\"]\n":                              "not an origin",
		"cors:\n  alloworigins: [\"app.example\"]\n":                                         "not an origin",
		"cors:\n  exposeheaders: [X-Id]\n":                                                   "alloworigins is required",
		"cors:\n  alloworigins: [\"https://a.example\"]\n  allowheaders: [\"bad header\"]\n": "not a header name",
		"cors:\n  alloworigin: [\"https://a.example\"]\n":                                    `did you mean "alloworigins"?`,
	} {
		_, err := LoadConfig(writeConfig(t, apertureSkillConfig+cors))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", cors, err, want)
		}
	}
}
