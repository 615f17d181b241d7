package serve

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// BenchmarkMeteredPathVsBareProxy sends streamed chat completions (20
// SSE chunks and a usage chunk) with a paid L402 token through serve's
// handler with the built-in meter, over SQLite, and alternately the same
// requests through a bare httputil.ReverseProxy to the same backend, from
// 8 concurrent clients over loopback. Each metered request is an
// admission and a settlement in the database. It reports both request
// rates and their ratio (metered/bare).
func BenchmarkMeteredPathVsBareProxy(b *testing.B) {
	backend := httptest.NewServer(fakeLLM{})
	b.Cleanup(backend.Close)
	backendURL, _ := url.Parse(backend.URL)
	// A bundle that lasts: a billion tokens at a thousandth of a msat.
	yaml := strings.Replace(meterConfig(backendURL.Host, ""),
		"bundletokens: 1000", "bundletokens: 1000000000", 1)
	yaml = strings.Replace(yaml, "inputmsatpertoken: 1\n          "+
		"outputmsatpertoken: 2", "inputmsatpertoken: 0.001\n          "+
		"outputmsatpertoken: 0.001", 1)
	cfg, err := LoadConfig(writeConfig(b, yaml))
	if err != nil {
		b.Fatal(err)
	}
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	st, err := store.OpenSQLite(context.Background(),
		filepath.Join(b.TempDir(), "serve.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	h, err := NewHandler(cfg, newTestAuthenticator(b, seller, st, 0, time.Now),
		HandlerOptions{Meter: st})
	if err != nil {
		b.Fatal(err)
	}
	e := &meterEnv{paymentEnv: &paymentEnv{h: h, buyer: buyer, store: st,
		srv: httptest.NewServer(h)}}
	b.Cleanup(e.srv.Close)
	body := chatBody("m1", "say 20", 20, true)
	auth, _ := e.buyL402(b, body)

	bareProxy := httputil.NewSingleHostReverseProxy(backendURL)
	bareTransport := http.DefaultTransport.(*http.Transport).Clone()
	bareTransport.MaxIdleConnsPerHost = 64
	bareProxy.Transport = bareTransport
	bare := httptest.NewServer(bareProxy)
	defer bare.Close()

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64}}
	var broken atomic.Int64
	do := func(base, auth string) time.Duration {
		req, _ := http.NewRequest(http.MethodPost,
			base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		text, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode != 200:
			b.Errorf("%s: %d %.80q", base, resp.StatusCode, text)
		case rerr != nil:
			// On a loaded machine a few loopback streams of both
			// paths are cut short (the client sees an unexpected
			// EOF); they are counted, not timed apart.
			broken.Add(1)
		case !strings.HasSuffix(string(text), "data: [DONE]\n\n"):
			b.Errorf("%s: the stream ended early: %.80q", base, text)
		}
		return time.Since(start)
	}
	for range 50 {
		do(e.srv.URL, auth)
		do(bare.URL, "")
	}

	const workers = 8
	perWorker := (b.N + workers - 1) / workers
	tMeter := make([]time.Duration, workers)
	tBare := make([]time.Duration, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if i%2 == 0 {
					tMeter[w] += do(e.srv.URL, auth)
					tBare[w] += do(bare.URL, "")
				} else {
					tBare[w] += do(bare.URL, "")
					tMeter[w] += do(e.srv.URL, auth)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var sumMeter, sumBare time.Duration
	for w := range workers {
		sumMeter += tMeter[w]
		sumBare += tBare[w]
	}
	n := float64(perWorker * workers)
	meterRate := n / sumMeter.Seconds() * workers
	bareRate := n / sumBare.Seconds() * workers
	b.ReportMetric(meterRate, "metered-req/s")
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(meterRate/bareRate, "ratio")
	b.ReportMetric(float64(broken.Load()), "cut-streams")
}
