//go:build itest

package lightning_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/regtest"
)

// dial connects to a regtest node with one of its macaroons.
func dial(t *testing.T, n *regtest.Node, macaroon string) *lightning.Lnd {
	t.Helper()
	l, err := lightning.NewLnd(lightning.LndConfig{
		Name:         n.Name,
		Host:         n.RPCHost,
		TLSCertPath:  n.TLSCertPath,
		MacaroonPath: macaroon,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestItestPayInvoice: bob adds an invoice, alice decodes and pays it, the
// preimage's hash matches and bob's invoice is settled.
func TestItestPayInvoice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The seller only needs the invoice macaroon.
	bob := dial(t, stack.Bob, stack.Bob.InvoiceMacaroonPath)
	alice := dial(t, stack.Alice, stack.Alice.AdminMacaroonPath)

	info, err := alice.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Network != regtest.Network || info.Pubkey != stack.Alice.Pubkey ||
		!info.Synced {
		t.Fatalf("alice's info %+v", info)
	}

	inv, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{AmountSat: 250,
		Memo: "l402 itest", Expiry: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	req, err := alice.DecodePayReq(ctx, inv.PaymentRequest)
	if err != nil {
		t.Fatal(err)
	}
	local, err := lightning.DecodeInvoice(inv.PaymentRequest, regtest.Network)
	if err != nil {
		t.Fatal(err)
	}
	if req.AmountMsat != 250_000 || req.PaymentHash != inv.PaymentHash ||
		req.Destination != stack.Bob.Pubkey || req.Network != "regtest" ||
		req.Description != "l402 itest" || req.Expiry != 10*time.Minute {
		t.Fatalf("lnd decoded %+v", req)
	}
	// lnd's DecodePayReq does not report the BOLT 11 reader's facts
	// (payment secret, unknown required features, signature form); fetch
	// vets those with the local decode, which must find lnd's own invoice
	// sound.
	common := local
	common.PaymentSecret, common.UnknownRequired, common.HighS = false, "",
		false
	if common != req {
		t.Fatalf("internal/bolt11 and lnd decode differently:\n%+v\n%+v", local,
			req)
	}
	if !local.PaymentSecret || local.HighS || local.UnknownRequired != "" {
		t.Fatalf("lnd's invoice does not pass the BOLT 11 reader: %+v",
			local)
	}

	p, err := alice.Pay(ctx, lightning.PayRequest{PaymentRequest: inv.PaymentRequest,
		MaxFeeSat: 10, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != lightning.PaymentSucceeded || p.Preimage.Hash() != inv.PaymentHash ||
		p.ValueMsat != 250_000 {
		t.Fatalf("payment %+v", p)
	}
	t.Logf("paid a real regtest invoice: hash %s preimage %s fee %d msat",
		inv.PaymentHash, p.Preimage, p.FeeMsat)

	got, err := bob.LookupInvoice(ctx, inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lightning.InvoiceSettled || got.AmountPaidMsat != 250_000 ||
		got.Memo != inv.Memo || inv.Memo == "" {
		t.Fatalf("bob's invoice %+v", got)
	}

	tracked, err := alice.TrackPayment(ctx, inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	if tracked.Status != lightning.PaymentSucceeded || tracked.Preimage != p.Preimage {
		t.Fatalf("tracked %+v", tracked)
	}

	// lnd refuses to pay the same hash twice.
	_, err = alice.Pay(ctx, lightning.PayRequest{PaymentRequest: inv.PaymentRequest,
		MaxFeeSat: 10})
	if !errors.Is(err, lightning.ErrAlreadyPaid) {
		t.Fatalf("second payment: %v", err)
	}
}

// TestItestErrors checks that lnd's refusals come back as the errors
// callers branch on, naming the node and the call.
func TestItestErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bobInvoice := dial(t, stack.Bob, stack.Bob.InvoiceMacaroonPath)
	alice := dial(t, stack.Alice, stack.Alice.AdminMacaroonPath)

	_, err := bobInvoice.LookupInvoice(ctx, l402.Hash{1})
	if !errors.Is(err, lightning.ErrInvoiceNotFound) {
		t.Fatalf("unknown invoice: %v", err)
	}
	var ce *lightning.CallError
	if !errors.As(err, &ce) || ce.Node != "bob" || ce.Call != "LookupInvoice" {
		t.Fatalf("error does not name node and call: %v", err)
	}

	_, err = alice.TrackPayment(ctx, l402.Hash{2})
	if !errors.Is(err, lightning.ErrPaymentNotFound) {
		t.Fatalf("unknown payment: %v", err)
	}

	// The invoice macaroon cannot pay.
	inv, err := alice.AddInvoice(ctx, lightning.InvoiceRequest{AmountSat: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bobInvoice.Pay(ctx, lightning.PayRequest{PaymentRequest: inv.PaymentRequest,
		MaxFeeSat: 1, Timeout: 10 * time.Second})
	if !errors.Is(err, lightning.ErrPermissionDenied) {
		t.Fatalf("pay with an invoice macaroon: %v", err)
	}

	// More than the channel holds fails as a payment, not as a call.
	big, err := bobInvoice.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 2 * regtest.ChannelSize})
	if err != nil {
		t.Fatal(err)
	}
	p, err := alice.Pay(ctx, lightning.PayRequest{PaymentRequest: big.PaymentRequest,
		MaxFeeSat: 10, Timeout: 10 * time.Second})
	if !errors.Is(err, lightning.ErrPaymentFailed) || p.Status != lightning.PaymentFailed ||
		p.FailureReason == "" {
		t.Fatalf("payment above capacity: %+v %v", p, err)
	}
	t.Logf("payment above capacity failed with %s", p.FailureReason)

	// A node that is not there fails within the call timeout.
	dead, err := lightning.NewLnd(lightning.LndConfig{Name: "nobody", Host: "127.0.0.1:1",
		TLSCertPath:  stack.Bob.TLSCertPath,
		MacaroonPath: stack.Bob.InvoiceMacaroonPath,
		CallTimeout:  2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if _, err := dead.Info(ctx); err == nil || !errors.As(err, &ce) ||
		ce.Node != "nobody" || ce.Call != "GetInfo" {
		t.Fatalf("unreachable node: %v", err)
	}
}
