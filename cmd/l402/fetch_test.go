package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
)

// fetchEnv points l402 at a private home with an empty fetch config, and
// returns the config's path.
func fetchEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("L402_HOME", home)
	cfg := filepath.Join(home, "fetch.yaml")
	os.WriteFile(cfg, []byte("maxcost: 50\n"), 0o600)
	return cfg
}

// challengeServer sells at price sats from a memory node.
func challengeServer(t *testing.T, price int64) *httptest.Server {
	t.Helper()
	seller, err := lightning.NewMemoryNetwork().NewNode("seller", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(testpaywall.New(seller, price))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchCommandFreeURL(t *testing.T) {
	cfg := fetchEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.Method+" "+r.Header.Get("X-Test")+" "+
			string(body))
	}))
	defer srv.Close()

	out, errOut, code := run("fetch", "--config", cfg, "-H", "X-Test: yes",
		"-d", "hello", srv.URL)
	if code != 0 || out != "POST yes hello" || errOut != "" {
		t.Fatalf("%d %q %q", code, out, errOut)
	}

	// -o writes the file; --json reports it.
	file := filepath.Join(t.TempDir(), "body.txt")
	out, _, code = run("fetch", "--config", cfg, "-X", "PUT", "-o", file,
		"--json", srv.URL)
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("%d %q", code, out)
	}
	got, _ := os.ReadFile(file)
	if string(got) != "PUT  " || res["output_path"] != file ||
		res["status_code"] != 200.0 || res["size"] != 5.0 ||
		res["l402_paid"] != false || res["body"] != nil {
		t.Fatalf("file %q result %v", got, res)
	}

	// --json without -o carries the body.
	out, _, _ = run("fetch", "--config", cfg, "--json", srv.URL)
	json.Unmarshal([]byte(out), &res)
	if res["body"] != "GET  " {
		t.Fatalf("json body %v", res)
	}

	// -d @file and -d @- replay from a file and from stdin.
	data := filepath.Join(t.TempDir(), "data")
	os.WriteFile(data, []byte("from file"), 0o600)
	if out, _, _ = run("fetch", "--config", cfg, "-d", "@"+data,
		srv.URL); out != "POST  from file" {
		t.Fatalf("@file: %q", out)
	}
}

func TestFetchCommandHTTPErrorAndNetwork(t *testing.T) {
	cfg := fetchEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	file := filepath.Join(t.TempDir(), "out")
	os.WriteFile(file, []byte("old"), 0o644)

	_, errOut, code := run("fetch", "--config", cfg, "-o", file, srv.URL)
	if code != 1 || !strings.Contains(errOut, "500") {
		t.Fatalf("500: %d %q", code, errOut)
	}
	if got, _ := os.ReadFile(file); string(got) != "old" {
		t.Fatalf("an error body overwrote the output: %q", got)
	}
	out, _, code := run("fetch", "--config", cfg, "--allow-http-error",
		srv.URL)
	if code != 0 || !strings.Contains(out, "broken") {
		t.Fatalf("--allow-http-error: %d %q", code, out)
	}

	url := srv.URL
	srv.Close()
	_, errOut, code = run("fetch", "--config", cfg, "--json", url)
	var e map[string]any
	if code != 4 || json.Unmarshal([]byte(errOut), &e) != nil ||
		e["code"] != "network_error" || e["exit_code"] != 4.0 {
		t.Fatalf("network error: %d %q", code, errOut)
	}
}

