package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// echoServer answers with the method, Content-Type and body it got, and
// serves /hop/N, which redirects N times before answering "landed".
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path,
			"/hop/")); err == nil {
			if n == 0 {
				io.WriteString(w, "landed")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1),
				http.StatusFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.Header.Get("Content-Type"),
			r.Header.Get("X-Test"), body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// decode parses one JSON object printed by a command.
func decode(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %q", out)
	}
	return m
}

// TestFetchDryRun: --dry-run prints lnget's dry-run JSON, pays nothing,
// needs no node, writes no file, and exits 0; a price above the cap is
// within_budget false, not an error.
func TestFetchDryRun(t *testing.T) {
	cfg := fetchEnv(t)
	srv := challengeServer(t, 30)
	file := filepath.Join(t.TempDir(), "out")
	out, errOut, code := run("fetch", "--config", cfg, "--dry-run", "-o",
		file, srv.URL)
	m := decode(t, out)
	if code != 0 || m["dry_run"] != true || m["has_cached_token"] != false ||
		m["requires_l402"] != true || m["requires_payment"] != true ||
		m["payment_scheme"] != "L402" || m["invoice_amount_sat"] != 30.0 ||
		m["max_cost_sats"] != 50.0 || m["within_budget"] != true ||
		m["output_path"] != file || m["url"] != srv.URL {
		t.Fatalf("dry run: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote the output: %v", err)
	}

	out, _, code = run("fetch", "--config", cfg, "--dry-run", "--max-cost",
		"10", srv.URL)
	if m = decode(t, out); code != 0 || m["within_budget"] != false ||
		m["max_cost_sats"] != 10.0 {
		t.Fatalf("over the cap: %d %q", code, out)
	}

	// A free URL needs no payment; its cap is still shown.
	free := echoServer(t)
	out, _, code = run("fetch", "--config", cfg, "--dry-run", free.URL)
	if m = decode(t, out); code != 0 || m["requires_payment"] != false ||
		m["requires_l402"] != false || m["max_cost_sats"] != 50.0 ||
		m["status_code"] != 200.0 {
		t.Fatalf("free: %d %q", code, out)
	}
}

// TestFetchRedirectFlags: -L/--location (on by default) and
// --max-redirects, as lnget names them; -L=false makes the 302 the
// answer; one redirect too many is exit 1, too_many_redirects.
func TestFetchRedirectFlags(t *testing.T) {
	cfg := fetchEnv(t)
	srv := echoServer(t)
	for _, args := range [][]string{{}, {"-L"}, {"--location"},
		{"--max-redirects", "3"}} {
		a := append([]string{"fetch", "--config", cfg}, args...)
		if out, errOut, code := run(append(a, srv.URL+"/hop/3")...); code != 0 ||
			out != "landed" {
			t.Errorf("%q: %d %q %q", args, code, out, errOut)
		}
	}
	out, _, code := run("fetch", "--config", cfg, "--location=false",
		"--json", srv.URL+"/hop/3")
	if m := decode(t, out); code != 0 || m["status_code"] != 302.0 {
		t.Fatalf("-L=false: %d %q", code, out)
	}
	_, errOut, code := run("fetch", "--config", cfg, "--max-redirects", "2",
		"--json", srv.URL+"/hop/3")
	if e := decode(t, errOut); code != 1 || e["code"] != "too_many_redirects" {
		t.Fatalf("--max-redirects 2: %d %q", code, errOut)
	}
	if _, _, code := run("fetch", "--config", cfg, "--max-redirects", "-1",
		srv.URL); code != 2 {
		t.Fatalf("--max-redirects -1: %d", code)
	}
}

