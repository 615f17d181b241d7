package fetch

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/tokens"
)

// recordPendingCharge gets a real Payment challenge from the paywall and
// records its payment as pending, as fetch does just before paying.
func (e *env) recordPendingCharge(t *testing.T) tokens.Pending {
	t.Helper()
	ctx := context.Background()
	resp, err := e.srv.Client().Get(e.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o, err := vetPaymentChallenge(resp.Header, "regtest", 1000,
		DefaultMaxInvoiceExpiry, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.recordPending(ctx, e.opts(), e.origin(),
		o); err != nil {
		t.Fatal(err)
	}
	p, err := e.store.PendingPayment(ctx, o.invoice.PaymentHash)
	if err != nil || p.Scheme != tokens.SchemePayment || p.Challenge == "" {
		t.Fatalf("pending %+v %v", p, err)
	}
	return p
}

// settled counts the paywall's invoices that were paid.
func (e *env) settled(t *testing.T) int {
	t.Helper()
	n := 0
	for _, h := range e.wall.Issued() {
		inv, _ := e.seller.LookupInvoice(context.Background(), h)
		if inv.State == lightning.InvoiceSettled {
			n++
		}
	}
	return n
}

// TestFetchChargeCrashAtEachStep leaves the store and the node as a fetch
// of a Payment charge killed at each step would, and checks that the next
// run pays each invoice at most once and sends each credential at most
// once: a charge recorded, or paid, and not yet in the ledger is finished
// and its credential sent by the next run, without a new purchase. A run
// killed between the ledger entry and sending the credential loses that
// charge (it is paid, in the ledger, and never sent); the next run buys
// another.
func TestFetchChargeCrashAtEachStep(t *testing.T) {
	steps := []struct {
		name string
		// crash brings the env to the state a kill at this step leaves.
		crash func(t *testing.T, e *env)
		// challenges, paid and sent are the 402s, the invoices paid and
		// the credentials sent in all.
		challenges, paid, sent int
	}{
		{"after recording, before paying", func(t *testing.T, e *env) {
			e.recordPendingCharge(t)
		}, 1, 1, 1},
		{"after paying, before the ledger", func(t *testing.T, e *env) {
			p := e.recordPendingCharge(t)
			if _, err := e.buyer.Pay(context.Background(),
				lightning.PayRequest{PaymentRequest: p.Invoice}); err != nil {
				t.Fatal(err)
			}
		}, 1, 1, 1},
		{"after a failed payment, before forgetting it", func(t *testing.T,
			e *env) {
			p := e.recordPendingCharge(t)
			e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
				return lightning.PayOutcome{FailureReason: "FAILURE_REASON_NO_ROUTE"}
			})
			e.buyer.Pay(context.Background(), lightning.PayRequest{
				PaymentRequest: p.Invoice})
			e.buyer.SetPayHook(nil)
		}, 2, 1, 1},
		{"after the ledger, before sending the credential", func(
			t *testing.T, e *env) {
			p := e.recordPendingCharge(t)
			pay, err := e.buyer.Pay(context.Background(),
				lightning.PayRequest{PaymentRequest: p.Invoice})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.CompletePending(context.Background(),
				p.PaymentHash, pay.Preimage, 0, time.Now()); err != nil {
				t.Fatal(err)
			}
		}, 2, 2, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e := chargeEnv(t, 10, "mpp")
			st.crash(t, e)

			var out strings.Builder
			res, err := e.client.Fetch(context.Background(), e.opts(), &out)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != "paid content for GET" ||
				res.PaymentScheme != "Payment" {
				t.Fatalf("body %q, result %+v", out.String(), res)
			}
			pend, _ := e.store.PendingFor(context.Background(), "")
			if len(pend) != 0 || len(e.ledger(t)) != st.paid ||
				e.settled(t) != st.paid || e.wall.Challenges() != st.challenges {
				t.Fatalf("pending %d, ledger %d, settled %d, challenges %d; "+
					"want %d paid after %d challenges", len(pend),
					len(e.ledger(t)), e.settled(t), e.wall.Challenges(),
					st.paid, st.challenges)
			}
			e.checkSentOnce(t, st.sent)
		})
	}
}

