package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkPaidPathVsBareProxy sends requests with a valid, cached token
// through serve's handler and, alternately, the same requests through a
// bare httputil.ReverseProxy to the same backend, from 8 concurrent
// clients over loopback. It reports both request rates and their ratio
// (serve/bare; the target is at least 0.9).
func BenchmarkPaidPathVsBareProxy(b *testing.B) {
	backend, body := benchBackend(b)
	cfgYAML := strings.Replace(apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+backend.Host+`"`, 1)
	cfg, err := LoadConfig(writeConfig(b, cfgYAML))
	if err != nil {
		b.Fatal(err)
	}
	e := newAuthEnv(b)
	h, err := NewHandler(cfg, e.auth, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	auth := e.buy(b, Offer{Service: "api", PriceSat: 100}).Get(
		"Authorization")
	comparePaidToBare(b, h, backend, body, "/api/data",
		func(int) string { return auth })
}

// benchBackend starts the backend of the benchmarks: a 1 KiB answer.
func benchBackend(b *testing.B) (*url.URL, string) {
	body := strings.Repeat("x", 1024)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, body)
	}))
	b.Cleanup(backend.Close)
	backendURL, _ := url.Parse(backend.URL)
	return backendURL, body
}

// comparePaidToBare sends b.N requests for path through h, the i-th with
// the Authorization value auth(i), and as many through a bare
// httputil.ReverseProxy to the backend, alternately, from 8 concurrent
// clients over loopback, and reports both rates and their ratio. auth's
// first 100 values warm the paths and are not timed.
func comparePaidToBare(b *testing.B, h http.Handler, backendURL *url.URL,
	body, path string, auth func(i int) string) {

	// The bare proxy gets the same idle-connection pool as serve's
	// backends (64 per host), so that only the scheme's work differs.
	bareProxy := httputil.NewSingleHostReverseProxy(backendURL)
	bareTransport := http.DefaultTransport.(*http.Transport).Clone()
	bareTransport.MaxIdleConnsPerHost = 64
	bareProxy.Transport = bareTransport
	bare := httptest.NewServer(bareProxy)
	defer bare.Close()
	paid := httptest.NewServer(h)
	defer paid.Close()

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64}}
	do := func(base, auth string) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(body)) {
			b.Errorf("%s: %d, %d bytes", base, resp.StatusCode, n)
		}
		return time.Since(start)
	}
	// Warm both paths: connections, caches.
	const warm = 100
	for i := range warm {
		do(paid.URL, auth(i))
		do(bare.URL, "")
	}

	const workers = 8
	perWorker := (b.N + workers - 1) / workers
	tServe := make([]time.Duration, workers)
	tBare := make([]time.Duration, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				a := auth(warm + w*perWorker + i)
				// Alternate which goes first, so that neither always
				// runs on the warmer machine.
				if i%2 == 0 {
					tServe[w] += do(paid.URL, a)
					tBare[w] += do(bare.URL, "")
				} else {
					tBare[w] += do(bare.URL, "")
					tServe[w] += do(paid.URL, a)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var sumServe, sumBare time.Duration
	for w := range workers {
		sumServe += tServe[w]
		sumBare += tBare[w]
	}
	// Each worker has one request in flight: its rate is the inverse of
	// its mean latency.
	n := float64(perWorker * workers)
	serveRate := n / sumServe.Seconds() * workers
	bareRate := n / sumBare.Seconds() * workers
	b.ReportMetric(serveRate, "serve-req/s")
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(serveRate/bareRate, "ratio")
}

// BenchmarkHandlerPaidAllocs sends requests with a valid, cached token
// straight to the Handler (no client, no listener in front), so that its
// allocs/op are the handler's own plus the proxy's to a loopback backend:
// the number a change to the paid path must not raise.
func BenchmarkHandlerPaidAllocs(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	cfg, err := LoadConfig(writeConfig(b, strings.Replace(
		apertureSkillConfig, `"127.0.0.1:8080"`,
		`"`+strings.TrimPrefix(backend.URL, "http://")+`"`, 1)))
	if err != nil {
		b.Fatal(err)
	}
	e := newAuthEnv(b)
	h, err := NewHandler(cfg, e.auth, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	auth := e.buy(b, Offer{Service: "api", PriceSat: 100}).Get(
		"Authorization")
	req := httptest.NewRequest(http.MethodGet, "http://x/api/data", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Authorization", auth)
	serve := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("paid request: %d %q", rec.Code, rec.Body)
		}
	}
	for range 20 {
		serve() // the root-key cache and the backend connection
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		serve()
	}
}

// BenchmarkHandlerVsBare serves the same GET straight to handlers (no
// client, no listener): a bare httputil.ReverseProxy, serve's handler on
// a whitelisted path, and on the paid path with a cached token. The
// differences are what serve's stages and proxy add per request.
func BenchmarkHandlerVsBare(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	backendURL, _ := url.Parse(backend.URL)
	cfg, err := LoadConfig(writeConfig(b, strings.Replace(
		apertureSkillConfig, `"127.0.0.1:8080"`, `"`+backendURL.Host+`"`,
		1)+"    authwhitelistpaths: [\"^/api/free/\"]\n"))
	if err != nil {
		b.Fatal(err)
	}
	e := newAuthEnv(b)
	h, err := NewHandler(cfg, e.auth, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	auth := e.buy(b, Offer{Service: "api", PriceSat: 100}).Get(
		"Authorization")
	bare := httputil.NewSingleHostReverseProxy(backendURL)
	bareTransport := http.DefaultTransport.(*http.Transport).Clone()
	bareTransport.MaxIdleConnsPerHost = 256
	bare.Transport = bareTransport

	run := func(b *testing.B, h http.Handler, path, auth string) {
		req := httptest.NewRequest(http.MethodGet, "http://x"+path, nil)
		req.RemoteAddr = "192.0.2.1:1234"
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		serve := func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%s: %d %q", path, rec.Code, rec.Body)
			}
		}
		for range 20 {
			serve()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			serve()
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, "/api/free/x", "") })
	b.Run("free", func(b *testing.B) { run(b, h, "/api/free/x", "") })
	b.Run("paid", func(b *testing.B) { run(b, h, "/api/data", auth) })
}

