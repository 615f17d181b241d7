package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// manifestServer serves body at ManifestPath with the content type, and
// 404 elsewhere.
func manifestServer(t *testing.T, status int, ctype, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		if r.URL.Path != ManifestPath {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			t.Error("a token was sent for the manifest")
		}
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDiscoverReadsTheManifest: every member the spec defines is read,
// defaults filled in (GET, unit 1), unknown members ignored, and the table
// shows one row a resource with its price.
func TestDiscoverReadsTheManifest(t *testing.T) {
	body, err := os.ReadFile("testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := manifestServer(t, 200, "application/json", string(body))
	d, err := Discover(context.Background(), DiscoverOptions{
		URL: srv.URL + "/tiles/1/2/3.png?x=1"})
	if err != nil {
		t.Fatal(err)
	}
	m := d.Manifest
	if d.URL != srv.URL+ManifestPath || d.StatusCode != 200 ||
		d.Origin != "http://"+srv.Listener.Addr().String() ||
		len(d.Warnings) != 0 || m.Version != "1.0" ||
		m.Provider.Name != "Example Maps" || m.QuoteEndpoint != "/l402/quote" ||
		len(m.Services) != 2 || len(m.Caveats) != 2 ||
		m.Caveats["tiles_count"].Attenuation != "decreasing" {
		t.Fatalf("discovery %+v", d)
	}
	tiles := m.Services[0]
	png, pbf := tiles.Resources[0], tiles.Resources[1]
	if len(tiles.Tiers) != 2 || tiles.Tiers[1].Tier != 2 ||
		png.Method != "GET" || *png.Pricing.PriceMsat != 2500 ||
		pbf.Method != "GET" || pbf.Pricing.Components[0].Unit != 100 ||
		*pbf.Constraints["tiles_count"].Max != 100000 ||
		m.Services[1].Resources[0].Method != "POST" {
		t.Fatalf("tiles %+v", tiles)
	}

	var out, errOut bytes.Buffer
	if err := d.WriteHuman(&out, &errOut, false); err != nil {
		t.Fatal(err)
	}
	want := "SERVICE\tTIERS\tMETHOD\tPATH\tCAPABILITY\tPRICE\n" +
		"tiles\t0 base, 2 bulk\tGET\t/tiles/{z}/{x}/{y}.png\traster\t2.500 sat\n" +
		"tiles\t0 base, 2 bulk\tGET\t/tiles/{z}/{x}/{y}.pbf\tvector\t" +
		"1 sat + 0.050 sat per 100 tiles_count\n" +
		"routing\t0\tPOST\t/route\t\tdynamic: ask the quote endpoint\n"
	if out.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, s := range []string{"by Example Maps (https://maps.example)",
		"quotes at /l402/quote", "caveats services (service_list, subset)"} {
		if !strings.Contains(errOut.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, errOut.String())
		}
	}
}

// TestDiscoverApertureManifest reads a manifest as Aperture's discovery
// package (lightninglabs/aperture PR 241) writes one: a pathregexp for
// the path, the base tier, no method.
func TestDiscoverApertureManifest(t *testing.T) {
	srv := manifestServer(t, 200, "application/json", `{"version":"1.0",
		"provider":{"name":"aperture"},"currencies":["msat"],
		"macaroon_versions":[0],"payment_methods":["bolt11"],
		"services":[{"name":"svc","tiers":[{"tier":0,"name":"base"}],
		"resources":[{"path":"^/api/.*$","pricing":{"model":"fixed",
		"price_msat":30000}}]}],"caveats":{"services":{"type":
		"service_list","attenuation":"subset"},"svc_capabilities":{"type":
		"string","attenuation":"subset"}}}`)
	d, err := Discover(context.Background(), DiscoverOptions{URL: srv.URL})
	if err != nil || len(d.Manifest.Services) != 1 ||
		PriceText(d.Manifest.Services[0].Resources[0].Pricing) != "30 sat" {
		t.Fatalf("%+v %v", d, err)
	}
}

// TestDiscoverRefuses: no manifest, or one that is not a manifest, is a
// condition with the URL and status; a price in the wrong type or a
// member the spec requires missing is refused by name.
func TestDiscoverRefuses(t *testing.T) {
	ok := `"version":"1.0","provider":{"name":"p"},"currencies":["msat"]`
	fixed := func(pricing string) string {
		return `{` + ok + `,"services":[{"name":"s","resources":[` +
			`{"pricing":` + pricing + `}]}]}`
	}
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   error
		words  string
	}{
		{"none", 404, "text/plain", "not found", ErrNoManifest, "publishes no"},
		{"gone", 410, "text/plain", "", ErrNoManifest, "410"},
		{"behind a paywall", 402, "text/plain", "payment required",
			ErrNoManifest, "never pays"},
		{"server error", 500, "text/plain", "boom", ErrHTTPStatus, "500"},
		{"not JSON", 200, "text/html", "<html>", ErrBadManifest,
			"not a JSON object"},
		{"an array", 200, "application/json", "[]", ErrBadManifest,
			"not a JSON object"},
		{"no version", 200, "application/json", `{"provider":{"name":"p"},
			"currencies":["msat"],"services":[]}`, ErrBadManifest, `"version"`},
		{"no services", 200, "application/json", `{` + ok + `}`,
			ErrBadManifest, `"services"`},
		{"no provider name", 200, "application/json", `{"version":"1.0",
			"provider":{},"currencies":["msat"],"services":[]}`,
			ErrBadManifest, "provider.name"},
		{"no msat", 200, "application/json", `{"version":"1.0","provider":
			{"name":"p"},"currencies":["usd"],"services":[]}`,
			ErrBadManifest, "lacks msat"},
		{"price as a string", 200, "application/json",
			fixed(`{"model":"fixed","price_msat":"1000"}`), ErrBadManifest,
			"price_msat"},
		{"fractional price", 200, "application/json",
			fixed(`{"model":"fixed","price_msat":1.5}`), ErrBadManifest,
			"price_msat"},
		{"fixed without a price", 200, "application/json",
			fixed(`{"model":"fixed"}`), ErrBadManifest, "needs price_msat"},
		{"negative price", 200, "application/json",
			fixed(`{"model":"fixed","price_msat":-1}`), ErrBadManifest,
			"negative"},
		{"unknown model", 200, "application/json",
			fixed(`{"model":"auction"}`), ErrBadManifest, "auction"},
		{"formula without components", 200, "application/json",
			fixed(`{"model":"formula","base_msat":1}`), ErrBadManifest,
			"components"},
		{"no resources", 200, "application/json", `{` + ok +
			`,"services":[{"name":"s"}]}`, ErrBadManifest, "no resources"},
		{"a capability not offered", 200, "application/json", `{` + ok +
			`,"services":[{"name":"s","capabilities":["a"],"resources":` +
			`[{"capability":"b","pricing":{"model":"dynamic"}}]}]}`,
			ErrBadManifest, `capability "b"`},
		{"tier out of range", 200, "application/json", `{` + ok +
			`,"services":[{"name":"s","tiers":[{"tier":256}],` +
			`"resources":[]}]}`, ErrBadManifest, "tier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := manifestServer(t, tc.status, tc.ctype, tc.body)
			d, err := Discover(context.Background(), DiscoverOptions{
				URL: srv.URL})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(),
				tc.words) || d.StatusCode != tc.status ||
				d.URL != srv.URL+ManifestPath {
				t.Fatalf("got %+v %v, want %v with %q", d, err, tc.want,
					tc.words)
			}
		})
	}

	big := manifestServer(t, 200, "application/json",
		`{"pad":"`+strings.Repeat("x", ManifestMax)+`"}`)
	if _, err := Discover(context.Background(), DiscoverOptions{
		URL: big.URL}); !errors.Is(err, ErrBadManifest) ||
		!strings.Contains(err.Error(), "over") {
		t.Fatalf("a manifest over the cap: %v", err)
	}
}