// TestFetchResumesAChargeInFlight: a charge whose payment was in flight
// when its run stopped is waited for, not paid again; once it settles the
// next run sends its credential, once, and pays nothing.
func TestFetchResumesAChargeInFlight(t *testing.T) {
	e := chargeEnv(t, 10, "mpp")
	e.buyer.SetPayHook(func(lightning.PayReq) lightning.PayOutcome {
		return lightning.PayOutcome{Hold: true}
	})
	ctx, cancel := context.WithTimeout(context.Background(),
		300*time.Millisecond)
	_, err := e.client.Fetch(ctx, e.opts(), &strings.Builder{})
	cancel()
	if cli.ExitCode(err) != cli.ExitPayment {
		t.Fatalf("interrupted payment: %v", err)
	}
	pend, _ := e.store.PendingFor(context.Background(), "")
	if len(pend) != 1 || pend[0].Scheme != tokens.SchemePayment {
		t.Fatalf("pending %+v, want the interrupted charge", pend)
	}

	opts := e.opts()
	opts.PaymentTimeout = 100 * time.Millisecond
	_, err = e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if cli.ExitCode(err) != cli.ExitPayment ||
		!strings.Contains(err.Error(), "still in flight") {
		t.Fatalf("in-flight resume: %v", err)
	}
	e.checkSentOnce(t, 0)

	e.buyer.SetPayHook(nil)
	if !e.buyer.Release(pend[0].PaymentHash, lightning.PayOutcome{}) {
		t.Fatal("payment was not held")
	}
	var out strings.Builder
	res, err := e.client.Fetch(context.Background(), e.opts(), &out)
	if err != nil || res.L402Paid || out.String() != "paid content for GET" ||
		res.PaymentReceipt == nil || res.PaymentScheme != "Payment" {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if e.wall.Challenges() != 1 || e.spent(t) != 10_000 {
		t.Fatalf("%d challenges, %d msat: the charge was bought again",
			e.wall.Challenges(), e.spent(t))
	}
	e.checkSentOnce(t, 1)
}

// TestFetchDropsAChargeWhoseChallengeExpired: a pending charge never made
// whose challenge has expired is forgotten, not paid (its credential
// would be refused); one that was paid is in the ledger and its
// credential is not sent. Either way a new charge is bought.
func TestFetchDropsAChargeWhoseChallengeExpired(t *testing.T) {
	for _, paid := range []bool{false, true} {
		e := chargeEnv(t, 10, "mpp")
		e.wall.SetChargeTTL(time.Minute)
		p := e.recordPendingCharge(t)
		if paid {
			if _, err := e.buyer.Pay(context.Background(),
				lightning.PayRequest{PaymentRequest: p.Invoice}); err != nil {
				t.Fatal(err)
			}
		}
		e.wall.SetChargeTTL(time.Hour)
		e.client.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }

		res, err := e.client.Fetch(context.Background(), e.opts(),
			&strings.Builder{})
		if err != nil || !res.L402Paid {
			t.Fatalf("paid %v: %+v %v", paid, res, err)
		}
		inv, _ := e.seller.LookupInvoice(context.Background(), p.PaymentHash)
		if (inv.State == lightning.InvoiceSettled) != paid {
			t.Fatalf("paid %v: the expired charge's invoice is %v", paid,
				inv.State)
		}
		want := 1
		if paid {
			want = 2
		}
		if len(e.ledger(t)) != want || e.wall.Challenges() != 2 {
			t.Fatalf("paid %v: ledger %+v, %d challenges", paid,
				e.ledger(t), e.wall.Challenges())
		}
		e.checkSentOnce(t, 1)
	}
}

