package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
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

// demoFetch builds l402 and runs the README's recipes: bob sells a small
// JSON API with setup and serve, alice buys it with setup and fetch, then
// fetches again on the stored token and lists it.
func demoFetch(ctx context.Context, s *regtest.Stack,
	step func(string, ...any)) error {

	dir, err := os.MkdirTemp("", "l402-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d := &demoRun{ctx: ctx, step: step, bin: filepath.Join(dir, "l402"),
		seller: filepath.Join(dir, "seller"),
		buyer:  filepath.Join(dir, "buyer")}
	if err := d.build(); err != nil {
		return err
	}

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		_ *http.Request) {
		fmt.Fprintln(w, `{"city":"regtest","sky":"clear"}`)
	}))
	defer backend.Close()

	upstream := strings.TrimPrefix(backend.URL, "http://")
	setupArgs := []string{"setup", "--role", "seller", "--upstream",
		upstream, "--price", "100"}
	if port := freePortIfBusy(8081); port != 0 {
		setupArgs = append(setupArgs, "--port", strconv.Itoa(port))
	}
	if err := d.run(d.seller, s.Bob.LndDir, setupArgs...); err != nil {
		return fmt.Errorf("l402 setup (seller): %w", err)
	}
	addr, stop, err := d.serve()
	if err != nil {
		return err
	}
	defer stop()

	if err := d.run(d.buyer, s.Alice.LndDir, "setup", "--role",
		"buyer"); err != nil {
		return fmt.Errorf("l402 setup (buyer): %w", err)
	}
	// serve's certificate is self-signed: the buyer passes -k.
	if err := d.fetchTwice("https://" + addr + "/weather"); err != nil {
		return err
	}
	step("alice: l402 tokens list")
	return d.command(d.buyer, "", os.Stdout, "tokens", "list").Run()
}

// demoRun is one demo: the l402 binary, and the l402 directories of the
// seller (bob) and the buyer (alice).
type demoRun struct {
	ctx           context.Context
	step          func(string, ...any)
	bin           string
	seller, buyer string
}

// build builds l402 from the checkout the demo runs in.
func (d *demoRun) build() error {
	d.step("building l402")
	build := exec.CommandContext(d.ctx, "go", "build", "-o", d.bin,
		"./cmd/l402")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("unable to build l402 (run the demo from the "+
			"repository root): %w", err)
	}
	return nil
}

// command is l402 with args, run as the user whose l402 directory is
// home, with lnd's directory in $LND_DIR when given. The README's
// commands are run exactly; only the environment says where things are.
func (d *demoRun) command(home, lndDir string, stdout io.Writer,
	args ...string) *exec.Cmd {

	cmd := exec.CommandContext(d.ctx, d.bin, args...)
	cmd.Env = append(os.Environ(), "L402_HOME="+home)
	if lndDir != "" {
		cmd.Env = append(cmd.Env, "LND_DIR="+lndDir)
	}
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	return cmd
}

// run runs one README command as bob or alice, saying so first.
func (d *demoRun) run(home, lndDir string, args ...string) error {
	who := map[string]string{d.seller: "bob", d.buyer: "alice"}[home]
	d.step("%s: l402 %s", who, strings.Join(args, " "))
	return d.command(home, lndDir, os.Stdout, args...).Run()
}

// serve starts bob's `l402 serve` and returns the address it listens on
// and a func that stops it.
func (d *demoRun) serve() (string, func(), error) {
	d.step("bob: l402 serve")
	serveCmd := d.command(d.seller, "", nil, "serve")
	serveCmd.Stderr = nil
	stderr, err := serveCmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := serveCmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		serveCmd.Process.Signal(os.Interrupt)
		serveCmd.Wait()
	}
	addr, err := regtest.WaitServeListening(stderr, func(line string) {
		fmt.Fprintf(os.Stderr, "    serve: %s\n", line)
	}, 30*time.Second)
	if err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

// fetchTwice has alice buy url, then fetch it again on the stored token.
func (d *demoRun) fetchTwice(url string) error {
	for i, what := range []string{"pays", "reuses the token"} {
		d.step("alice: l402 fetch --max-cost 100 -k --json %s (%s)", url,
			what)
		cmd := d.command(d.buyer, "", nil, "fetch", "--max-cost", "100",
			"-k", "--json", url)
		cmd.Stdout = nil
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("l402 fetch (run %d): %w", i+1, err)
		}
		fmt.Printf("    %s", out)
	}
	return nil
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
