package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/regtest"
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
// through internal/lightning, then buys from bob's l402 serve with l402
// fetch, printing each step.
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
		"by l402 fetch from l402 serve")
	return nil
}

// demoFetch builds l402 and runs the README's recipes: bob `l402 setup
// --role seller` and `l402 serve` in front of a small backend, alice
// `l402 setup --role buyer` and `l402 fetch`: the first fetch pays, the
// second reuses the token.
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

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		_ *http.Request) {
		fmt.Fprintln(w, `{"city":"regtest","sky":"clear"}`)
	}))
	defer backend.Close()

	sellerHome := filepath.Join(dir, "seller")
	buyerHome := filepath.Join(dir, "buyer")
	// The README's commands, exactly; only the environment says where
	// each node's lnd and l402 directories are.
	run := func(home, lndDir string, args ...string) error {
		step("%s: l402 %s", map[string]string{sellerHome: "bob",
			buyerHome: "alice"}[home], strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "L402_HOME="+home,
			"LND_DIR="+lndDir)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}
	upstream := strings.TrimPrefix(backend.URL, "http://")
	setupArgs := []string{"setup", "--role", "seller", "--upstream",
		upstream, "--price", "100"}
	if port := freePortIfBusy(8081); port != 0 {
		setupArgs = append(setupArgs, "--port", strconv.Itoa(port))
	}
	if err := run(sellerHome, s.Bob.LndDir, setupArgs...); err != nil {
		return fmt.Errorf("l402 setup (seller): %w", err)
	}

	step("bob: l402 serve")
	serveCmd := exec.CommandContext(ctx, bin, "serve")
	serveCmd.Env = append(os.Environ(), "L402_HOME="+sellerHome)
	stderr, err := serveCmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := serveCmd.Start(); err != nil {
		return err
	}
	defer func() {
		serveCmd.Process.Signal(os.Interrupt)
		serveCmd.Wait()
	}()
	addr, err := regtest.WaitServeListening(stderr, func(line string) {
		fmt.Fprintf(os.Stderr, "    serve: %s\n", line)
	}, 30*time.Second)
	if err != nil {
		return err
	}
	// serve's certificate is self-signed: the buyer passes -k.
	url := "https://" + addr + "/weather"

	if err := run(buyerHome, s.Alice.LndDir, "setup", "--role",
		"buyer"); err != nil {
		return fmt.Errorf("l402 setup (buyer): %w", err)
	}
	for i, what := range []string{"pays", "reuses the token"} {
		step("alice: l402 fetch --max-cost 100 -k --json %s (%s)", url,
			what)
		cmd := exec.CommandContext(ctx, bin, "fetch", "--max-cost", "100",
			"-k", "--json", url)
		cmd.Env = append(os.Environ(), "L402_HOME="+buyerHome)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("l402 fetch (run %d): %w", i+1, err)
		}
		fmt.Printf("    %s", out)
	}

	step("alice: l402 tokens list")
	cmd := exec.CommandContext(ctx, bin, "tokens", "list")
	cmd.Env = append(os.Environ(), "L402_HOME="+buyerHome)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// freePortIfBusy returns 0 when port is free on localhost, else another
// port that is.
func freePortIfBusy(port int) int {
	if ln, err := net.Listen("tcp", "localhost:"+strconv.Itoa(port)); err == nil {
		ln.Close()
		return 0
	}
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		return 0
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
