package main

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchCommandSelfSignedServer: a server whose certificate no trusted
// authority signed (l402 serve's default) is a network error that says
// what to do (-k, or --cacert with the server's certificate), and
// --cacert FILE trusts exactly that certificate.
func TestFetchCommandSelfSignedServer(t *testing.T) {
	cfg := fetchEnv(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter,
		_ *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	_, errOut, code := run("fetch", "--config", cfg, srv.URL)
	if code != 4 || !strings.Contains(errOut, "-k") ||
		!strings.Contains(errOut, "--cacert") {
		t.Fatalf("self-signed: exit %d %q", code, errOut)
	}

	ca := filepath.Join(t.TempDir(), "serve.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{
		Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run("fetch", "--config", cfg, "--cacert", ca,
		srv.URL)
	if code != 0 || out != "ok" {
		t.Fatalf("--cacert: exit %d %q %q", code, out, errOut)
	}

	bad := filepath.Join(t.TempDir(), "none.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, errOut, code := run("fetch", "--config", cfg, "--cacert", bad,
		srv.URL); code != 2 || !strings.Contains(errOut, bad) {
		t.Fatalf("a --cacert without a certificate: exit %d %q", code,
			errOut)
	}
}