// TestFetchNoPayLeavesAChargeUnpaid: a preview that finds a charge
// recorded and never made does not make it.
func TestFetchNoPayLeavesAChargeUnpaid(t *testing.T) {
	e := chargeEnv(t, 10, "mpp")
	p := e.recordPendingCharge(t)
	opts := e.opts()
	opts.NoPay = true
	res, err := e.client.Fetch(context.Background(), opts, &strings.Builder{})
	if err != nil || res.StatusCode != 402 || res.L402Paid {
		t.Fatalf("preview %+v %v", res, err)
	}
	if e.settled(t) != 0 {
		t.Fatal("--no-pay paid the pending charge")
	}
	if pend, _ := e.store.PendingFor(context.Background(), ""); len(pend) != 1 ||
		pend[0].PaymentHash != p.PaymentHash {
		t.Fatalf("pending %+v, want the recorded charge kept", pend)
	}
}

// TestFetchChargeIsNotSentOverHTTP: a paid charge of an https origin is
// not sent to the same host and port over http: the pending payment is
// another origin's, and stays pending.
func TestFetchChargeIsNotSentOverHTTP(t *testing.T) {
	e := chargeEnv(t, 10, "mpp")
	ctx := context.Background()
	p := e.recordPendingCharge(t)
	if _, err := e.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: p.Invoice}); err != nil {
		t.Fatal(err)
	}
	https := "https://" + e.srv.Listener.Addr().String()
	if err := e.store.DropPending(ctx, p.PaymentHash); err != nil {
		t.Fatal(err)
	}
	p.Origin = https
	if err := e.store.AddPending(ctx, p); err != nil {
		t.Fatal(err)
	}

	res, err := e.client.Fetch(ctx, e.opts(), &strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("%+v %v", res, err)
	}
	creds, _ := e.wall.Credentials()
	if len(creds) != 1 {
		t.Fatalf("credentials sent %v", creds)
	}
	pend, _ := e.store.PendingFor(ctx, https)
	if len(pend) != 1 {
		t.Fatalf("the https charge was settled by an http fetch: %+v", pend)
	}
	cred, err := mpp.ParseCredential(http.Header{"Authorization": creds})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := mpp.DecodeChargeRequest(cred.Challenge.Request)
	if req.MethodDetails.PaymentHash == p.PaymentHash.String() {
		t.Fatal("the https charge's credential went over http")
	}
}

// TestForgetCompletesACharge: tokens forget on a charge the node paid
// puts it in the ledger and stores no token.
func TestForgetCompletesACharge(t *testing.T) {
	e := chargeEnv(t, 10, "mpp")
	ctx := context.Background()
	p := e.recordPendingCharge(t)
	if _, err := e.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: p.Invoice}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.client.ForgetPending(ctx, p.PaymentHash, time.Second)
	if err != nil || rep.Outcome != "completed" {
		t.Fatalf("%+v %v", rep, err)
	}
	if _, err := e.store.Token(ctx, e.origin()); err == nil {
		t.Fatal("a charge became a token")
	}
	if paid := e.ledger(t); len(paid) != 1 ||
		paid[0].Scheme != tokens.SchemePayment {
		t.Fatalf("ledger %+v", paid)
	}
}

// TestFetchResumedChargeForAnotherResource: a charge an earlier run paid
// is sent with the next fetch of its origin, once, whatever its URL; a
// server that binds the charge to its resource refuses it, and a new one
// is bought for this one.
func TestFetchResumedChargeForAnotherResource(t *testing.T) {
	e := chargeEnv(t, 10, "mpp")
	ctx := context.Background()
	p := e.recordPendingCharge(t) // for /api
	if _, err := e.buyer.Pay(ctx, lightning.PayRequest{
		PaymentRequest: p.Invoice}); err != nil {
		t.Fatal(err)
	}
	opts := e.opts()
	opts.URL = e.srv.URL + "/other"
	res, err := e.client.Fetch(ctx, opts, &strings.Builder{})
	if err != nil || !res.L402Paid {
		t.Fatalf("%+v %v", res, err)
	}
	if len(e.ledger(t)) != 2 || e.wall.ChargesServed() != 1 {
		t.Fatalf("ledger %+v, %d served", e.ledger(t), e.wall.ChargesServed())
	}
	e.checkSentOnce(t, 2)
}