// challengeHandler is a Handler on an in-memory node and SQLite, with
// the challenge limit off so that every request gets a 402.
func challengeHandler(b *testing.B) *Handler {
	cfg, err := LoadConfig(writeConfig(b, apertureSkillConfig+
		"challengelimit:\n  disable: true\n"))
	if err != nil {
		b.Fatal(err)
	}
	e := newAuthEnv(b)
	h, err := NewHandler(cfg, e.auth, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkChallenge issues 402 challenges straight from the Handler:
// an in-memory node's invoice, the derived root key, the macaroon, the
// two headers and the transaction queued. lnd's AddInvoice is not in it
// (make bench-load MODE=issuance has it).
func BenchmarkChallenge(b *testing.B) {
	h := challengeHandler(b)
	req := httptest.NewRequest(http.MethodGet, "http://x/api/data", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusPaymentRequired {
			b.Fatalf("%d %q", rec.Code, rec.Body)
		}
	}
}

// BenchmarkChallengeParallel is BenchmarkChallenge from 32 goroutines (on 2 cores) at
// once, as a loaded serve mints: the store's writes of concurrent
// challenges share commits. Its process's CPU time per challenge (run
// with -benchtime 6000x under /usr/bin/time, or -cpuprofile) is serve's
// share of an issuance's CPU, less lnd's AddInvoice and the network.
func BenchmarkChallengeParallel(b *testing.B) {
	h := challengeHandler(b)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "http://x/api/data", nil)
		req.RemoteAddr = "192.0.2.1:1234"
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusPaymentRequired {
				b.Errorf("%d %q", rec.Code, rec.Body)
				return
			}
		}
	})
}
