//go:build itest

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/regtest"
	"github.com/l402/l402/serve"
)

// runL402 runs the binary with L402_HOME=home and returns stdout, stderr
// and the exit code.
func runL402(t *testing.T, ctx context.Context, home string,
	args ...string) (string, string, int) {

	t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// setupReport is what the itests read of setup's --json report.
type setupReport struct {
	Lnd struct {
		Network, Host, Source, Pubkey string
	}
	Files     []struct{ Path, Status string }
	Macaroons []struct {
		Kind, Path string
		Baked      bool
	}
	Warnings []string
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestItestSetupSellerAndBuyer is the README's two recipes on regtest:
// `l402 setup --role seller` on bob's lnd directory bakes an invoice-only
// macaroon (least privilege by default, though bob has lnd's
// invoice.macaroon), then `l402 serve` with no flags; `l402 setup --role
// buyer` on alice's bakes a pay-only one, then `l402 fetch --max-cost 100
// URL` pays bob through it. With --no-bake, fetch.yaml gets
// admin.macaroon and a warning, as before.
func TestItestSetupSellerAndBuyer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "set up and sold")
	}))
	defer backend.Close()

	sellerHome := t.TempDir()
	port := freePort(t)
	out, errOut, code := runL402(t, ctx, sellerHome, "setup", "--role",
		"seller", "--lnddir", stack.Bob.LndDir, "--upstream",
		strings.TrimPrefix(backend.URL, "http://"), "--price", "15",
		"--insecure", "--listen", "127.0.0.1:"+strconv.Itoa(port), "--json")
	if code != 0 {
		t.Fatalf("setup seller: %d\n%s", code, errOut)
	}
	var rep setupReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	bakedDir := filepath.Join(sellerHome, "macaroons", "regtest")
	if rep.Lnd.Network != "regtest" || rep.Lnd.Host != stack.Bob.RPCHost ||
		rep.Lnd.Pubkey != stack.Bob.Pubkey || len(rep.Files) != 1 ||
		rep.Files[0].Status != "written" || len(rep.Macaroons) != 1 ||
		rep.Macaroons[0].Kind != "invoice-only" ||
		!rep.Macaroons[0].Baked || rep.Macaroons[0].Path !=
		filepath.Join(bakedDir, "invoice.macaroon") {
		t.Fatalf("seller report: %s", out)
	}
	if cfg, err := serve.LoadConfig(rep.Files[0].Path); err != nil ||
		cfg.Authenticator.MacDir != bakedDir {
		t.Fatalf("serve.yaml: %+v %v", cfg, err)
	}
	if fi, err := os.Stat(rep.Files[0].Path); err != nil ||
		fi.Mode().Perm() != 0o600 {
		t.Fatalf("serve.yaml mode: %v %v", fi, err)
	}

	serveCmd := exec.Command(binary, "serve")
	serveCmd.Env = append(os.Environ(), "L402_HOME="+sellerHome)
	stderr, _ := serveCmd.StderrPipe()
	if err := serveCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serveCmd.Process.Signal(os.Interrupt)
		serveCmd.Wait()
	}()
	addr, err := regtest.WaitServeListening(stderr, func(line string) {
		t.Logf("serve: %s", line)
	}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	buyerHome := t.TempDir()
	out, errOut, code = runL402(t, ctx, buyerHome, "setup", "--role",
		"buyer", "--lnddir", stack.Alice.LndDir, "--json")
	rep = setupReport{}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil ||
		len(rep.Macaroons) != 1 || rep.Macaroons[0].Kind != "pay-only" ||
		!rep.Macaroons[0].Baked || len(rep.Warnings) != 0 {
		t.Fatalf("setup buyer: %d\n%s\n%s", code, out, errOut)
	}
	fetchYAML, _ := os.ReadFile(filepath.Join(buyerHome, "fetch.yaml"))
	if !strings.Contains(string(fetchYAML), "pay-only.macaroon") {
		t.Fatalf("fetch.yaml: %s", fetchYAML)
	}

	out, errOut, code = runL402(t, ctx, buyerHome, "fetch", "--max-cost",
		"100", "http://"+addr+"/anything")
	if code != 0 || out != "set up and sold" {
		t.Fatalf("fetch: %d %q\n%s", code, out, errOut)
	}

	// Setup again with another price: the file is kept and the diff
	// shown (exit 4); --force replaces it.
	args := []string{"setup", "--role", "seller", "--lnddir",
		stack.Bob.LndDir, "--upstream", strings.TrimPrefix(backend.URL,
			"http://"), "--insecure", "--listen",
		"127.0.0.1:" + strconv.Itoa(port)}
	_, errOut, code = runL402(t, ctx, sellerHome, append(args, "--price",
		"15")...)
	if code != 0 || !strings.Contains(errOut, "unchanged") {
		t.Fatalf("same setup again: %d\n%s", code, errOut)
	}
	_, errOut, code = runL402(t, ctx, sellerHome, append(args, "--price",
		"20")...)
	if code != 4 || !strings.Contains(errOut, "- ") ||
		!strings.Contains(errOut, "+     price: 20") {
		t.Fatalf("changed setup: %d\n%s", code, errOut)
	}
	_, errOut, code = runL402(t, ctx, sellerHome, append(args, "--price",
		"20", "--force")...)
	if code != 0 || !strings.Contains(errOut, "written") {
		t.Fatalf("forced setup: %d\n%s", code, errOut)
	}

	// --no-bake: admin.macaroon, and a warning that says so.
	noBakeHome := t.TempDir()
	out, errOut, code = runL402(t, ctx, noBakeHome, "setup", "--role",
		"buyer", "--lnddir", stack.Alice.LndDir, "--no-bake", "--json")
	rep = setupReport{}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil ||
		len(rep.Macaroons) != 1 || rep.Macaroons[0].Kind != "admin" ||
		rep.Macaroons[0].Baked || len(rep.Warnings) == 0 {
		t.Fatalf("setup --no-bake: %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(noBakeHome, "macaroons")); err == nil {
		t.Fatal("--no-bake baked")
	}

	// The wrong network is named, with exit 3.
	_, errOut, code = runL402(t, ctx, t.TempDir(), "setup", "--role",
		"buyer", "--lnddir", stack.Alice.LndDir, "--network", "mainnet")
	if code != 3 {
		t.Fatalf("wrong network: %d\n%s", code, errOut)
	}
	t.Logf("wrong network: %s", strings.TrimSpace(errOut))
}
