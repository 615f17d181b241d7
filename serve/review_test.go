package serve

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHandlerRefusesNonCanonicalPaths: a path a backend would clean into
// another one cannot slip past a whitelist or a capability rule.
func TestHandlerRefusesNonCanonicalPaths(t *testing.T) {
	e := newHandlerEnv(t)
	for _, p := range []string{"/api/free/../data", "/api/free/%2e%2e/data",
		"/api//free", "/api/./free", "/api/free%2Fx", "/api/free\\x"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
		req.URL.Opaque = p // sent as is, not cleaned by the client
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", p, resp.StatusCode)
		}
	}
	if resp, _ := e.get(t, "/api/free", nil); resp.StatusCode != 200 {
		t.Fatalf("the clean path: %d", resp.StatusCode)
	}
	if resp, _ := e.get(t, "/api/dir/", nil); resp.StatusCode != 402 {
		t.Fatalf("a trailing slash: %d", resp.StatusCode)
	}
}

func TestNonCanonicalPath(t *testing.T) {
	for raw, ok := range map[string]bool{"/": true, "/a/b": true,
		"/a/b/": true, "/a//b": false, "/a/./b": false, "/a/../b": false,
		"/a/%2e/b": false, "/a%2fb": false, "/a%5Cb": false,
		"/a%20b": true, "/.well-known/x": true} {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := nonCanonicalPath(u) == ""; got != ok {
			t.Errorf("%s: canonical %v, want %v", raw, got, ok)
		}
	}
}

func TestCapabilityRulesGuardHEADAndNeedCapabilities(t *testing.T) {
	e := newHandlerEnvWith(t, `    capabilities: read
    capabilityrules:
      - methods: [GET]
        pathregexp: "^/api/admin"
        capabilities: [admin]
`, "")
	resp, _ := e.get(t, "/api/x", nil)
	auth, _ := e.pay(t, resp)
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		req, _ := http.NewRequest(m, e.srv.URL+"/api/admin", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s without admin: %d", m, resp.StatusCode)
		}
	}

	cfg, err := LoadConfig(writeConfig(t, strings.Replace(
		apertureSkillConfig, "    price: 100\n", `    price: 100
    capabilityrules:
      - methods: [POST]
        capabilities: [write]
`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewHandler(cfg, nil, HandlerOptions{}); err == nil ||
		!strings.Contains(err.Error(), "capabilities") {
		t.Fatalf("rules without capabilities: %v", err)
	}
}

func TestHandlerForwardsOnlyTheVerifiedCredential(t *testing.T) {
	e := newHandlerEnv(t)
	resp, _ := e.get(t, "/api/x", nil)
	auth, _ := e.pay(t, resp)
	// The same token again in hex, with a caveat the client added: the
	// copies agree on the token, but only the verified one goes on.
	_, body := e.get(t, "/api/x", http.Header{"Authorization": {auth}})
	if !strings.Contains(body, `auth="`+auth+`"`) {
		t.Fatalf("backend saw %q", body)
	}

	// With stripcredential, free paths do not leak it either.
	e = newHandlerEnvWith(t, "    stripcredential: true\n", "")
	_, body = e.get(t, "/api/free", http.Header{"Authorization": {auth}})
	if strings.Contains(body, "L402") {
		t.Fatalf("whitelisted path got the credential: %q", body)
	}
}

func TestDynamicTokensAreBoundToPathAndQuery(t *testing.T) {
	u, _ := url.Parse("http://x/api/gen?size=small")
	if resourceOf(u) != "/api/gen?size=small" {
		t.Fatalf("%q", resourceOf(u))
	}
	u, _ = url.Parse("http://x/a%2Fb")
	if resourceOf(u) != "/a%2Fb" {
		t.Fatalf("%q", resourceOf(u))
	}
}

func TestClientKeyAndHost(t *testing.T) {
	a := clientKey(net.ParseIP("2001:db8::1"))
	b := clientKey(net.ParseIP("2001:db8::ffff"))
	if a != b || a != "2001:db8::/64" {
		t.Fatalf("one /64, two keys: %q %q", a, b)
	}
	if clientKey(net.ParseIP("192.0.2.7")) != "192.0.2.7" {
		t.Fatal("IPv4 key")
	}
	for in, want := range map[string]string{"API.Example.com.": "api.example.com",
		"Example.COM.:8443": "example.com", "[::1]:80": "[::1]"} {
		if got := normalHost(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	_ = context.Background
}