// TestDiscoverWarns: a manifest the spec frowns on but that can be read
// comes with warnings: another major version, a type other than JSON, a
// formula price without a quote endpoint.
func TestDiscoverWarns(t *testing.T) {
	srv := manifestServer(t, 200, "text/plain", `{"version":"2.1",
		"provider":{"name":"p"},"currencies":["msat"],"services":[{"name":
		"s","resources":[{"pricing":{"model":"formula","base_msat":0,
		"components":[]}}]}],"future":{"member":1}}`)
	d, err := Discover(context.Background(), DiscoverOptions{URL: srv.URL})
	if err != nil || len(d.Warnings) != 3 ||
		!strings.Contains(d.Warnings[0], "text/plain") ||
		!strings.Contains(d.Warnings[1], `version "2.1"`) ||
		!strings.Contains(d.Warnings[2], "quote_endpoint") {
		t.Fatalf("%+v %v", d, err)
	}
}

// TestDiscoverStaysOnTheOrigin: the manifest's URL leaves the default
// port out; a redirect to another origin is not followed, and a bad URL
// is bad options.
func TestDiscoverStaysOnTheOrigin(t *testing.T) {
	other := manifestServer(t, 200, "application/json", `{}`)
	srv := httptest.NewServer(http.RedirectHandler(other.URL+ManifestPath,
		http.StatusFound))
	defer srv.Close()
	if _, err := Discover(context.Background(), DiscoverOptions{
		URL: srv.URL}); !errors.Is(err, ErrNoManifest) ||
		!strings.Contains(err.Error(), "redirected") {
		t.Fatalf("redirect elsewhere: %v", err)
	}
	for in, want := range map[string]string{
		"https://Example.com:443/a/b": "https://example.com" + ManifestPath,
		"http://example.com:80":       "http://example.com" + ManifestPath,
		"https://example.com:8443/x":  "https://example.com:8443" + ManifestPath,
	} {
		u, _ := url.Parse(in)
		if got := manifestURL(u); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"ftp://example.com", "not a url", ""} {
		if _, err := Discover(context.Background(), DiscoverOptions{
			URL: bad}); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestDiscoverReadsWhatServeWrites: the manifest l402 serve publishes
// (its golden file, serve/testdata/manifest.json, held by serve's
// TestManifestGolden) reads with the buyer's parser, every service kept.
// The two sides keep their own types; this holds them to one format.
func TestDiscoverReadsWhatServeWrites(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "serve", "testdata",
		"manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Services []json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	m, _, err := ParseManifest(b)
	if err != nil || len(m.Services) == 0 ||
		len(m.Services) != len(raw.Services) {
		t.Fatalf("serve's manifest: %d of %d services, %v",
			len(m.Services), len(raw.Services), err)
	}
}
