package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/regtest"
	"github.com/l402/l402/internal/testpaywall"
)

// start brings up a stack in a fresh temporary directory, logging to
// stderr.
func start(ctx context.Context) (*regtest.Stack, error) {
	return regtest.Start(ctx, regtest.Options{Log: os.Stderr})
}

// up brings up the stack, prints its environment on stdout as shell
// assignments, and keeps it running until interrupted.
func up(ctx context.Context) error {
	s, err := start(ctx)
	if err != nil {
		return err
	}
	defer s.Stop()

	fmt.Printf("export L402_REGTEST_DIR=%s\n", s.Dir)
	fmt.Printf("export BTCD_RPC=%s BTCD_CERT=%s BTCD_USER=%s BTCD_PASS=%s\n",
		s.Btcd.RPCHost, s.Btcd.CertPath, s.Btcd.User, s.Btcd.Pass)
	for _, n := range []*regtest.Node{s.Alice, s.Bob} {
		p := map[string]string{"alice": "ALICE", "bob": "BOB"}[n.Name]
		fmt.Printf("export %s_LNDDIR=%s %s_RPC=%s %s_TLS=%s "+
			"%s_MACAROON=%s %s_PUBKEY=%s\n", p, n.LndDir, p, n.RPCHost, p,
			n.TLSCertPath, p, n.AdminMacaroonPath, p, n.Pubkey)
	}
	fmt.Fprintln(os.Stderr, "regtest: running; press Ctrl-C to stop")

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "regtest: stopping")
	return nil
}

// demo brings up the stack, makes one real payment from alice to bob
// through internal/lightning, then buys from bob with l402 fetch, printing
// each step.
func demo(ctx context.Context) error {
	step := func(format string, args ...any) {
		fmt.Printf("==> "+format+"\n", args...)
	}

	step("bringing up regtest: btcd, alice (buyer), bob (seller), " +
		"a channel alice -> bob")
	began := time.Now()
	s, err := start(ctx)
	if err != nil {
		return err
	}
	defer s.Stop()
	step("stack up in %s", time.Since(began).Round(time.Millisecond))

	alice, bob := s.Alice.Lnd(), s.Bob.Lnd()

	const amount = 100
	inv, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: amount,
		Memo:      "l402 demo",
		Expiry:    10 * time.Minute,
	})
	if err != nil {
		return err
	}
	step("bob issued an invoice for %d sat: %s", amount, inv.PaymentRequest)

	req, err := lightning.DecodeInvoice(inv.PaymentRequest, regtest.Network)
	if err != nil {
		return err
	}
	step("alice decoded it: %d msat to %s, payment hash %s",
		req.AmountMsat, req.Destination, req.PaymentHash)

	pay, err := alice.Pay(ctx, lightning.PayRequest{
		PaymentRequest: inv.PaymentRequest,
		MaxFeeSat:      10,
		Timeout:        30 * time.Second,
	})
	if err != nil {
		return err
	}
	step("alice paid: status %s, fee %d msat, preimage %s", pay.Status,
		pay.FeeMsat, pay.Preimage)

	sum := sha256.Sum256(pay.Preimage[:])
	if hex.EncodeToString(sum[:]) != inv.PaymentHash.String() {
		return fmt.Errorf("preimage does not hash to the payment hash")
	}
	step("sha256(preimage) = %x matches the invoice's payment hash", sum)

	got, err := bob.LookupInvoice(ctx, inv.PaymentHash)
	if err != nil {
		return err
	}
	if got.State != lightning.InvoiceSettled {
		return fmt.Errorf("bob's invoice is %s, not settled", got.State)
	}
	step("bob's invoice is %s: %d msat received", got.State,
		got.AmountPaidMsat)

	if err := demoFetch(ctx, s, step); err != nil {
		return err
	}
	step("demo done: real Lightning payments on regtest, the last one " +
		"through l402 fetch")
	return nil
}

// demoFetch runs the l402 binary's fetch, paying through alice, against a
// minimal L402 seller backed by bob's lnd (until l402 serve exists), twice:
// the first run pays, the second reuses the token.
func demoFetch(ctx context.Context, s *regtest.Stack,
	step func(string, ...any)) error {

	dir, err := os.MkdirTemp("", "l402-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "l402")
	step("building l402")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/l402")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("unable to build l402 (run the demo from the "+
			"repository root): %w", err)
	}

	bob, err := lightning.NewLnd(lightning.LndConfig{Name: "bob",
		Host: s.Bob.RPCHost, TLSCertPath: s.Bob.TLSCertPath,
		MacaroonPath: s.Bob.InvoiceMacaroonPath})
	if err != nil {
		return err
	}
	defer bob.Close()
	srv := httptest.NewServer(testpaywall.New(bob, 100))
	defer srv.Close()
	url := srv.URL + "/weather"
	step("bob sells %s for 100 sat (a minimal L402 seller on bob's lnd, "+
		"with his invoice-only macaroon)", url)

	home := filepath.Join(dir, "home")
	cfg := fmt.Sprintf("lnd:\n  host: %s\n  tlscertpath: %s\n"+
		"  macaroonpath: %s\n", s.Alice.RPCHost, s.Alice.TLSCertPath,
		s.Alice.AdminMacaroonPath)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(home, "fetch.yaml"), []byte(cfg),
		0o600); err != nil {
		return err
	}

	for i, what := range []string{"pays", "reuses the token"} {
		step("alice: l402 fetch --max-cost 100 --json %s (%s)", url, what)
		cmd := exec.CommandContext(ctx, bin, "fetch", "--max-cost", "100",
			"--json", url)
		cmd.Env = append(os.Environ(), "L402_HOME="+home)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("l402 fetch (run %d): %w", i+1, err)
		}
		fmt.Printf("    %s", out)
	}

	step("alice: l402 tokens list")
	cmd := exec.CommandContext(ctx, bin, "tokens", "list")
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
