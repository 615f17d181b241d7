//go:build itest

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/bake"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/regtest"
)

// bakeJSON runs `l402 bake ... --json` and decodes its result; the exit
// code must be 0.
func bakeJSON(t *testing.T, ctx context.Context, args ...string) bake.Baked {
	t.Helper()
	out, errOut, code := runL402(t, ctx, t.TempDir(),
		append(append([]string{"bake"}, args...), "--json")...)
	if code != 0 {
		t.Fatalf("bake %v: %d\n%s", args, code, errOut)
	}
	var res bake.Baked
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bake %v: %v: %s", args, err, out)
	}
	return res
}

// dialWith connects to a regtest node with a macaroon file.
func dialWith(t *testing.T, n *regtest.Node, macPath string) *lightning.Lnd {
	t.Helper()
	l, err := lightning.NewLnd(lightning.LndConfig{Name: n.Name,
		Host: n.RPCHost, TLSCertPath: n.TLSCertPath, MacaroonPath: macPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// checkSecretFile fails unless path is a file of mode 0600.
func checkSecretFile(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want mode 0600", path, fi, err)
	}
}

// TestItestBake is the test on regtest: `l402 bake invoice-only`
// on bob gives a macaroon that serve sells with and that lnd refuses for
// SendPaymentV2; `l402 bake pay-only` on alice gives one that fetch pays
// with and that lnd refuses for AddInvoice; an attenuated macaroon stops
// working after its timeout.
func TestItestBake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// invoice-only on bob, found from his lnd directory.
	invPath := filepath.Join(dir, "seller", "invoice.macaroon")
	inv := bakeJSON(t, ctx, "invoice-only", "--lnddir", stack.Bob.LndDir,
		"--save-to", invPath)
	if inv.Role != "invoice-only" || inv.Path != invPath ||
		inv.RootKeyID != 4021 || len(inv.Permissions) != 6 ||
		inv.Network != "regtest" || inv.MacaroonHex != "" ||
		inv.Revoke != "lncli deletemacaroonid 4021" {
		t.Fatalf("invoice-only: %+v", inv)
	}
	checkSecretFile(t, invPath)
	bob := dialWith(t, stack.Bob, invPath)
	if _, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 10, Memo: "bake itest"}); err != nil {
		t.Fatalf("invoice-only cannot add an invoice: %v", err)
	}
	aliceInv, err := stack.Alice.Lnd().AddInvoice(ctx,
		lightning.InvoiceRequest{AmountSat: 10, Memo: "not for bob"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.Pay(ctx, lightning.PayRequest{
		PaymentRequest: aliceInv.PaymentRequest, MaxFeeSat: 1,
		Timeout: 10 * time.Second})
	if !errors.Is(err, lightning.ErrPermissionDenied) {
		t.Fatalf("invoice-only paid: got %v, want permission denied", err)
	}

	// Baking again over the file is refused without --force.
	_, errOut, code := runL402(t, ctx, t.TempDir(), "bake", "invoice-only",
		"--lnddir", stack.Bob.LndDir, "--save-to", invPath, "--json")
	if code != 1 || !strings.Contains(errOut, `"code":"file_exists"`) {
		t.Fatalf("bake over a file: %d %s", code, errOut)
	}

	// pay-only on alice, found from lnd-host, lnd-tls and macaroon.
	payPath := filepath.Join(dir, "buyer", "pay-only.macaroon")
	pay := bakeJSON(t, ctx, "pay-only", "--lnd-host", stack.Alice.RPCHost,
		"--lnd-tls", stack.Alice.TLSCertPath, "--macaroon",
		stack.Alice.AdminMacaroonPath, "--save-to", payPath)
	if pay.Role != "pay-only" || pay.RootKeyID != 4022 {
		t.Fatalf("pay-only: %+v", pay)
	}
	checkSecretFile(t, payPath)
	_, err = dialWith(t, stack.Alice, payPath).AddInvoice(ctx,
		lightning.InvoiceRequest{AmountSat: 10})
	if !errors.Is(err, lightning.ErrPermissionDenied) {
		t.Fatalf("pay-only added an invoice: got %v, want permission "+
			"denied", err)
	}

	// serve sells with bob's baked macaroon; fetch pays with alice's.
	sellAndBuy(t, ctx, filepath.Dir(invPath), payPath)

	// An attenuated macaroon works until its timeout, then lnd refuses
	// it as expired.
	shortPath := filepath.Join(dir, "short.macaroon")
	out, errOut, code := runL402(t, ctx, t.TempDir(), "bake", "attenuate",
		invPath, "--timeout", "2s", "--ip", "127.0.0.1", "--out", shortPath,
		"--json")
	if code != 0 || !strings.Contains(out, "time-before ") {
		t.Fatalf("attenuate: %d %s\n%s", code, out, errOut)
	}
	checkSecretFile(t, shortPath)
	short := dialWith(t, stack.Bob, shortPath)
	if _, err := short.Info(ctx); err != nil {
		t.Fatalf("before its timeout: %v", err)
	}
	time.Sleep(3 * time.Second)
	_, err = short.Info(ctx)
	if !errors.Is(err, lightning.ErrMacaroonExpired) ||
		!errors.Is(err, lightning.ErrPermissionDenied) {
		t.Fatalf("after its timeout: got %v, want expired", err)
	}
	t.Logf("lnd refuses the attenuated macaroon: %v", err)
	out, _, _ = runL402(t, ctx, t.TempDir(), "bake", "inspect", shortPath,
		"--json")
	if !strings.Contains(out, `"expired":true`) ||
		!strings.Contains(out, `"role":"invoice-only"`) {
		t.Fatalf("inspect: %s", out)
	}
}

// sellAndBuy runs `l402 serve` on bob with the invoice.macaroon in
// macDir and `l402 fetch` on alice with the macaroon at payPath, and
// checks that fetch pays and gets the body.
func sellAndBuy(t *testing.T, ctx context.Context, macDir, payPath string) {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		io.WriteString(w, "baked and sold")
	}))
	defer backend.Close()
	cfg := stack.Bob.ServeYAML("baked", strings.TrimPrefix(backend.URL,
		"http://"), 12)
	cfg = strings.Replace(cfg, fmt.Sprintf("macdir: %q",
		stack.Bob.MacaroonDir), fmt.Sprintf("macdir: %q", macDir), 1)
	addr := startServeYAML(t, cfg)

	home := t.TempDir()
	fetchCfg := strings.Replace(stack.Alice.FetchYAML("maxcost: 20\n"),
		stack.Alice.AdminMacaroonPath, payPath, 1)
	if !strings.Contains(fetchCfg, payPath) {
		t.Fatalf("fetch.yaml does not use the baked macaroon: %s", fetchCfg)
	}
	if err := os.WriteFile(filepath.Join(home, "fetch.yaml"),
		[]byte(fetchCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runL402(t, ctx, home, "fetch", "--json",
		"http://"+addr+"/baked")
	var res map[string]any
	json.Unmarshal([]byte(out), &res)
	if code != 0 || res["l402_paid"] != true || res["body"] !=
		"baked and sold" {
		t.Fatalf("fetch with the baked macaroons: %d %s\n%s", code, out,
			errOut)
	}
}

// TestItestBakeNode covers bake's other ways to use the node: the
// default file in lnd's macaroon directory, --print-hex, the new roles,
// --custom methods checked against the node, and --list-permissions.
func TestItestBakeNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bobDir := []string{"--lnddir", stack.Bob.LndDir}

	// The default file is ROLE.macaroon in lnd's macaroon directory.
	def := filepath.Join(stack.Bob.MacaroonDir, "read-only.macaroon")
	t.Cleanup(func() { os.Remove(def) })
	ro := bakeJSON(t, ctx, append([]string{"read-only"}, bobDir...)...)
	if ro.Path != def || ro.RootKeyID != 4023 {
		t.Fatalf("read-only: %+v", ro)
	}
	checkSecretFile(t, def)
	if _, err := dialWith(t, stack.Bob, def).Info(ctx); err != nil {
		t.Fatal(err)
	}

	// The new roles bake on a real lnd; --print-hex writes no file.
	for _, role := range []string{"channel-admin", "signer-only"} {
		res := bakeJSON(t, ctx, append([]string{role, "--print-hex",
			"--root-key-id", "4099"}, bobDir...)...)
		if res.MacaroonHex == "" || res.Path != "" || res.RootKeyID != 4099 {
			t.Fatalf("%s: %+v", role, res)
		}
		if _, err := os.Stat(filepath.Join(stack.Bob.MacaroonDir,
			role+".macaroon")); err == nil {
			t.Fatalf("%s --print-hex wrote a file", role)
		}
	}

	// --custom: a method the node does not serve is named; one it
	// serves bakes.
	_, errOut, code := runL402(t, ctx, t.TempDir(), append([]string{
		"bake", "--custom", "/lnrpc.Lightning/GetInfo", "--custom",
		"/lnrpc.Lightning/getinfo2"}, bobDir...)...)
	if code != 2 || !strings.Contains(errOut, "/lnrpc.Lightning/getinfo2") {
		t.Fatalf("unknown custom method: %d %s", code, errOut)
	}
	customPath := filepath.Join(t.TempDir(), "info.macaroon")
	custom := bakeJSON(t, ctx, append([]string{"--custom",
		"/lnrpc.Lightning/GetInfo", "--save-to", customPath},
		bobDir...)...)
	if custom.Role != "custom" || custom.RootKeyID != 4020 ||
		len(custom.Permissions) != 1 {
		t.Fatalf("custom: %+v", custom)
	}
	info := dialWith(t, stack.Bob, customPath)
	if _, err := info.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := info.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 1}); !errors.Is(err, lightning.ErrPermissionDenied) {
		t.Fatalf("custom GetInfo added an invoice: %v", err)
	}

	// --list-permissions asks the node.
	out, errOut, code := runL402(t, ctx, t.TempDir(), append([]string{
		"bake", "--list-permissions", "--json"}, bobDir...)...)
	var methods []bake.MethodInfo
	if err := json.Unmarshal([]byte(out), &methods); err != nil ||
		code != 0 {
		t.Fatalf("--list-permissions: %d %v\n%s", code, err, errOut)
	}
	found := false
	for _, m := range methods {
		if m.Method == "/lnrpc.Lightning/AddInvoice" {
			found = len(m.Permissions) > 0
		}
	}
	if !found {
		t.Fatalf("--list-permissions lacks AddInvoice: %s", out)
	}

	// A wrong network is exit 3, as in setup.
	_, errOut, code = runL402(t, ctx, t.TempDir(), append([]string{
		"bake", "pay-only", "--network", "mainnet", "--print-hex"},
		bobDir...)...)
	if code != 3 {
		t.Fatalf("wrong network: %d %s", code, errOut)
	}
}
