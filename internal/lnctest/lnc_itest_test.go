//go:build itest

package lnctest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/hashmail"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnctest"
	"github.com/l402/l402/internal/regtest"
)

// startRelay serves l402's mailbox relay over TLS on 127.0.0.1 and returns
// its address and a TLS config that trusts it.
func startRelay(t *testing.T) (string, *tls.Config) {
	t.Helper()
	relay, err := hashmail.New(hashmail.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(relay.Handler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(func() {
		relay.Close()
		ts.Close()
	})
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return ts.Listener.Addr().String(), &tls.Config{RootCAs: pool}
}

// connectLNC puts a bridge in front of a regtest node's lnd with one of its
// macaroons and connects to it through the relay with the bridge's phrase.
func connectLNC(t *testing.T, relayAddr string, relayTLS *tls.Config,
	n *regtest.Node, macaroon string) *lightning.LNC {

	t.Helper()
	bridge, err := lnctest.Start(lnctest.Config{
		MailboxAddr:  relayAddr,
		MailboxTLS:   relayTLS,
		LndHost:      n.RPCHost,
		LndCertPath:  n.TLSCertPath,
		MacaroonPath: macaroon,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bridge.Close)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node, err := lightning.NewLNC(ctx, lightning.LNCConfig{
		Name:        n.Name + " over lnc",
		Phrase:      bridge.Phrase,
		MailboxAddr: relayAddr,
		DevServer:   true,
		Store: lightning.FileSessionStore{
			Path: filepath.Join(t.TempDir(), "lnc.json"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	return node
}

// TestItestLNCInvoiceFromBob: bob's real lnd, reached only through LNC and
// l402's own relay, issues an invoice with its invoice macaroon; alice pays
// it directly, and the lookup over LNC sees it settled.
func TestItestLNCInvoiceFromBob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	relayAddr, relayTLS := startRelay(t)
	bob := connectLNC(t, relayAddr, relayTLS, stack.Bob,
		stack.Bob.InvoiceMacaroonPath)

	inv, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{AmountSat: 321,
		Memo: "l402 lnc itest", Expiry: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := lightning.DecodeInvoice(inv.PaymentRequest,
		regtest.Network)
	if err != nil {
		t.Fatal(err)
	}
	if decoded.Destination != stack.Bob.Pubkey {
		t.Fatalf("the invoice over lnc is not bob's: %+v", decoded)
	}
	p, err := stack.Alice.Lnd().Pay(ctx, lightning.PayRequest{
		PaymentRequest: inv.PaymentRequest, MaxFeeSat: 10,
		Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p.Preimage.Hash() != inv.PaymentHash {
		t.Fatalf("payment %+v", p)
	}

	got, err := bob.LookupInvoice(ctx, inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lightning.InvoiceSettled || got.AmountPaidMsat != 321_000 {
		t.Fatalf("bob's invoice over lnc: %+v", got)
	}

	// The invoice macaroon that the bridge handed over cannot even ask
	// for the node's info, and lnd's refusal arrives through LNC as the
	// usual error.
	if _, err := bob.Info(ctx); !errors.Is(err,
		lightning.ErrPermissionDenied) {
		t.Fatalf("GetInfo with the invoice macaroon over lnc: %v", err)
	}
}

// TestItestLNCAlicePays: alice's real lnd, reached only through LNC, decodes
// and pays bob's invoice (a streaming call through the bridge) and tracks
// the payment.
func TestItestLNCAlicePays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	relayAddr, relayTLS := startRelay(t)
	alice := connectLNC(t, relayAddr, relayTLS, stack.Alice,
		stack.Alice.AdminMacaroonPath)

	inv, err := stack.Bob.Lnd().AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 123, Memo: "paid over lnc"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := alice.DecodePayReq(ctx, inv.PaymentRequest)
	if err != nil {
		t.Fatal(err)
	}
	if req.AmountMsat != 123_000 || req.Destination != stack.Bob.Pubkey {
		t.Fatalf("decoded over lnc: %+v", req)
	}

	p, err := alice.Pay(ctx, lightning.PayRequest{
		PaymentRequest: inv.PaymentRequest, MaxFeeSat: 10,
		Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != lightning.PaymentSucceeded ||
		p.Preimage.Hash() != inv.PaymentHash {
		t.Fatalf("payment over lnc: %+v", p)
	}
	tracked, err := alice.TrackPayment(ctx, inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	if tracked.Status != lightning.PaymentSucceeded ||
		tracked.Preimage != p.Preimage {
		t.Fatalf("tracked over lnc: %+v", tracked)
	}
	got, err := stack.Bob.Lnd().LookupInvoice(ctx, inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lightning.InvoiceSettled {
		t.Fatalf("bob's invoice: %+v", got)
	}
}
