package lightning

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// newPair returns a buyer and a seller on one memory network.
func newPair(t *testing.T) (*MemoryNode, *MemoryNode) {
	t.Helper()
	net := NewMemoryNetwork()
	buyer, err := net.NewNode("buyer", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	seller, err := net.NewNode("seller", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	return buyer, seller
}

func TestMemoryPayment(t *testing.T) {
	ctx := context.Background()
	buyer, seller := newPair(t)

	inv, err := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 100,
		Memo: "test", Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(inv.PaymentRequest, "lnbcrt1u1") {
		t.Fatalf("payment request %q is not a 100 sat regtest invoice",
			inv.PaymentRequest)
	}

	// A full zpay32 decode, by both paths.
	req, err := DecodeInvoice(inv.PaymentRequest, "regtest")
	if err != nil {
		t.Fatal(err)
	}
	req2, err := buyer.DecodePayReq(ctx, inv.PaymentRequest)
	if err != nil {
		t.Fatal(err)
	}
	if req != req2 {
		t.Fatalf("decodes differ: %+v %+v", req, req2)
	}
	if req.AmountMsat != 100_000 || req.PaymentHash != inv.PaymentHash ||
		req.Destination != seller.Pubkey() || req.Description != "test" ||
		req.Expiry != time.Hour {
		t.Fatalf("decoded %+v", req)
	}

	p, err := buyer.Pay(ctx, PayRequest{PaymentRequest: inv.PaymentRequest,
		MaxFeeSat: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != PaymentSucceeded || p.Preimage.Hash() != inv.PaymentHash {
		t.Fatalf("payment %+v", p)
	}

	got, err := seller.LookupInvoice(ctx, inv.PaymentHash)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != InvoiceSettled || got.AmountPaidMsat != 100_000 ||
		got.Memo != "test" {
		t.Fatalf("invoice %+v", got)
	}

	tracked, err := buyer.TrackPayment(ctx, inv.PaymentHash)
	if err != nil || tracked.Preimage != p.Preimage {
		t.Fatalf("track: %+v %v", tracked, err)
	}

	// Paying twice is refused, as lnd refuses it.
	if _, err := buyer.Pay(ctx, PayRequest{
		PaymentRequest: inv.PaymentRequest}); !errors.Is(err,
		ErrAlreadyPaid) {
		t.Fatalf("second payment: %v", err)
	}
}

func TestMemoryRefusals(t *testing.T) {
	ctx := context.Background()
	buyer, seller := newPair(t)
	net := buyer.net
	testnet, err := net.NewNode("testnet", "testnet")
	if err != nil {
		t.Fatal(err)
	}

	amountless, _ := seller.AddInvoice(ctx, InvoiceRequest{})
	if _, err := buyer.Pay(ctx, PayRequest{
		PaymentRequest: amountless.PaymentRequest}); err == nil {
		t.Fatal("amountless invoice paid")
	}

	wrongNet, _ := testnet.AddInvoice(ctx, InvoiceRequest{AmountSat: 1})
	_, err = buyer.Pay(ctx, PayRequest{PaymentRequest: wrongNet.PaymentRequest})
	if err == nil || !strings.Contains(err.Error(), "testnet") {
		t.Fatalf("testnet invoice: %v", err)
	}

	expired, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 1,
		Expiry: time.Second})
	buyer.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	if _, err := buyer.Pay(ctx, PayRequest{
		PaymentRequest: expired.PaymentRequest}); err == nil ||
		!strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired invoice: %v", err)
	}
	buyer.SetClock(time.Now)

	costly, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 1})
	buyer.SetPayHook(func(PayReq) PayOutcome {
		return PayOutcome{FeeMsat: 5_000}
	})
	p, err := buyer.Pay(ctx, PayRequest{PaymentRequest: costly.PaymentRequest,
		MaxFeeSat: 4})
	if !errors.Is(err, ErrPaymentFailed) || p.Status != PaymentFailed {
		t.Fatalf("fee above limit: %+v %v", p, err)
	}
	inv, _ := seller.LookupInvoice(ctx, costly.PaymentHash)
	if inv.State != InvoiceOpen {
		t.Fatalf("failed payment settled the invoice: %v", inv.State)
	}

	// A failed payment may be tried again.
	buyer.SetPayHook(nil)
	if _, err := buyer.Pay(ctx, PayRequest{
		PaymentRequest: costly.PaymentRequest, MaxFeeSat: 4}); err != nil {
		t.Fatalf("retry after failure: %v", err)
	}

	if _, err := seller.LookupInvoice(ctx, l402.Hash{1}); !errors.Is(err,
		ErrInvoiceNotFound) {
		t.Fatalf("unknown invoice: %v", err)
	}
	if _, err := buyer.TrackPayment(ctx, l402.Hash{1}); !errors.Is(err,
		ErrPaymentNotFound) {
		t.Fatalf("unknown payment: %v", err)
	}
}