func TestFetchCommandNoPayAndBudget(t *testing.T) {
	cfg := fetchEnv(t)
	srv := challengeServer(t, 80)

	// A preview needs no node, and shows a price above the budget.
	out, _, code := run("fetch", "--config", cfg, "--no-pay", "--json",
		srv.URL)
	var res map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil ||
		res["status_code"] != 402.0 || res["invoice_amount_sat"] != 80.0 ||
		res["max_cost_sats"] != 50.0 || res["l402_paid"] != false {
		t.Fatalf("preview: %d %q", code, out)
	}
	// It shows the caps in force: the default daily cap among them.
	lim, _ := res["limits"].(map[string]any)
	if lim["max_cost_sat"] != 50.0 || lim["max_total_sat"] !=
		float64(fetch.DefaultMaxTotalSat) || lim["left_24h_sat"] !=
		float64(fetch.DefaultMaxTotalSat) || lim["spent_24h_sat"] != 0.0 {
		t.Fatalf("preview limits: %q", out)
	}

	// Paying: over the config's max cost, refused with exit 2.
	_, errOut, code := run("fetch", "--config", cfg, srv.URL)
	if code != 2 || !strings.Contains(errOut, "above --max-cost") {
		t.Fatalf("over budget: %d %q", code, errOut)
	}
	_, errOut, code = run("fetch", "--config", cfg, "--max-cost", "100",
		srv.URL)
	if code != 1 || !strings.Contains(errOut, "no Lightning node") {
		t.Fatalf("no node: %d %q", code, errOut)
	}

	// An invoice payable for longer than --max-invoice-expiry (the
	// paywall's hour) is refused, in a preview too, naming the flag.
	_, errOut, code = run("fetch", "--config", cfg, "--no-pay", "--json",
		"--max-invoice-expiry", "30m", srv.URL)
	var e map[string]any
	if code != 2 || json.Unmarshal([]byte(errOut), &e) != nil ||
		e["code"] != "invalid_invoice" || !strings.Contains(
		e["message"].(string), "over --max-invoice-expiry 30m") {
		t.Fatalf("invoice expiry over the cap: %d %q", code, errOut)
	}
	if _, errOut, code = run("fetch", "--config", cfg, "--no-pay",
		"--max-invoice-expiry", "0s", srv.URL); code != 2 ||
		!strings.Contains(errOut, "--max-invoice-expiry must be positive") {
		t.Fatalf("--max-invoice-expiry 0: %d %q", code, errOut)
	}
}

func TestFetchCommandBadArguments(t *testing.T) {
	cfg := fetchEnv(t)
	tests := [][]string{
		{"fetch"},
		{"fetch", "a", "b"},
		{"fetch", "--config", cfg, "-H", "no colon", "http://x/"},
		{"fetch", "--config", cfg, "-d", "@/no/such/file", "http://x/"},
		{"fetch", "--config", cfg, "--max-cost", "-1", "http://x/"},
		{"fetch", "--config", cfg, "--max-cost", "ten", "http://x/"},
		{"fetch", "--config", cfg, "--max-total", "-5", "http://x/"},
		{"fetch", "--config", cfg, "ftp://x/"},
	}
	for _, args := range tests {
		if _, errOut, code := run(args...); code != 2 {
			t.Errorf("%q: exit %d %q", args, code, errOut)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("maxcost: 1\nmaxcots: 2\n"), 0o600)
	_, errOut, code := run("fetch", "--config", bad, "http://x/")
	if code != 1 || !strings.Contains(errOut, "line 2") {
		t.Fatalf("bad config: %d %q", code, errOut)
	}
	_, errOut, code = run("fetch", "--config", filepath.Join(t.TempDir(),
		"none.yaml"), "http://x/")
	if code != 1 || !strings.Contains(errOut, "none.yaml") {
		t.Fatalf("missing explicit config: %d %q", code, errOut)
	}
}

func TestFetchCommandContinue(t *testing.T) {
	cfg := fetchEnv(t)
	content := strings.Repeat("0123456789", 100)
	modtime := time.Unix(1_700_000_000, 0)
	ranged := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		http.ServeContent(w, r, "data", modtime, strings.NewReader(content))
	}))
	defer ranged.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, content)
	}))
	defer plain.Close()

	file := filepath.Join(t.TempDir(), "data")
	os.WriteFile(file, []byte(content[:300]), 0o644)
	out, _, code := run("fetch", "--config", cfg, "-c", "-o", file, "--json",
		ranged.URL)
	var res map[string]any
	json.Unmarshal([]byte(out), &res)
	got, _ := os.ReadFile(file)
	if code != 0 || string(got) != content || res["status_code"] != 206.0 ||
		res["size"] != 700.0 {
		t.Fatalf("continue: %d %q, %d bytes", code, out, len(got))
	}

	// Already complete: the server has nothing past the end.
	if _, errOut, code := run("fetch", "--config", cfg, "-c", "-o", file,
		ranged.URL); code != 0 {
		t.Fatalf("complete file: %d %q", code, errOut)
	}
	if got, _ = os.ReadFile(file); string(got) != content {
		t.Fatal("a complete file was changed")
	}

	// A server that ignores Range: the file starts over.
	os.WriteFile(file, []byte("garbage"), 0o644)
	if _, errOut, code := run("fetch", "--config", cfg, "-c", "-o", file,
		plain.URL); code != 0 {
		t.Fatalf("no range support: %d %q", code, errOut)
	}
	if got, _ = os.ReadFile(file); string(got) != content {
		t.Fatalf("restarted file has %d bytes", len(got))
	}

	if _, _, code := run("fetch", "--config", cfg, "-c", plain.URL); code != 2 {
		t.Fatalf("--continue without -o: %d", code)
	}
}

