package main

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
)

// BenchmarkFetchCachedTokenVsCurl runs `l402 fetch` with a cached token and
// curl with the same credential against one local paywall, alternately,
// and reports both times and their ratio (target: at most 1.3).
func BenchmarkFetchCachedTokenVsCurl(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl is not installed")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "l402")
	if out, err := exec.Command("go", "build", "-o", bin,
		".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}

	// Buy one token in-process with memory nodes, into a private home.
	net := lightning.NewMemoryNetwork()
	buyer, _ := net.NewNode("buyer", "regtest")
	seller, _ := net.NewNode("seller", "regtest")
	srv := httptest.NewServer(testpaywall.New(seller, 10))
	defer srv.Close()
	home := filepath.Join(dir, "home")
	ctx := context.Background()
	store, err := tokens.Open(ctx, filepath.Join(home, "tokens.db"))
	if err != nil {
		b.Fatal(err)
	}
	client := &fetch.Client{HTTP: srv.Client(), Node: buyer, Store: store}
	url := srv.URL + "/data"
	if _, err := client.Fetch(ctx, fetch.Options{URL: url, MaxCostSat: 100},
		&strings.Builder{}); err != nil {
		b.Fatal(err)
	}
	auth, err := store.Export(ctx, "http://"+srv.Listener.Addr().String())
	store.Close()
	if err != nil {
		b.Fatal(err)
	}

	run := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "L402_HOME="+home)
		start := time.Now()
		out, err := cmd.Output()
		d := time.Since(start)
		if err != nil || string(out) != "paid content for GET" {
			b.Fatalf("%s: %v %q", name, err, out)
		}
		return d
	}

	var l402Time, curlTime time.Duration
	b.ResetTimer()
	for b.Loop() {
		l402Time += run(bin, "fetch", "-q", url)
		curlTime += run(curl, "-s", "-H", "Authorization: "+auth, url)
	}
	n := float64(b.N)
	b.ReportMetric(float64(l402Time.Microseconds())/n/1000, "l402-ms/op")
	b.ReportMetric(float64(curlTime.Microseconds())/n/1000, "curl-ms/op")
	b.ReportMetric(float64(l402Time)/float64(curlTime), "ratio")
}
