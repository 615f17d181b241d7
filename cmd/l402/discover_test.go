package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/l402/l402/fetch"
)

// TestDiscoverCommand: `l402 discover URL` prints the manifest's
// resources as a table and the provider on stderr, or the whole manifest
// with --json; none published is no_manifest and a document that is not a
// manifest invalid_discovery (exit 1); bad flags and arguments exit 2.
func TestDiscoverCommand(t *testing.T) {
	t.Setenv("L402_HOME", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		switch r.URL.Path {
		case fetch.ManifestPath:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"version":"1.0","provider":{"name":"Wx"},
				"currencies":["msat"],"quote_endpoint":"/l402/quote",
				"services":[{"name":"weather","resources":[{"path":
				"/forecast","pricing":{"model":"fixed","price_msat":21000}}]}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	out, errOut, code := run("discover", srv.URL+"/forecast?city=x")
	if code != 0 || out != "SERVICE\tTIERS\tMETHOD\tPATH\tCAPABILITY\tPRICE\n"+
		"weather\t0\tGET\t/forecast\t\t21 sat\n" ||
		!strings.Contains(errOut, "by Wx") ||
		!strings.Contains(errOut, "quotes at /l402/quote") {
		t.Fatalf("discover: %d %q %q", code, out, errOut)
	}

	out, _, code = run("discover", "--json", srv.URL)
	var d fetch.Discovery
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil ||
		d.URL != srv.URL+fetch.ManifestPath || d.Manifest.Provider.Name != "Wx" ||
		*d.Manifest.Services[0].Resources[0].Pricing.PriceMsat != 21000 {
		t.Fatalf("discover --json: %d %s", code, out)
	}

	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		_ *http.Request) {
		io.WriteString(w, "<html>")
	}))
	defer notJSON.Close()
	for _, tc := range []struct {
		args []string
		exit int
		code string
	}{
		{[]string{missing.URL}, 1, "no_manifest"},
		{[]string{notJSON.URL}, 1, "invalid_discovery"},
		{[]string{"http://127.0.0.1:1"}, 4, "network_error"},
		{[]string{}, 2, "bad_arguments"},
		{[]string{"ftp://example.com"}, 2, "bad_arguments"},
		{[]string{"--timeout", "0s", srv.URL}, 2, "bad_arguments"},
		{[]string{"--cacert", "/nonexistent", srv.URL}, 2, "bad_arguments"},
	} {
		_, errOut, code := run(append([]string{"discover", "--json"},
			tc.args...)...)
		if code != tc.exit || !strings.Contains(errOut, `"code":"`+
			tc.code+`"`) {
			t.Errorf("%q: exit %d %s", tc.args, code, errOut)
		}
	}
	if _, errOut, _ := run("discover", "--json", "--timeout", "0s",
		srv.URL); !strings.Contains(errOut, "--timeout") {
		t.Errorf("the timeout is not named by its flag: %s", errOut)
	}

	// -v names each step; -k is taken.
	_, errOut, code = run("discover", "-v", "-k", srv.URL)
	if code != 0 || !strings.Contains(errOut, "reading the discovery "+
		"manifest "+srv.URL+fetch.ManifestPath) {
		t.Fatalf("discover -v: %d %s", code, errOut)
	}
}