// TestFetchPrintBodyContentTypeNoProgress: --print-body puts the body
// into the JSON beside -o FILE; --content-type is the request body's
// type; --no-progress is accepted.
func TestFetchPrintBodyContentTypeNoProgress(t *testing.T) {
	cfg := fetchEnv(t)
	srv := echoServer(t)
	file := filepath.Join(t.TempDir(), "out")
	out, errOut, code := run("fetch", "--config", cfg, "--json",
		"--print-body", "--no-progress", "-o", file, "--content-type",
		"application/json", "-d", `{"a":1}`, srv.URL)
	got, _ := os.ReadFile(file)
	m := decode(t, out)
	want := `POST application/json  {"a":1}`
	if code != 0 || string(got) != want || m["body"] != want ||
		m["output_path"] != file {
		t.Fatalf("%d %q %q file %q", code, out, errOut, got)
	}
	if _, errOut, code := run("fetch", "--config", cfg, "--content-type",
		"text/plain", "-H", "Content-Type: application/json", srv.URL); code != 2 {
		t.Fatalf("two content types: %d %q", code, errOut)
	}
}

// TestFetchParams: --params takes the request as lnget's JSON (url,
// method, headers, data, output, max_cost, max_fee), over the flags; an
// unknown key or bad JSON is bad arguments.
func TestFetchParams(t *testing.T) {
	cfg := fetchEnv(t)
	srv := echoServer(t)
	file := filepath.Join(t.TempDir(), "out")
	params := fmt.Sprintf(`{"url":%q,"method":"PUT","headers":{"X-Test":"p"},`+
		`"data":"hi","output":%q,"max_cost":5,"max_fee":1}`, srv.URL, file)
	out, errOut, code := run("fetch", "--config", cfg, "--json", "--params",
		params)
	got, _ := os.ReadFile(file)
	if code != 0 || string(got) != "PUT  p hi" {
		t.Fatalf("params: %d %q %q %q", code, out, errOut, got)
	}
	m := decode(t, out)
	if lim, _ := m["limits"].(map[string]any); lim["max_cost_sat"] != 5.0 ||
		lim["max_fee_sat"] != 1.0 {
		t.Fatalf("params' caps: %q", out)
	}

	// Its max_cost is the cap: a price above it is refused.
	paid := challengeServer(t, 30)
	if _, errOut, code := run("fetch", "--config", cfg, "--params",
		fmt.Sprintf(`{"url":%q,"max_cost":20}`, paid.URL)); code != 2 ||
		!strings.Contains(errOut, "max-cost") {
		t.Fatalf("params max_cost: %d %q", code, errOut)
	}

	for _, bad := range []string{`{"url":1}`, `{"nope":true}`, `[`,
		`{"method":"GET"}`, `{"url":"http://x/","prefer_scheme":"bogus"}`} {
		if _, errOut, code := run("fetch", "--config", cfg, "--params",
			bad); code != 2 {
			t.Errorf("%s: %d %q", bad, code, errOut)
		}
	}
}

// TestRootVersionFlag: --version on the root prints the version, as
// `l402 version` does.
func TestRootVersionFlag(t *testing.T) {
	out, errOut, code := run("--version")
	want, _, _ := run("version")
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("%d %q %q, want %q", code, out, errOut, want)
	}
}

// TestFetchDryRunReadsTheManifest: a dry run of an origin that publishes
// a discovery manifest carries it (its services and prices) beside the
// 402's price; one without a manifest carries none and still succeeds.
func TestFetchDryRunReadsTheManifest(t *testing.T) {
	cfg := fetchEnv(t)
	manifest, err := os.ReadFile(filepath.Join("..", "..", "fetch",
		"testdata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	wall := challengeServer(t, 30)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if r.URL.Path == "/.well-known/l402.json" {
			w.Header().Set("Content-Type", "application/json")
			w.Write(manifest)
			return
		}
		// Everything else is the paywall's.
		resp, err := http.Get(wall.URL + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer srv.Close()

	out, errOut, code := run("fetch", "--config", cfg, "--dry-run",
		srv.URL+"/api")
	m := decode(t, out)
	disc, _ := m["discovery"].(map[string]any)
	man, _ := disc["manifest"].(map[string]any)
	if code != 0 || m["invoice_amount_sat"] != 30.0 || man == nil ||
		len(man["services"].([]any)) == 0 {
		t.Fatalf("dry run with a manifest: %d %q %q", code, out, errOut)
	}

	out, _, code = run("fetch", "--config", cfg, "--dry-run", wall.URL)
	if m = decode(t, out); code != 0 || m["discovery"] != nil {
		t.Fatalf("dry run without a manifest: %d %q", code, out)
	}
}
