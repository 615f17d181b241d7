//go:build itest

package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
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

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnctest"
	"github.com/l402/l402/internal/macaroons"
	"github.com/l402/l402/internal/regtest"
)

// lncBridge puts a bridge (Lightning Terminal's part) in front of a
// regtest node's lnd with the macaroon at macPath, listening on the
// mailbox at addr, and returns its pairing phrase. The mailbox may not
// be up yet: the bridge keeps trying.
func lncBridge(t *testing.T, addr string, n *regtest.Node,
	macPath string) *lnctest.Bridge {

	t.Helper()
	bridge, err := lnctest.Start(lnctest.Config{
		MailboxAddr: addr,
		// serve's relay has a self-signed certificate.
		MailboxTLS:   &tls.Config{InsecureSkipVerify: true},
		LndHost:      n.RPCHost,
		LndCertPath:  n.TLSCertPath,
		MacaroonPath: macPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bridge.Close)
	return bridge
}

// payOnlyMacaroon bakes a pay-only macaroon on alice's lnd, as a buyer's
// LNC session would be limited, and returns its file.
func payOnlyMacaroon(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := lightning.NewLnd(lightning.LndConfig{Name: "alice",
		Host: stack.Alice.RPCHost, TLSCertPath: stack.Alice.TLSCertPath,
		MacaroonPath: stack.Alice.AdminMacaroonPath})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	mac, err := macaroons.Bake(ctx, admin, "pay-only")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pay-only.macaroon")
	if err := macaroons.WriteSecretFile(path, mac, false); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServeEnv runs `l402 serve` with the config and extra environment,
// and returns its address once it listens (LNC may take a while).
func startServeEnv(t *testing.T, cfg string, env ...string) string {
	t.Helper()
	addr, _ := serveIn(t, t.TempDir(), cfg, env...)
	return addr
}

// lncServeYAML is a TLS serve.yaml selling backend at /weather for price
// sats, with the relay on, whose authenticator section is auth.
func lncServeYAML(listen, backend, auth string, price int64) string {
	return fmt.Sprintf(`listenaddr: %q
insecure: false
hashmail:
  enabled: true
authenticator:
%sservices:
  - name: weather
    hostregexp: ".*"
    pathregexp: "^/weather"
    address: %q
    protocol: http
    price: %d
`, listen, auth, strings.TrimPrefix(backend, "http://"), price)
}

// fetchResult is the part of `l402 fetch --json` the tests read.
type fetchResult struct {
	Paid      bool   `json:"l402_paid"`
	AmountSat int64  `json:"l402_amount_sat"`
	Body      string `json:"body"`
}

// fetchLNC runs `l402 fetch -k --json -v` with L402_HOME=home and extra
// environment, and returns the result, stderr and exit code.
func fetchLNC(t *testing.T, ctx context.Context, home, url string,
	env ...string) (fetchResult, string, int) {

	t.Helper()
	cmd := exec.CommandContext(ctx, binary, "fetch", "-k", "--json", "-v",
		"--max-cost", "100", url)
	cmd.Env = append(append(os.Environ(), "L402_HOME="+home), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var res fetchResult
	json.Unmarshal([]byte(out.String()), &res)
	return res, errOut.String(), code
}

// settledForToken checks that bob's lnd settled the invoice of the only
// token in home's store for amount sats.
func settledForToken(t *testing.T, ctx context.Context, home string,
	amount int64) {

	t.Helper()
	out, _, code := runL402(t, ctx, home, "tokens", "list", "--json")
	var views []map[string]any
	json.Unmarshal([]byte(out), &views)
	if code != 0 || len(views) != 1 {
		t.Fatalf("tokens: %d %s", code, out)
	}
	h, err := l402.ParseHash(views[0]["payment_hash"].(string))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := stack.Bob.Lnd().LookupInvoice(ctx, h)
	if err != nil || inv.State != lightning.InvoiceSettled ||
		inv.AmountPaidMsat != amount*1000 {
		t.Fatalf("bob's invoice %+v %v", inv, err)
	}
}

// weatherBackend is the API sold.
func weatherBackend(t *testing.T) string {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "sunny over lnc")
	}))
	t.Cleanup(backend.Close)
	return backend.URL
}

// TestItestServeLNCOwnRelay: one `l402 serve` runs the mailbox relay
// (hashmail.enabled) and reaches bob's lnd over LNC through that same
// relay, with the phrase from $L402_LNC_PHRASE: bob's node (behind a
// bridge, as behind Lightning Terminal) issues the real invoice of the
// challenge with its invoice-only macaroon, alice pays it with
// `l402 fetch`, and gets the content.
func TestItestServeLNCOwnRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	bridge := lncBridge(t, listen, stack.Bob, filepath.Join(
		invoiceOnlyMacDir(t), "invoice.macaroon"))

	cfg := lncServeYAML(listen, weatherBackend(t), fmt.Sprintf(
		"  network: regtest\n  mailboxaddress: %q\n  devserver: true\n",
		listen), 25)
	addr := startServeEnv(t, cfg, lightning.PhraseEnv+"="+bridge.Phrase)
	if bridge.Handshakes() == 0 {
		t.Fatal("serve listens without an LNC handshake")
	}

	home := buyerHome(t)
	res, stderr, code := fetchLNC(t, ctx, home, "https://"+addr+"/weather")
	if code != 0 || !res.Paid || res.AmountSat != 25 ||
		res.Body != "sunny over lnc" {
		t.Fatalf("fetch: %d %+v\n%s", code, res, stderr)
	}
	settledForToken(t, ctx, home, 25)
	t.Logf("serve issued bob's invoice over LNC through its own relay; " +
		"alice paid it")
}

