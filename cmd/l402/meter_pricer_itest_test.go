//go:build itest

package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/pricetest"
)

// TestItestMeteredPricer: `l402 serve` sells an OpenAI-style backend by the
// token through an external metered price server (Aperture's extended
// pricesrpc, internal/pricetest); `l402 fetch` buys a bundle from bob
// through alice, spends it over requests as the price server debits the
// usage each response reports, gets a 402 when the bundle is spent, and
// buys the next one.
func TestItestMeteredPricer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// 1 sat per token either way; bundles of 50 tokens (50 sat); every
	// response reports 10 prompt and 20 completion tokens (30 sat).
	pricer, err := pricetest.Start(pricetest.Config{
		Models:         map[string]pricetest.Rates{"m": {InputMsat: 1000, OutputMsat: 1000}},
		Default:        "m",
		BundleTokens:   50,
		EstimateTokens: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pricer.Stop()
	backend := httptest.NewServer(pricetest.Handler())
	defer backend.Close()

	cfg := stack.Bob.ServeYAML("v1", strings.TrimPrefix(backend.URL,
		"http://"), 1)
	cfg = strings.Replace(cfg, "    price: 1\n", "    dynamicprice:\n"+
		"      enabled: true\n      grpcaddress: "+pricer.Addr()+"\n"+
		"      insecure: true\n      metered: true\n", 1)
	addr := startServeYAML(t, cfg)
	url := "http://" + addr + "/v1/chat/completions"
	home := buyerHome(t)

	fetch := func(stream bool) (map[string]any, int) {
		t.Helper()
		body := `{"model":"m","messages":[]}`
		if stream {
			body = `{"model":"m","stream":true,"messages":[]}`
		}
		cmd := exec.CommandContext(ctx, binary, "fetch", "--json",
			"--max-cost", "60", "-X", "POST", "-d", body,
			"-H", "Content-Type: application/json", url)
		cmd.Env = append(os.Environ(), "L402_HOME="+home)
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
			t.Logf("fetch stderr: %s", ee.Stderr)
		}
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("fetch output %q: %v", out, err)
		}
		return res, code
	}

	// reported waits for the price server's nth usage report, which
	// follows its response.
	reported := func(n int) {
		t.Helper()
		for range 2000 {
			if len(pricer.Reports()) >= n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%d usage reports, want %d", len(pricer.Reports()), n)
	}

	// The first request buys bundle A (50 sat) and spends 30 of it.
	res, code := fetch(false)
	if code != 0 || res["l402_paid"] != true || res["l402_amount_sat"] != 50.0 ||
		!strings.Contains(res["body"].(string), `"usage"`) {
		t.Fatalf("first fetch: %d %v", code, res)
	}
	reported(1)
	keys := pricer.Keys()
	if len(keys) != 1 {
		t.Fatalf("bundles booked: %v", keys)
	}
	first := keys[0]
	if b, _ := pricer.Bundle(first); b.Remaining != 20 || b.PriceSats != 50 {
		t.Fatalf("bundle A after one request: %+v", b)
	}

	// The second, a stream, is admitted on A's last 20 tokens (the
	// balance the price server reported, in msat), reports 30, and spends
	// it.
	res, code = fetch(true)
	if code != 0 || res["l402_paid"] != false ||
		!strings.Contains(res["body"].(string), "data: [DONE]") ||
		res["balance_remaining"] != 20_000.0 {
		t.Fatalf("second fetch: %d %v", code, res)
	}
	reported(2)
	if b, _ := pricer.Bundle(first); b.Remaining != 0 || b.Reserved != 0 {
		t.Fatalf("bundle A after two requests: %+v", b)
	}

	// The third is refused on the spent bundle: serve answers a fresh 402
	// at the next bundle's price, and fetch buys bundle B (whose balance
	// is its price until the price server reports on it).
	res, code = fetch(false)
	if code != 0 || res["l402_paid"] != true || res["l402_amount_sat"] != 50.0 ||
		res["balance_remaining"] != 50_000.0 {
		t.Fatalf("third fetch: %d %v", code, res)
	}
	reported(3)
	keys = pricer.Keys()
	if len(keys) != 2 {
		t.Fatalf("bundles booked: %v", keys)
	}
	second := keys[0]
	if second == first {
		second = keys[1]
	}
	if b, _ := pricer.Bundle(second); b.Remaining != 20 || !b.Used {
		t.Fatalf("bundle B: %+v", b)
	}
	if n := pricer.Calls("AuthorizeRequest"); n != 4 {
		t.Errorf("AuthorizeRequest called %d times, want 4 (A, A, A "+
			"refused, B)", n)
	}
	if n := len(pricer.Reports()); n != 3 {
		t.Errorf("%d usage reports, want 3", n)
	}
	t.Logf("bought bundle %s, spent it, bought %s", first, second)
}