// memoryBuyer makes fetch pay through an in-memory node on the seller's
// network for the rest of the test.
func memoryBuyer(t *testing.T, price int64) (*lightning.MemoryNode,
	*httptest.Server) {

	t.Helper()
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	srv := httptest.NewServer(testpaywall.New(seller, price))
	t.Cleanup(srv.Close)
	old := fetchNode
	fetchNode = func(fetch.Config, io.Writer) (lightning.Node, error) {
		return buyer, nil
	}
	t.Cleanup(func() { fetchNode = old })
	return buyer, srv
}

func TestFetchCommandPaymentFlags(t *testing.T) {
	cfg := fetchEnv(t)
	buyer, srv := memoryBuyer(t, 10)

	// Over --max-cost (the config says 50; the flag says 5).
	if _, errOut, code := run("fetch", "--config", cfg, "--max-cost", "5",
		srv.URL+"/a"); code != 2 || !strings.Contains(errOut, "--max-cost 5") {
		t.Fatalf("--max-cost: %d %q", code, errOut)
	}

	// --max-fee reaches the node: a route costing 2 sat fails at 1.
	buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{FeeMsat: 2000}
	})
	if _, errOut, code := run("fetch", "--config", cfg, "--max-fee", "1",
		srv.URL+"/a"); code != 3 {
		t.Fatalf("--max-fee: %d %q", code, errOut)
	}

	// -v shows the steps; the summary names the price and the fee.
	out, errOut, code := run("fetch", "--config", cfg, "--max-fee", "2", "-v",
		srv.URL+"/a")
	if code != 0 || out != "paid content for GET" ||
		!strings.Contains(errOut, "l402: paying 10 sat") ||
		!strings.Contains(errOut, "paid 10 sat (fee 2 sat)") {
		t.Fatalf("-v: %d %q %q", code, out, errOut)
	}

	// -v on the cached path shows each step too: which token, from
	// where (the store's shortcut file, which the paid fetch wrote: the
	// store is not opened), and that nothing was paid nor the node asked.
	buyer.SetPayHook(nil)
	out, errOut, code = run("fetch", "--config", cfg, "-v", srv.URL+"/a")
	for _, want := range []string{"l402: config " + cfg,
		"l402: using the cached token for http://" +
			srv.Listener.Addr().String() + " from " +
			filepath.Join(filepath.Dir(cfg), "tokens.db-shortcut"),
		"bought 20", "answered 200 OK",
		"no payment made; the paying node was not contacted"} {
		if code != 0 || out != "paid content for GET" ||
			!strings.Contains(errOut, want) {
			t.Fatalf("-v, cached: %d %q %q, want %q", code, out, errOut,
				want)
		}
	}

	// -q: the body only. The token is reused: no payment, no summary.
	out, errOut, code = run("fetch", "--config", cfg, "-q", srv.URL+"/a")
	if code != 0 || out != "paid content for GET" || errOut != "" {
		t.Fatalf("-q: %d %q %q", code, out, errOut)
	}

	// --payment-timeout: a payment still in flight is left pending,
	// exit 3; once it settles the next run finishes it without paying.
	_, srv2 := memoryBuyer(t, 7)
	buyer2, _ := fetchNode(fetch.Config{}, nil)
	mem := buyer2.(*lightning.MemoryNode)
	mem.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{Hold: true}
	})
	_, errOut, code = run("fetch", "--config", cfg, "--payment-timeout",
		"100ms", srv2.URL)
	if code != 3 {
		t.Fatalf("--payment-timeout: %d %q", code, errOut)
	}
	out, _, _ = run("tokens", "list", "--json")
	if !strings.Contains(out, `"pending"`) {
		t.Fatalf("no pending payment after the timeout: %s", out)
	}
	var hash string
	var views []map[string]any
	json.Unmarshal([]byte(out), &views)
	for _, v := range views {
		if v["state"] == "pending" {
			hash = v["payment_hash"].(string)
		}
	}
	h, _ := l402.ParseHash(hash)
	if !mem.Release(h, lightning.PayOutcome{}) {
		t.Fatal("nothing held")
	}
	out, errOut, code = run("fetch", "--config", cfg, "--json", srv2.URL)
	var res map[string]any
	json.Unmarshal([]byte(out), &res)
	if code != 0 || res["l402_paid"] != false || res["body"] !=
		"paid content for GET" {
		t.Fatalf("resume: %d %q %q", code, out, errOut)
	}
}

