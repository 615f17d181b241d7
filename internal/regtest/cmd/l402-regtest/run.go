package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
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

// demo brings up the stack and makes one real payment from alice to bob
// through internal/lightning, printing each step.
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
	step("demo done: one real Lightning payment on regtest")
	return nil
}