func TestMemoryHeldPayment(t *testing.T) {
	buyer, seller := newPair(t)
	inv, _ := seller.AddInvoice(context.Background(),
		InvoiceRequest{AmountSat: 5})
	buyer.SetPayHook(func(PayReq) PayOutcome { return PayOutcome{Hold: true} })

	ctx, cancel := context.WithTimeout(context.Background(),
		50*time.Millisecond)
	defer cancel()
	p, err := buyer.Pay(ctx, PayRequest{PaymentRequest: inv.PaymentRequest})
	if !errors.Is(err, context.DeadlineExceeded) ||
		p.Status != PaymentInFlight {
		t.Fatalf("held payment: %+v %v", p, err)
	}
	if _, err := buyer.Pay(context.Background(), PayRequest{
		PaymentRequest: inv.PaymentRequest}); !errors.Is(err,
		ErrPaymentInFlight) {
		t.Fatalf("paying an in-flight hash again: %v", err)
	}

	// Tracking waits for the outcome.
	done := make(chan Payment)
	go func() {
		p, _ := buyer.TrackPayment(context.Background(), inv.PaymentHash)
		done <- p
	}()
	if !buyer.Release(inv.PaymentHash, PayOutcome{}) {
		t.Fatal("nothing was held")
	}
	got := <-done
	if got.Status != PaymentSucceeded ||
		got.Preimage.Hash() != inv.PaymentHash {
		t.Fatalf("tracked %+v", got)
	}
}

func TestInvoiceNetworks(t *testing.T) {
	tests := map[string]string{
		"lnbcrt1u1xyz": "regtest",
		"lnbc1u1xyz":   "mainnet",
		"LNBC1U1XYZ":   "mainnet",
		"lntbs1u1x":    "signet",
		"lntb1u1x":     "testnet4,testnet",
		"lnsb1u1x":     "simnet",
	}
	for in, want := range tests {
		got, err := InvoiceNetworks(in)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "bc1q", "lnxyz"} {
		if _, err := InvoiceNetworks(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := DecodeInvoice("lnbcrt1garbage", "regtest"); err == nil {
		t.Error("garbage decoded")
	}
	if _, err := DecodeInvoice("lnbcrt1x", "moon"); err == nil {
		t.Error("unknown network accepted")
	}
}

// TestMemoryHookMayUseTheNode: a pay hook runs without the node's lock.
func TestMemoryHookMayUseTheNode(t *testing.T) {
	buyer, seller := newPair(t)
	ctx := context.Background()
	inv, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 3})
	buyer.SetPayHook(func(pr PayReq) PayOutcome {
		if _, err := buyer.Info(ctx); err != nil {
			t.Error(err)
		}
		buyer.SetClock(time.Now)
		return PayOutcome{}
	})
	done := make(chan error)
	go func() {
		_, err := buyer.Pay(ctx, PayRequest{PaymentRequest: inv.PaymentRequest})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pay hook deadlocked")
	}
}

// TestMemoryReleaseOnce: concurrent releases settle a held payment once,
// and a payment that was never held cannot be released.
func TestMemoryReleaseOnce(t *testing.T) {
	buyer, seller := newPair(t)
	ctx := context.Background()
	inv, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 3})
	buyer.SetPayHook(func(PayReq) PayOutcome { return PayOutcome{Hold: true} })
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	buyer.Pay(short, PayRequest{PaymentRequest: inv.PaymentRequest})
	cancel()

	results := make(chan bool, 8)
	for i := 0; i < 8; i++ {
		go func() { results <- buyer.Release(inv.PaymentHash, PayOutcome{}) }()
	}
	released := 0
	for i := 0; i < 8; i++ {
		if <-results {
			released++
		}
	}
	p, _ := buyer.TrackPayment(ctx, inv.PaymentHash)
	got, _ := seller.LookupInvoice(ctx, inv.PaymentHash)
	if released != 1 || p.Status != PaymentSucceeded ||
		got.State != InvoiceSettled {
		t.Fatalf("released %d, payment %v, invoice %v", released, p.Status,
			got.State)
	}

	buyer.SetPayHook(nil)
	other, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 3})
	buyer.Pay(ctx, PayRequest{PaymentRequest: other.PaymentRequest})
	if buyer.Release(other.PaymentHash, PayOutcome{FailureReason: "x"}) {
		t.Fatal("released a payment that was never held")
	}
}