func TestFetchCommandTLSAndTimeout(t *testing.T) {
	cfg := fetchEnv(t)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "secure")
	}))
	defer tlsSrv.Close()
	if _, _, code := run("fetch", "--config", cfg, tlsSrv.URL); code != 4 {
		t.Fatalf("self-signed without -k: exit %d", code)
	}
	if out, _, code := run("fetch", "--config", cfg, "-k",
		tlsSrv.URL); code != 0 || out != "secure" {
		t.Fatalf("-k: %d %q", code, out)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	start := time.Now()
	if _, _, code := run("fetch", "--config", cfg, "--timeout", "100ms",
		slow.URL); code != 4 || time.Since(start) > time.Second {
		t.Fatalf("--timeout: exit %d after %s", code, time.Since(start))
	}
}

func TestFetchCommandStdinBodyAndMaxTotal(t *testing.T) {
	cfg := fetchEnv(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+string(b))
	}))
	defer echo.Close()
	if out, _, code := runIn("from stdin", "fetch", "--config", cfg, "-d",
		"@-", echo.URL); code != 0 || out != "POST from stdin" {
		t.Fatalf("-d @-: %d %q", code, out)
	}

	// --max-total counts the price and the fee limit: 10 + 2 > 11.
	_, srv := memoryBuyer(t, 10)
	_, errOut, code := run("fetch", "--config", cfg, "--max-fee", "2",
		"--max-total", "11", srv.URL)
	if code != 2 || !strings.Contains(errOut, "--max-total") {
		t.Fatalf("--max-total: %d %q", code, errOut)
	}
	if _, errOut, code = run("fetch", "--config", cfg, "--max-fee", "1",
		"--max-total", "11", srv.URL); code != 0 {
		t.Fatalf("within --max-total: %d %q", code, errOut)
	}
}

// TestFetchCommandJSONBodyCap: --json without -o embeds at most 1 MiB of
// the body, says body_truncated, and keeps size the whole body's; a body
// within the cap is whole and not marked.
func TestFetchCommandJSONBodyCap(t *testing.T) {
	cfg := fetchEnv(t)
	const mib = 1 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		n := mib + 1000
		if r.URL.Path == "/small" {
			n = mib
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("a", n))
	}))
	defer srv.Close()

	out, errOut, code := run("fetch", "--config", cfg, "--json", srv.URL)
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("%d %v %s", code, err, errOut)
	}
	body, _ := res["body"].(string)
	if len(body) != mib || res["body_truncated"] != true ||
		res["size"] != float64(mib+1000) {
		t.Fatalf("body of %d bytes, truncated %v, size %v", len(body),
			res["body_truncated"], res["size"])
	}

	out, _, code = run("fetch", "--config", cfg, "--json", srv.URL+"/small")
	res = nil
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("%d %v", code, err)
	}
	body, _ = res["body"].(string)
	if _, cut := res["body_truncated"]; len(body) != mib || cut ||
		res["size"] != float64(mib) {
		t.Fatalf("small: body of %d bytes, truncated %v, size %v",
			len(body), res["body_truncated"], res["size"])
	}
}

