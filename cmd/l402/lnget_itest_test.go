//go:build itest

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestItestLnget runs testdata/lnget-buy.sh, a script written for lnget
// v1.1.0, unchanged, through a link named lnget to the built l402,
// against `l402 serve` selling with bob's invoices: it previews, pays
// once through alice's lnd named in ~/.lnget/config.yaml, reuses the
// token, manages tokens by host:port and checks the node.
func TestItestLnget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "sunny on regtest")
	}))
	defer backend.Close()
	addr := startServe(t, backend.URL, 30)

	// The link, and a home whose lnget config pays through alice.
	bin := t.TempDir()
	if err := os.Symlink(binary, filepath.Join(bin, "lnget")); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".lnget"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("ln:\n  mode: lnd\n  lnd:\n    host: %s\n"+
		"    tls_cert: %s\n    macaroon: %s\n    network: regtest\n",
		stack.Alice.RPCHost, stack.Alice.TLSCertPath,
		stack.Alice.AdminMacaroonPath)
	if err := os.WriteFile(filepath.Join(home, ".lnget", "config.yaml"),
		[]byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	script, err := filepath.Abs(filepath.Join("testdata", "lnget-buy.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "sh", script, "http://"+addr+"/weather")
	cmd.Dir = t.TempDir()
	var env []string
	for _, v := range os.Environ() {
		if !strings.HasPrefix(v, "LNGET_") && !strings.HasPrefix(v,
			"HOME=") && !strings.HasPrefix(v, "PATH=") &&
			!strings.HasPrefix(v, "L402_HOME=") {
			env = append(env, v)
		}
	}
	cmd.Env = append(env, "HOME="+home, "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	t.Logf("lnget-buy.sh:\n%s", out)
	if err != nil {
		t.Fatalf("the lnget script failed: %v", err)
	}
	body, _ := os.ReadFile(filepath.Join(cmd.Dir, "weather"))
	if string(body) != "sunny on regtest" {
		t.Fatalf("the downloaded file holds %q", body)
	}
	if _, err := os.Stat(filepath.Join(home, ".l402", "tokens.db")); err != nil {
		t.Fatalf("no token store in ~/.l402: %v", err)
	}
}
