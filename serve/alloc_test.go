package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// perRequest serves req to h n times and returns the allocations and
// bytes allocated per request, counted over the whole process (the
// backend's side too, as a black box would see it).
func perRequest(t *testing.T, h http.Handler, req *http.Request,
	n int) (allocs, bytes float64) {

	t.Helper()
	serve := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %q", req.URL.Path, rec.Code, rec.Body)
		}
	}
	for range 20 {
		serve() // the caches and the backend's connection
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		serve()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n),
		float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// TestProxiedRequestAllocations holds the hot path to its allocation
// budget (no timing: counts). A free request must not allocate its own
// 32 KiB copy buffer (the reverse proxy's buffers are pooled; it
// allocated 40 KB a request before), and a paid request with a
// credential seen before allocates at most 105 times, backend included
// (140 before the verified-credential cache and the bound metrics).
func TestProxiedRequestAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over many requests")
	}
	if raceEnabled {
		t.Skip("the race detector changes what is allocated")
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	cfg, err := LoadConfig(writeConfig(t, strings.Replace(
		apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)+
		"    authwhitelistpaths: [\"^/api/free/\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthEnv(t)
	h, err := NewHandler(cfg, e.auth, HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	auth := e.buy(t, Offer{Service: "api", PriceSat: 100}).Get(
		"Authorization")

	free := httptest.NewRequest(http.MethodGet, "http://x/api/free/x", nil)
	free.RemoteAddr = "192.0.2.1:1234"
	if _, bytes := perRequest(t, h, free, 200); bytes > 16<<10 {
		t.Errorf("a free request allocates %.0f bytes, budget 16 KiB",
			bytes)
	}

	paid := httptest.NewRequest(http.MethodGet, "http://x/api/data", nil)
	paid.RemoteAddr = "192.0.2.1:1234"
	paid.Header.Set("Authorization", auth)
	if allocs, _ := perRequest(t, h, paid, 200); allocs > 105 {
		t.Errorf("a paid request allocates %.0f times, budget 105", allocs)
	}
}
