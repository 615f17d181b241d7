package serve

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestHandlerStripsMethodOverrides: capability rules match the request's
// method, so a backend must not be told another one. A read token's GET
// that asks to be taken as a DELETE reaches the backend as a plain GET,
// and so does a free request.
func TestHandlerStripsMethodOverrides(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
	}))
	defer backend.Close()
	address := regexp.MustCompile(`address: "[^"]*"`)
	e := newHandlerEnvEdited(t, `    capabilities: read
    capabilityrules:
      - methods: [DELETE]
        capabilities: [write]
`, "", func(s string) string {
		return address.ReplaceAllString(s, `address: "`+
			strings.TrimPrefix(backend.URL, "http://")+`"`)
	})

	resp, _ := e.get(t, "/api/x", nil)
	auth, _ := e.pay(t, resp)
	h := http.Header{"Authorization": {auth}}
	for _, name := range methodOverrides {
		h.Set(name, "DELETE")
	}
	if resp, _ := e.get(t, "/api/x", h); resp.StatusCode != 200 {
		t.Fatalf("paid GET: %d", resp.StatusCode)
	}
	h.Del("Authorization")
	if resp, _ := e.get(t, "/api/free", h); resp.StatusCode != 200 {
		t.Fatalf("free GET: %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("the backend saw %d requests, want 2", len(seen))
	}
	for i, got := range seen {
		for _, name := range methodOverrides {
			if v := got.Get(name); v != "" {
				t.Errorf("request %d: the backend got %s: %s", i, name, v)
			}
		}
	}
}