// TestFetchCommandPreferScheme: --prefer-scheme payment buys a Payment
// charge from a seller that offers both schemes, --json says so and
// carries the receipt; the default buys L402; fetch.yaml's preferscheme
// is the default the flag overrides; a bad value is exit 2.
func TestFetchCommandPreferScheme(t *testing.T) {
	cfg := fetchEnv(t)
	net := lightning.NewMemoryNetwork()
	seller, _ := net.NewNode("seller", "regtest")
	buyer, _ := net.NewNode("buyer", "regtest")
	wall := testpaywall.New(seller, 10)
	wall.SetSchemes("l402+mpp")
	srv := httptest.NewServer(wall)
	defer srv.Close()
	old := fetchNode
	fetchNode = func(fetch.Config, io.Writer) (lightning.Node, error) {
		return buyer, nil
	}
	defer func() { fetchNode = old }()

	jsonRun := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, code := run(append([]string{"fetch", "--config", cfg,
			"--json"}, args...)...)
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
			t.Fatalf("%v: %d %q %q", args, code, out, errOut)
		}
		return res
	}
	res := jsonRun("--prefer-scheme", "payment", srv.URL+"/a")
	receipt, _ := res["payment_receipt"].(map[string]any)
	if res["payment_scheme"] != "Payment" || res["l402_paid"] != true ||
		receipt["status"] != "success" || receipt["reference"] == "" {
		t.Fatalf("--prefer-scheme payment: %v", res)
	}
	_, errOut, code := run("fetch", "--config", cfg, "--prefer-scheme",
		"payment", srv.URL+"/a")
	if code != 0 || !strings.Contains(errOut, "with a Payment charge") {
		t.Fatalf("summary: %d %q", code, errOut)
	}

	// fetch.yaml prefers payment; the flag says l402.
	os.WriteFile(cfg, []byte("maxcost: 50\npreferscheme: payment\n"), 0o600)
	res = jsonRun(srv.URL + "/b")
	if res["payment_scheme"] != "Payment" {
		t.Fatalf("preferscheme: payment: %v", res)
	}
	res = jsonRun("--prefer-scheme", "l402", srv.URL+"/b")
	if res["payment_scheme"] != "L402" || res["payment_receipt"] != nil {
		t.Fatalf("--prefer-scheme l402: %v", res)
	}

	if _, errOut, code := run("fetch", "--config", cfg, "--prefer-scheme",
		"lsat", srv.URL); code != 2 || !strings.Contains(errOut,
		"--prefer-scheme") {
		t.Fatalf("a bad --prefer-scheme: %d %q", code, errOut)
	}

	// lnget's --params carries the preference too; the flag wins. A new
	// origin, as /b's token would be sent first.
	os.WriteFile(cfg, []byte("maxcost: 50\n"), 0o600)
	srv = httptest.NewServer(wall)
	defer srv.Close()
	res = jsonRun("--params", fmt.Sprintf(`{"url":%q,"prefer_scheme":"payment"}`,
		srv.URL+"/c"))
	if res["payment_scheme"] != "Payment" {
		t.Fatalf("--params prefer_scheme payment: %v", res)
	}
	res = jsonRun("--prefer-scheme", "l402", "--params",
		fmt.Sprintf(`{"url":%q,"prefer_scheme":"payment"}`, srv.URL+"/d"))
	if res["payment_scheme"] != "L402" {
		t.Fatalf("--prefer-scheme over --params: %v", res)
	}
}
