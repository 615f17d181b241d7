package serve

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/lightning"
)

var updateGolden = flag.Bool("update", false, "rewrite serve/testdata's "+
	"golden files")

// manifestConfig is a serve.yaml with a service of each kind the manifest
// shows or leaves out, a catch-all last.
const manifestConfig = `listenaddr: "localhost:8081"
insecure: true
authenticator:
  network: regtest
  lndhost: "localhost:10009"
services:
  - name: "api"
    hostregexp: ".*"
    pathregexp: "^/api/"
    address: "127.0.0.1:8080"
    price: 100
    capabilities: "read,write"
    timeout: 3600
  - name: "quotes"
    hostregexp: ".*"
    pathregexp: "^/quotes/"
    address: "127.0.0.1:8080"
    dynamicprice:
      enabled: true
      grpcaddress: "127.0.0.1:10010"
  - name: "trial"
    hostregexp: ".*"
    pathregexp: "^/trial/"
    address: "127.0.0.1:8080"
    price: 5
    auth: "freebie 3"
  - name: "open"
    hostregexp: ".*"
    pathregexp: "^/open/"
    address: "127.0.0.1:8080"
    auth: "off"
  - name: "elsewhere"
    hostregexp: "^other\\.example$"
    address: "127.0.0.1:8080"
    price: 9
  - name: "all"
    hostregexp: ".*"
    address: "127.0.0.1:8080"
    price: 1
`

// manifestHandler builds a Handler of a config with a memory node's
// identity, and serves it.
func manifestHandler(t *testing.T, yaml string) *httptest.Server {
	t.Helper()
	cfg, err := LoadConfig(writeConfig(t, yaml))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(cfg, newAuthEnv(t).auth, HandlerOptions{
		DialPricer: func(DynamicPriceConfig) (Pricer, error) {
			return &fakePricer{}, nil
		},
		node: lightning.Info{Alias: "bob",
			Pubkey: "02" + strings.Repeat("ab", 32)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fetchManifest sends method to the manifest's path with the headers
// given in pairs.
func fetchManifest(t *testing.T, srv *httptest.Server, method, host string,
	headers ...string) (*http.Response, []byte) {

	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+ManifestPath, nil)
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestManifestGolden: the manifest of manifestConfig for localhost is
// serve/testdata/manifest.json byte for byte: the paid services of the
// host (a fixed price in msat, a dynamic one, freebies, capabilities, a
// timeout, the schemes), not the free one nor another host's, and the
// caveats serve checks.
func TestManifestGolden(t *testing.T) {
	srv := manifestHandler(t, manifestConfig)
	resp, got := fetchManifest(t, srv, http.MethodGet, "localhost:8081")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	golden := filepath.Join("testdata", "manifest.json")
	if *updateGolden {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("manifest differs from %s (go test -run "+
			"TestManifestGolden ./serve -update rewrites it):\n%s", golden,
			got)
	}
}

// TestManifestServed: the manifest is free, JSON, cacheable (ETag, 304,
// max-age), readable from any origin and answered before the catch-all
// service; HEAD has no body, other methods get 405; another host sees
// its own services; discovery: false leaves the path to the services.
func TestManifestServed(t *testing.T) {
	srv := manifestHandler(t, manifestConfig)
	resp, body := fetchManifest(t, srv, http.MethodGet, "")
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Content-Type") != "application/json" ||
		h.Get("Cache-Control") != "public, max-age=60" ||
		h.Get("Access-Control-Allow-Origin") != "*" || h.Get("ETag") == "" ||
		len(h.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("GET: %d %v", resp.StatusCode, h)
	}
	var m struct {
		Services []struct{ Name string } `json:"services"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range m.Services {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "api,quotes,trial,all" {
		t.Fatalf("services %v", names)
	}

	resp, body = fetchManifest(t, srv, http.MethodGet, "",
		"If-None-Match", `W/"x", `+h.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match: %d %q", resp.StatusCode, body)
	}
	resp, body = fetchManifest(t, srv, http.MethodHead, "")
	if resp.StatusCode != 200 || len(body) != 0 ||
		resp.Header.Get("ETag") != h.Get("ETag") {
		t.Fatalf("HEAD: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = fetchManifest(t, srv, http.MethodPost, "")
	if resp.StatusCode != http.StatusMethodNotAllowed ||
		resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Fatalf("POST: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = fetchManifest(t, srv, http.MethodOptions, "",
		"Origin", "https://agent.example")
	if resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}

	_, body = fetchManifest(t, srv, http.MethodGet, "OTHER.example:8081")
	if !strings.Contains(string(body), `"name": "elsewhere"`) {
		t.Fatalf("other.example's manifest: %s", body)
	}

	off := manifestHandler(t, strings.Replace(manifestConfig, "services:",
		"discovery: false\nservices:", 1))
	resp, _ = fetchManifest(t, off, http.MethodGet, "")
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("discovery: false: %d, want the catch-all's 402",
			resp.StatusCode)
	}
}

// TestManifestListsAdminServices: a service created through the admin API
// shows in the manifest at once, and so does a price changed through it.
func TestManifestListsAdminServices(t *testing.T) {
	e := newAdminEnv(t, "")
	e.ok(t, "POST", "/api/admin/services", `{"name":"reports",
		"address":"`+strings.TrimPrefix(e.srv.URL, "http://")+`",
		"path_regexp":"^/reports/","price":"42"}`, nil)
	e.ok(t, "PUT", "/api/admin/services/api", `{"price":"150"}`, nil)

	resp, body := fetchManifest(t, e.srv, http.MethodGet, "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var m struct {
		Services []struct {
			Name      string `json:"name"`
			Resources []struct {
				Path    string `json:"path"`
				Pricing struct {
					PriceMsat int64 `json:"price_msat"`
				} `json:"pricing"`
			} `json:"resources"`
		} `json:"services"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	prices := map[string]int64{}
	for _, s := range m.Services {
		prices[s.Name] = s.Resources[0].Pricing.PriceMsat
	}
	if prices["reports"] != 42000 || prices["api"] != 150000 ||
		prices["files"] != 20000 || len(prices) != 3 {
		t.Fatalf("prices %v in %s", prices, body)
	}
}

// TestManifestSchemes: a service's schemes are its authscheme's, or L402
// and, with enablempp, the Payment scheme.
func TestManifestSchemes(t *testing.T) {
	on, off := MPPConfig{EnableMPP: true}, MPPConfig{}
	for _, c := range []struct {
		scheme string
		mpp    MPPConfig
		want   string
	}{
		{"", off, "L402"},
		{"", on, "L402,Payment"},
		{"l402", on, "L402"},
		{"mpp", on, "Payment"},
		{"l402+mpp", on, "L402,Payment"},
	} {
		got := offeredSchemes(ServiceConfig{AuthScheme: c.scheme}, c.mpp)
		if strings.Join(got, ",") != c.want {
			t.Errorf("authscheme %q, enablempp %v: %v, want %s", c.scheme,
				c.mpp.EnableMPP, got, c.want)
		}
	}
}
