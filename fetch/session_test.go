package fetch

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/testpaywall"
	"github.com/l402/l402/tokens"
)

// sessionEnv is an env whose paywall offers L402, a charge and a session
// whose deposit is price x multiplier.
func sessionEnv(t *testing.T, price, multiplier int64) *env {
	t.Helper()
	e := newEnv(t, price, "regtest")
	e.wall.SetSchemes("l402+mpp")
	e.wall.SetSessions(multiplier)
	return e
}

// sessionOpts are the env's options with --session.
func (e *env) sessionOpts() Options {
	o := e.opts()
	o.Session = true
	return o
}

// fetchOK fetches with opts and fails on an error or another body.
func (e *env) fetchOK(t *testing.T, opts Options) Result {
	t.Helper()
	var out strings.Builder
	res, err := e.client.Fetch(context.Background(), opts, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "paid content for GET" {
		t.Fatalf("body %q, result %+v", out.String(), res)
	}
	return res
}

// TestFetchSessionOpenDrawTopUp: --session opens a session when the 402
// offers one (the deposit through the pending record and the ledger),
// later fetches of the origin draw it with bearer credentials and pay
// nothing, with or without --session; a short balance is topped up once
// with a fresh challenge's deposit (--session), then the request is
// retried once. The balance fetch reckons is the paywall's.
func TestFetchSessionOpenDrawTopUp(t *testing.T) {
	e := sessionEnv(t, 2, 3) // a deposit of 6 sat: the open and two more
	ctx := context.Background()

	res := e.fetchOK(t, e.sessionOpts())
	if !res.L402Paid || res.L402AmountSat != 6 ||
		res.PaymentScheme != "Payment" || res.Session == nil ||
		!res.Session.Opened || res.Session.BalanceSat != 4 ||
		res.Session.State != tokens.SessionOpen ||
		res.Session.PriceSat != 2 {
		t.Fatalf("open: %+v %+v", res, res.Session)
	}
	sess, err := e.store.Session(ctx, e.origin())
	if err != nil || sess.ReturnInvoice == "" {
		t.Fatalf("session %+v %v", sess, err)
	}
	ret, err := lightning.DecodeInvoice(sess.ReturnInvoice, "regtest")
	if err != nil || ret.AmountMsat != 0 {
		t.Fatalf("return invoice %+v %v", ret, err)
	}

	// Two draws, the second without --session: nothing paid.
	for i, opts := range []Options{e.sessionOpts(), e.opts()} {
		res = e.fetchOK(t, opts)
		if res.L402Paid || res.PaymentScheme != "Payment" ||
			res.Session == nil || res.Session.BalanceSat != int64(2-2*i) {
			t.Fatalf("draw %d: %+v %+v", i, res, res.Session)
		}
	}
	if bal, _ := e.wall.SessionBalance(sess.ID); bal != 0 {
		t.Fatalf("the paywall's balance %d", bal)
	}

	// Spent: one top-up of 6 sat, then the request from the balance.
	res = e.fetchOK(t, e.sessionOpts())
	if !res.L402Paid || res.L402AmountSat != 6 || res.Session == nil ||
		!res.Session.ToppedUp || res.Session.BalanceSat != 4 ||
		res.Session.DepositSat != 12 {
		t.Fatalf("top-up: %+v %+v", res, res.Session)
	}
	c := e.wall.Sessions()
	if c.Opens != 1 || c.TopUps != 1 || c.Draws != 4 {
		t.Fatalf("the paywall saw %+v", c)
	}
	if bal, _ := e.wall.SessionBalance(sess.ID); bal != 4 {
		t.Fatalf("the paywall's balance %d", bal)
	}
	kinds := map[string]int{}
	hist, _ := e.store.History(ctx, tokens.HistoryFilter{})
	for _, h := range hist {
		kinds[h.Kind]++
	}
	if kinds[tokens.KindPurchase] != 1 || kinds[tokens.KindTopUp] != 1 ||
		len(hist) != 2 || e.settled(t) != 2 {
		t.Fatalf("history %+v, %d invoices settled", hist, e.settled(t))
	}
}

// TestFetchSessionShortWithoutSessionFlag: a spent session is not topped
// up without --session: the 402 is bought as any other (L402 here), and
// the session stays.
func TestFetchSessionShortWithoutSessionFlag(t *testing.T) {
	e := sessionEnv(t, 2, 1) // the deposit pays the open's request only
	e.fetchOK(t, e.sessionOpts())
	res := e.fetchOK(t, e.opts())
	if !res.L402Paid || res.PaymentScheme != "L402" {
		t.Fatalf("%+v", res)
	}
	if c := e.wall.Sessions(); c.TopUps != 0 {
		t.Fatalf("topped up without --session: %+v", c)
	}
	if _, err := e.store.Session(context.Background(), e.origin()); err != nil {
		t.Fatal(err)
	}
}

// TestFetchSessionDepositWithinCaps: the deposit, not the price, is what
// --max-cost and the 24-hour cap judge, for the open and for a top-up;
// a refusal pays nothing.
func TestFetchSessionDepositWithinCaps(t *testing.T) {
	e := sessionEnv(t, 2, 10)
	opts := e.sessionOpts()
	opts.MaxCostSat = 19
	_, err := e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if !errors.Is(err, ErrOverBudget) || e.settled(t) != 0 {
		t.Fatalf("a deposit of 20 over --max-cost 19: %v", err)
	}

	opts = e.sessionOpts()
	opts.MaxTotalSat = 20 + DefaultMaxFeeSat + 5
	e.fetchOK(t, opts) // 20 sat (+ the fee cap while pending)
	for range 9 {
		e.fetchOK(t, opts)
	}
	_, err = e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if !errors.Is(err, ErrOverBudget) || e.settled(t) != 1 {
		t.Fatalf("a top-up over --max-total: %v, %d settled", err,
			e.settled(t))
	}
}

// TestFetchSessionNeedsAReturnInvoice: a node that cannot make invoices
// (a pay-only macaroon) fails a session open before anything is paid.
func TestFetchSessionNeedsAReturnInvoice(t *testing.T) {
	e := sessionEnv(t, 2, 10)
	e.buyer.Deny("AddInvoice")
	_, err := e.client.Fetch(context.Background(), e.sessionOpts(),
		&strings.Builder{})
	if !errors.Is(err, ErrNoReturnInvoice) || e.settled(t) != 0 {
		t.Fatalf("%v", err)
	}
	if pend, _ := e.store.PendingFor(context.Background(), ""); len(pend) != 0 {
		t.Fatalf("pending %+v", pend)
	}
}

// TestFetchSessionGoneIsForgotten: a session the server closed (its idle
// timeout) is forgotten, and with --session a new one is opened.
func TestFetchSessionGoneIsForgotten(t *testing.T) {
	e := sessionEnv(t, 2, 10)
	e.fetchOK(t, e.sessionOpts())
	first, _ := e.store.Session(context.Background(), e.origin())
	e.wall.CloseSessionHere(first.ID)
	res := e.fetchOK(t, e.sessionOpts())
	if !res.L402Paid || res.Session == nil || !res.Session.Opened ||
		res.Session.ID == first.ID.String() {
		t.Fatalf("%+v %+v", res, res.Session)
	}
}

// TestFetchSessionExpiredChallenge: a stored challenge past its expiry
// is not sent; the 402 brings a fresh one, and the bearer goes with it
// (nothing paid).
func TestFetchSessionExpiredChallenge(t *testing.T) {
	e := sessionEnv(t, 2, 10)
	e.fetchOK(t, e.sessionOpts())
	// The stored challenge (five minutes) has expired; the fresh ones
	// last an hour.
	e.wall.SetChargeTTL(time.Hour)
	e.client.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	res := e.fetchOK(t, e.opts())
	if res.L402Paid || res.Session == nil || res.Session.BalanceSat != 16 {
		t.Fatalf("%+v %+v", res, res.Session)
	}
}

// TestFetchSessionCredentialStaysAtItsOrigin: the session of one origin
// is never sent to another (another port here, as http and https
// differ).
func TestFetchSessionCredentialStaysAtItsOrigin(t *testing.T) {
	e := sessionEnv(t, 2, 10)
	e.fetchOK(t, e.sessionOpts())
	wall := testpaywall.New(e.seller, 2)
	wall.SetSchemes("l402+mpp")
	wall.SetSessions(10)
	srv := httptest.NewServer(wall)
	defer srv.Close()
	opts := e.opts()
	opts.URL = srv.URL + "/api"
	res := e.fetchOK(t, opts)
	if res.PaymentScheme != "L402" || res.Session != nil {
		t.Fatalf("%+v", res)
	}
	if creds, _ := wall.Credentials(); len(creds) != 0 {
		t.Fatalf("a Payment credential went to another origin: %v", creds)
	}
}

// recordPendingOpen gets a real session challenge from the paywall and
// records its deposit as pending, with a return invoice, as fetch does
// just before paying.
func (e *env) recordPendingOpen(t *testing.T) tokens.Pending {
	t.Helper()
	ctx := context.Background()
	resp, err := e.srv.Client().Get(e.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o, err := vetSessionChallenge(resp.Header, "regtest", 1000,
		DefaultMaxInvoiceExpiry, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ret, err := e.client.returnInvoice(ctx, e.origin())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.recordPendingReturn(ctx, e.sessionOpts(), e.origin(),
		o, ret); err != nil {
		t.Fatal(err)
	}
	p, err := e.store.PendingPayment(ctx, o.invoice.PaymentHash)
	if err != nil || p.ReturnInvoice != ret || p.URL == "" {
		t.Fatalf("pending %+v %v", p, err)
	}
	return p
}

// TestFetchSessionCrashAtEachStep leaves the store and the node as a
// fetch opening a session killed at each step would: the next fetch
// (without --session: the session is the user's already) pays the
// deposit at most once, stores the session, sends its open once and is
// served from it.
func TestFetchSessionCrashAtEachStep(t *testing.T) {
	for _, step := range []struct {
		name  string
		crash func(t *testing.T, e *env)
	}{
		{"after recording, before paying", func(t *testing.T, e *env) {
			e.recordPendingOpen(t)
		}},
		{"after paying, before the ledger", func(t *testing.T, e *env) {
			p := e.recordPendingOpen(t)
			if _, err := e.buyer.Pay(context.Background(),
				lightning.PayRequest{PaymentRequest: p.Invoice}); err != nil {
				t.Fatal(err)
			}
		}},
		{"after the ledger, before the open", func(t *testing.T, e *env) {
			ctx := context.Background()
			p := e.recordPendingOpen(t)
			pay, err := e.buyer.Pay(ctx,
				lightning.PayRequest{PaymentRequest: p.Invoice})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.CompletePending(ctx, p.PaymentHash,
				pay.Preimage, 0, time.Now()); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			e := sessionEnv(t, 2, 10)
			step.crash(t, e)
			res := e.fetchOK(t, e.opts())
			if res.Session == nil || res.Session.State != tokens.SessionOpen ||
				res.Session.BalanceSat != 18 {
				t.Fatalf("%+v %+v", res, res.Session)
			}
			res = e.fetchOK(t, e.opts())
			if res.L402Paid || res.Session.BalanceSat != 16 {
				t.Fatalf("the next draw: %+v %+v", res, res.Session)
			}
			c := e.wall.Sessions()
			if e.settled(t) != 1 || c.Opens != 1 || c.Draws != 2 {
				t.Fatalf("%d settled, the paywall saw %+v", e.settled(t), c)
			}
			if paid := e.ledger(t); len(paid) != 1 {
				t.Fatalf("ledger %+v", paid)
			}
		})
	}
}

// TestFetchSessionHeldTopUpIsSent: a top-up paid and in the ledger whose
// credential a killed run never sent is sent by the next fetch, once,
// and not paid again.
func TestFetchSessionHeldTopUpIsSent(t *testing.T) {
	e := sessionEnv(t, 2, 1)
	ctx := context.Background()
	e.fetchOK(t, e.sessionOpts()) // the balance is spent by the open
	sess, _ := e.store.Session(ctx, e.origin())

	resp, err := e.srv.Client().Get(e.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o, err := vetSessionChallenge(resp.Header, "regtest", 1000,
		DefaultMaxInvoiceExpiry, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o.kind = tokens.KindTopUp
	if err := e.client.recordPending(ctx, e.opts(), e.origin(), o); err != nil {
		t.Fatal(err)
	}
	pay, err := e.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: o.bolt11()})
	if err != nil {
		t.Fatal(err)
	}
	// Killed here: paid, not in the ledger. The next fetch resumes it.
	_ = pay
	res := e.fetchOK(t, e.opts())
	if res.L402Paid || res.Session == nil || res.Session.BalanceSat != 0 ||
		res.Session.DepositSat != 4 {
		t.Fatalf("%+v %+v", res, res.Session)
	}
	if c := e.wall.Sessions(); c.TopUps != 1 || e.settled(t) != 2 {
		t.Fatalf("the paywall saw %+v, %d settled", c, e.settled(t))
	}
	if bal, _ := e.wall.SessionBalance(sess.ID); bal != 0 {
		t.Fatalf("the paywall's balance %d", bal)
	}
}

// TestCloseSessionRefunds: closing the origin's session pays the balance
// back to the return invoice on the buyer's node, records the refund in
// the ledger (which does not reopen the caps) and forgets the session; a
// session the server no longer has is forgotten with status gone.
func TestCloseSessionRefunds(t *testing.T) {
	e := sessionEnv(t, 2, 10)
	ctx := context.Background()
	e.fetchOK(t, e.sessionOpts())
	e.fetchOK(t, e.opts())
	sess, _ := e.store.Session(ctx, e.origin())
	spent, _ := e.store.Spent(ctx, "", time.Now().Add(-time.Hour))

	rep, err := e.client.CloseSession(ctx, e.origin())
	if err != nil || rep.Status != "closed" || rep.RefundSat != 16 ||
		rep.RefundStatus != "succeeded" || rep.BalanceSat != 16 ||
		rep.SessionID != sess.ID.String() {
		t.Fatalf("%+v %v", rep, err)
	}
	h, _ := parseReturnHash(t, sess.ReturnInvoice)
	inv, err := e.buyer.LookupInvoice(ctx, h)
	if err != nil || inv.State != lightning.InvoiceSettled ||
		inv.AmountPaidMsat != 16_000 || rep.ReturnPaymentHash != h.String() {
		t.Fatalf("the return invoice %+v %v", inv, err)
	}
	if _, err := e.store.Session(ctx, e.origin()); !errors.Is(err,
		tokens.ErrNotFound) {
		t.Fatalf("the session after its close: %v", err)
	}
	if after, _ := e.store.Spent(ctx, "", time.Now().Add(-time.Hour)); after != spent {
		t.Fatalf("the refund reopened the caps: %d -> %d", spent, after)
	}
	hist, _ := e.store.History(ctx, tokens.HistoryFilter{})
	refunds := 0
	for _, h := range hist {
		if h.Kind == tokens.KindRefund && h.AmountSat == 16 &&
			h.PaymentHash == rep.ReturnPaymentHash {
			refunds++
		}
	}
	if len(hist) != 2 || refunds != 1 {
		t.Fatalf("history %+v", hist)
	}
	if _, err := e.client.CloseSession(ctx, e.origin()); !errors.Is(err,
		tokens.ErrNotFound) {
		t.Fatalf("closing again: %v", err)
	}

	e.fetchOK(t, e.sessionOpts())
	second, _ := e.store.Session(ctx, e.origin())
	e.wall.CloseSessionHere(second.ID)
	rep, err = e.client.CloseSession(ctx, e.origin())
	if err != nil || rep.Status != "gone" {
		t.Fatalf("a session the server closed: %+v %v", rep, err)
	}
}

// parseReturnHash returns the payment hash of a return invoice.
func parseReturnHash(t *testing.T, inv string) (l402.Hash, int64) {
	t.Helper()
	pr, err := lightning.DecodeInvoice(inv, "regtest")
	if err != nil {
		t.Fatal(err)
	}
	return pr.PaymentHash, pr.AmountMsat
}

// TestCloseSessionSendsTheHeldTopUp: a top-up paid and in the ledger
// whose credential was never sent (a network error) is sent before the
// close: closed without it, the server refunds a balance that never had
// it, and the top-up is lost. A top-up still pending (its payment's
// outcome not known) stops the close: the server may yet be paid it.
func TestCloseSessionSendsTheHeldTopUp(t *testing.T) {
	e := sessionEnv(t, 2, 10)
	ctx := context.Background()
	e.fetchOK(t, e.sessionOpts()) // balance 18

	topUp := func() offer {
		resp, err := e.srv.Client().Get(e.srv.URL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		o, err := vetSessionChallenge(resp.Header, "regtest", 1000,
			DefaultMaxInvoiceExpiry, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		o.kind = tokens.KindTopUp
		if err := e.client.recordPending(ctx, e.opts(), e.origin(),
			o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := topUp()
	pay, err := e.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: o.bolt11()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CompletePending(ctx, o.invoice.PaymentHash,
		pay.Preimage, 0, time.Now()); err != nil {
		t.Fatal(err)
	}

	// Another top-up recorded, its outcome unknown: no close yet.
	p := topUp()
	if _, err := e.client.CloseSession(ctx, e.origin()); !errors.Is(err,
		ErrStillPending) {
		t.Fatalf("a close with a top-up pending: %v", err)
	}
	if err := e.store.DropPending(ctx, p.invoice.PaymentHash); err != nil {
		t.Fatal(err)
	}

	rep, err := e.client.CloseSession(ctx, e.origin())
	if err != nil || rep.Status != "closed" {
		t.Fatalf("%+v %v", rep, err)
	}
	if rep.RefundSat != 38 || e.wall.Sessions().TopUps != 1 {
		t.Fatalf("refund %d sat (want 18 + the top-up's 20), the paywall "+
			"took %d top-ups", rep.RefundSat, e.wall.Sessions().TopUps)
	}
}