// TestItestFetchLNC: `l402 serve` sells through bob directly and runs the
// relay; alice's lnd is reached only over LNC through it, with a pay-only
// macaroon. First `l402 fetch` with an lnc section and $L402_LNC_PHRASE
// pays; then `l402 setup --role buyer --lnc-phrase-stdin` pairs a second
// session, writes fetch.yaml with a 0600 phrase file, and `l402 fetch`
// pays with what setup wrote (resuming the stored session).
func TestItestFetchLNC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	auth := fmt.Sprintf("  network: regtest\n  lndhost: %q\n  tlspath: %q\n"+
		"  macdir: %q\n", stack.Bob.RPCHost, stack.Bob.TLSCertPath,
		invoiceOnlyMacDir(t))
	addr := startServeEnv(t, lncServeYAML("127.0.0.1:0", weatherBackend(t),
		auth, 31))
	url := "https://" + addr + "/weather"
	payOnly := payOnlyMacaroon(t)

	// fetch.yaml with an lnc section; the phrase from the environment.
	bridge := lncBridge(t, addr, stack.Alice, payOnly)
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "fetch.yaml"), []byte(fmt.Sprintf(
		"lnc:\n  mailboxaddress: %q\n  devserver: true\n", addr)), 0o600)
	env := lightning.PhraseEnv + "=" + bridge.Phrase
	res, stderr, code := fetchLNC(t, ctx, home, url, env)
	if code != 0 || !res.Paid || res.AmountSat != 31 ||
		res.Body != "sunny over lnc" {
		t.Fatalf("fetch over lnc: %d %+v\n%s", code, res, stderr)
	}
	if !strings.Contains(stderr, "connecting to the paying node over LNC "+
		"via "+addr) || strings.Contains(stderr, bridge.Phrase) {
		t.Fatalf("fetch's progress:\n%s", stderr)
	}
	settledForToken(t, ctx, home, 31)

	// The token is reused: no payment, and no LNC connection either.
	res, stderr, code = fetchLNC(t, ctx, home, url, env)
	if code != 0 || res.Paid || strings.Contains(stderr, "over LNC") {
		t.Fatalf("second fetch: %d %+v\n%s", code, res, stderr)
	}

	// l402 setup pairs a new session from stdin and writes fetch.yaml.
	bridge2 := lncBridge(t, addr, stack.Alice, payOnly)
	home2 := t.TempDir()
	setup := exec.CommandContext(ctx, binary, "setup", "--role", "buyer",
		"--lnc-phrase-stdin", "--mailbox", addr, "--lnc-devserver", "--json")
	setup.Env = append(os.Environ(), "L402_HOME="+home2)
	setup.Stdin = strings.NewReader(bridge2.Phrase + "\n")
	out, err := setup.Output()
	if err != nil {
		t.Fatalf("setup: %v %s", err, out)
	}
	var rep struct {
		Lnd struct {
			Source, Alias, Network, Pubkey string
		} `json:"lnd"`
	}
	json.Unmarshal(out, &rep)
	if rep.Lnd.Source != "lnc" || rep.Lnd.Alias != "alice" ||
		rep.Lnd.Network != "regtest" || rep.Lnd.Pubkey != stack.Alice.Pubkey {
		t.Fatalf("setup's report: %s", out)
	}
	if strings.Contains(string(out), bridge2.Phrase) {
		t.Fatal("setup's report shows the phrase")
	}
	for _, name := range []string{"fetch.yaml", "lnc-fetch.phrase",
		"lnc-fetch.json"} {
		fi, err := os.Stat(filepath.Join(home2, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi, err)
		}
	}

	// Without the variable: the phrase file and the stored keys.
	res, stderr, code = fetchLNC(t, ctx, home2, url)
	if code != 0 || !res.Paid || res.Body != "sunny over lnc" {
		t.Fatalf("fetch after setup: %d %+v\n%s", code, res, stderr)
	}
	if bridge2.Handshakes() < 2 {
		t.Fatalf("%d handshakes: fetch did not resume setup's session",
			bridge2.Handshakes())
	}
	settledForToken(t, ctx, home2, 31)
	t.Logf("l402 fetch paid bob through alice's lnd over LNC, with " +
		"$L402_LNC_PHRASE and with what l402 setup wrote")
}