// TestMemoryRefusesBeforeStarting: what lnd's SendPaymentV2 refuses before
// it creates the payment (an expired or amountless invoice, a payment to
// the node itself, a refusal a hook asks for) is ErrPaymentNotStarted,
// and leaves no payment to track.
func TestMemoryRefusesBeforeStarting(t *testing.T) {
	ctx := context.Background()
	buyer, seller := newPair(t)

	own, _ := buyer.AddInvoice(ctx, InvoiceRequest{AmountSat: 1})
	amountless, _ := seller.AddInvoice(ctx, InvoiceRequest{})
	expired, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 1,
		Expiry: time.Second})
	refused, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 1})
	buyer.SetPayHook(func(pr PayReq) PayOutcome {
		if pr.PaymentHash == refused.PaymentHash {
			return PayOutcome{Refuse: "the AMP flag must be set"}
		}
		return PayOutcome{}
	})
	later := time.Now().Add(time.Hour)

	for _, tc := range []struct {
		name string
		inv  Invoice
		now  time.Time
		want string
	}{
		{"self-payment", own, time.Now(), "self-payments not allowed"},
		{"no amount", amountless, time.Now(), "amount must be specified"},
		{"expired", expired, later, "invoice expired"},
		{"hook", refused, time.Now(), "the AMP flag must be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buyer.SetClock(func() time.Time { return tc.now })
			defer buyer.SetClock(time.Now)
			p, err := buyer.Pay(ctx, PayRequest{
				PaymentRequest: tc.inv.PaymentRequest})
			if !errors.Is(err, ErrPaymentNotStarted) ||
				errors.Is(err, ErrPaymentFailed) ||
				!strings.Contains(err.Error(), tc.want) ||
				p.Status != PaymentUnknown {
				t.Fatalf("got %+v %v, want ErrPaymentNotStarted: %s", p,
					err, tc.want)
			}
			if _, err := buyer.TrackPayment(ctx,
				tc.inv.PaymentHash); !errors.Is(err, ErrPaymentNotFound) {
				t.Fatalf("a payment refused at once is tracked: %v", err)
			}
		})
	}

	// A failure once under way is not one of them.
	buyer.SetPayHook(func(PayReq) PayOutcome {
		return PayOutcome{FailureReason: "FAILURE_REASON_NO_ROUTE"}
	})
	inv, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 1})
	_, err := buyer.Pay(ctx, PayRequest{PaymentRequest: inv.PaymentRequest})
	if !errors.Is(err, ErrPaymentFailed) ||
		errors.Is(err, ErrPaymentNotStarted) {
		t.Fatalf("a failed payment: %v", err)
	}
}

// TestMemoryChannels: a memory node lists its one default channel, or
// those SetChannels gives, sums them in ChannelBalance, refuses the calls
// Deny names as a macaroon would, and says what SetSynced set.
func TestMemoryChannels(t *testing.T) {
	ctx := context.Background()
	n, _ := newPair(t)
	chs, err := n.ListChannels(ctx)
	if err != nil || len(chs) != 1 || chs[0] != DefaultMemoryChannel {
		t.Fatalf("default channels %+v %v", chs, err)
	}
	n.SetChannels([]Channel{{ChanID: 1, Active: true, LocalBalanceSat: 5,
		RemoteBalanceSat: 1}, {ChanID: 2, LocalBalanceSat: 7}})
	if b, err := n.ChannelBalance(ctx); err != nil ||
		b != (ChannelBalance{LocalMsat: 12_000, RemoteMsat: 1000}) {
		t.Fatalf("balance %+v %v", b, err)
	}
	n.Deny("ListChannels")
	if _, err := n.ListChannels(ctx); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("denied ListChannels: %v", err)
	}
	if _, err := n.ChannelBalance(ctx); err != nil {
		t.Fatalf("ChannelBalance not denied: %v", err)
	}
	n.SetSynced(false)
	if info, err := n.Info(ctx); err != nil || info.Synced {
		t.Fatalf("info %+v %v", info, err)
	}
}

// TestMemoryPaysAmountlessInvoices pays an invoice without an amount with
// the amount the payer names, as a session refund does, and refuses an
// amount for an invoice that has one, as lnd does.
func TestMemoryPaysAmountlessInvoices(t *testing.T) {
	buyer, seller := newPair(t)
	ctx := context.Background()
	open, _ := seller.AddInvoice(ctx, InvoiceRequest{})
	if _, err := buyer.Pay(ctx, PayRequest{
		PaymentRequest: open.PaymentRequest}); err == nil {
		t.Fatal("an amountless invoice was paid without an amount")
	}
	p, err := buyer.Pay(ctx, PayRequest{PaymentRequest: open.PaymentRequest,
		AmountSat: 7})
	if err != nil || p.Status != PaymentSucceeded || p.ValueMsat != 7000 {
		t.Fatalf("amountless payment: %+v %v", p, err)
	}
	inv, _ := seller.LookupInvoice(ctx, open.PaymentHash)
	if inv.State != InvoiceSettled || inv.AmountPaidMsat != 7000 {
		t.Fatalf("the payee's invoice: %+v", inv)
	}

	fixed, _ := seller.AddInvoice(ctx, InvoiceRequest{AmountSat: 5})
	if _, err := buyer.Pay(ctx, PayRequest{
		PaymentRequest: fixed.PaymentRequest, AmountSat: 9}); err == nil {
		t.Fatal("an amount was accepted for an invoice that has one")
	}
}
