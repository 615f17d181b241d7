package serve

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
)

// TestPrunePaymentsClosesIdleSessions: the pruner closes a session idle
// past the timeout and refunds its balance to the return invoice; later,
// the claims of expired challenges go.
func TestPrunePaymentsClosesIdleSessions(t *testing.T) {
	e := newPaymentEnv(t, "  enablesessions: true\n"+
		"  sessiondepositmultiplier: 4\n  sessionidletimeout: 60\n", "")
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	chs, _ := e.challenges(t, "/api/x")
	ch := chs[mpp.IntentSession]
	req, _ := mpp.DecodeSessionRequest(ch.Request)
	deposit := e.pay(t, req.DepositInvoice)
	ret, _ := e.buyer.AddInvoice(ctx, lightning.InvoiceRequest{})
	if resp, _ := e.get(t, "/api/x", sessionCred(t, ch, mpp.SessionPayload{
		Action: mpp.ActionOpen, Preimage: deposit.String(),
		ReturnInvoice: ret.PaymentRequest})); resp.StatusCode != 200 {
		t.Fatalf("open: %d", resp.StatusCode)
	}

	// Not idle yet: nothing happens.
	if err := prunePayments(ctx, e.store, e.h.payment,
		time.Unix(e.now.Load()+30, 0), e.metrics, log); err != nil {
		t.Fatal(err)
	}
	if paid, _ := e.buyer.LookupInvoice(ctx, ret.PaymentHash); paid.State !=
		lightning.InvoiceOpen {
		t.Fatalf("refunded before the timeout: %+v", paid)
	}

	e.now.Add(61)
	if err := prunePayments(ctx, e.store, e.h.payment,
		time.Unix(e.now.Load(), 0), e.metrics, log); err != nil {
		t.Fatal(err)
	}
	paid, _ := e.buyer.LookupInvoice(ctx, ret.PaymentHash)
	if paid.State != lightning.InvoiceSettled ||
		paid.AmountPaidMsat != 300_000 {
		t.Fatalf("idle refund: %+v, want the 300 sat left", paid)
	}
	info, _ := e.store.Session(ctx, [32]byte(mustHash(t, req.PaymentHash)))
	if info.Status != "closed" || info.RefundStatus != mpp.RefundSucceeded {
		t.Fatalf("idle session %+v", info)
	}
	if !strings.Contains(metricsText(e.metrics),
		`l402_payment_sessions_closed_total{service="api",why="idle"} 1`) {
		t.Fatalf("metrics:\n%s", metricsText(e.metrics))
	}

	// Once its challenge expired an hour ago, the deposit's claim goes.
	later := time.Unix(e.now.Load(), 0).Add(DefaultInvoiceExpiry +
		challengeGrace + claimRetention + time.Minute)
	if err := prunePayments(ctx, e.store, e.h.payment, later, e.metrics,
		log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metricsText(e.metrics),
		"l402_payment_claims_pruned_total 1") {
		t.Fatalf("claims not pruned:\n%s", metricsText(e.metrics))
	}
}

// TestReloadCannotSwitchPaymentOn: the Payment scheme's secret and node
// are set up at start, so a reload that turns it on is refused, naming
// the restart.
func TestReloadCannotSwitchPaymentOn(t *testing.T) {
	e := newAuthEnv(t)
	s := &server{auth: e.auth, metrics: NewMetrics(),
		opts: RunOptions{ConfigPath: "serve.yaml"},
		log:  slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg, err := LoadConfig(writeConfig(t, mppConfig("")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.handler(cfg); err == nil || !strings.Contains(
		err.Error(), "restart") {
		t.Fatalf("reload switching MPP on: %v", err)
	}
}
