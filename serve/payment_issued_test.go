package serve

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// rebound is ch with its request edited (a *mpp.ChargeRequest or a
// *mpp.SessionRequest, by its intent) and bound again with the
// challenge secret read from the database, as a reader of the database
// can bind it.
func rebound(t *testing.T, e *paymentEnv, ch mpp.Challenge,
	edit func(any)) mpp.Challenge {

	t.Helper()
	secret, err := e.store.ChallengeSecret(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var req any
	switch ch.Intent {
	case mpp.IntentCharge:
		r, err := mpp.DecodeChargeRequest(ch.Request)
		if err != nil {
			t.Fatal(err)
		}
		edit(&r)
		req = r
	default:
		r, err := mpp.DecodeSessionRequest(ch.Request)
		if err != nil {
			t.Fatal(err)
		}
		edit(&r)
		req = r
	}
	if ch.Request, err = mpp.EncodeRequest(req); err != nil {
		t.Fatal(err)
	}
	ch, err = mpp.Bind(secret, ch)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// forgedPayment is ch answered, as a reader of the database can answer
// it, for a payment hash of its own: its request made to name sha256 of
// a preimage it chose (no invoice exists for it), bound again. It
// returns the challenge and the preimage.
func forgedPayment(t *testing.T, e *paymentEnv, ch mpp.Challenge) (
	mpp.Challenge, l402.Preimage) {

	t.Helper()
	var pre l402.Preimage
	rand.Read(pre[:])
	ch = rebound(t, e, ch, func(r any) {
		switch r := r.(type) {
		case *mpp.ChargeRequest:
			r.MethodDetails.PaymentHash = pre.Hash().String()
		case *mpp.SessionRequest:
			r.PaymentHash = pre.Hash().String()
		}
	})
	return ch, pre
}

// TestPaymentForgedByADatabaseReader: the challenge secret is in the
// database, so a reader of it can bind a challenge of its own: for a
// payment hash nobody paid, or for a cheap invoice it paid as a dear one.
// Such a charge, or a session opened with such a deposit, is refused
// (402, invalid-challenge): a Payment challenge's invoice must be one
// serve issued for that service and amount, its transaction, or with
// none (lost to a crash), its invoice settled on the node for that
// amount with the memo serve writes for it.
func TestPaymentForgedByADatabaseReader(t *testing.T) {
	e := newPaymentEnv(t, "  enablesessions: true\n", "")
	chs, _ := e.challenges(t, "/api/x")

	charge, pre := forgedPayment(t, e, chs[mpp.IntentCharge])
	cred, err := mpp.ChargeCredential(charge, pre)
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := cred.Authorization()
	resp, body := e.get(t, "/api/x", auth)
	if resp.StatusCode != http.StatusPaymentRequired ||
		problemOf(t, resp, body).Type != mpp.ProblemBase+
			"invalid-challenge" {
		t.Fatalf("a forged charge: %d %q, want a 402 invalid-challenge",
			resp.StatusCode, body)
	}

	open, pre := forgedPayment(t, e, chs[mpp.IntentSession])
	ret, err := e.buyer.AddInvoice(context.Background(),
		lightning.InvoiceRequest{Memo: "refund"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = e.get(t, "/api/x", sessionCred(t, open, mpp.SessionPayload{
		Action: mpp.ActionOpen, Preimage: pre.String(),
		ReturnInvoice: ret.PaymentRequest}))
	if resp.StatusCode != http.StatusPaymentRequired ||
		strings.HasPrefix(body, "backend") {
		t.Fatalf("a session opened with a forged deposit: %d %q, want a "+
			"402", resp.StatusCode, body)
	}

	// A cheap invoice paid (the 1-sat service's charge, a real deposit)
	// passed off as a dear one: the 100-sat service's charge, a deposit
	// of a hundred times its amount.
	cheap, _ := e.challenges(t, "/cheap/x")
	creq, err := mpp.DecodeChargeRequest(cheap[mpp.IntentCharge].Request)
	if err != nil {
		t.Fatal(err)
	}
	dear := rebound(t, e, chs[mpp.IntentCharge], func(r any) {
		r.(*mpp.ChargeRequest).MethodDetails.PaymentHash =
			creq.MethodDetails.PaymentHash
	})
	cred, err = mpp.ChargeCredential(dear, e.pay(t,
		creq.MethodDetails.Invoice))
	if err != nil {
		t.Fatal(err)
	}
	auth, _ = cred.Authorization()
	if resp, body := e.get(t, "/api/x", auth); resp.StatusCode !=
		http.StatusPaymentRequired {
		t.Fatalf("a cheap charge passed off as a dear one: %d %q",
			resp.StatusCode, body)
	}
	sreq, err := mpp.DecodeSessionRequest(chs[mpp.IntentSession].Request)
	if err != nil {
		t.Fatal(err)
	}
	inflated := rebound(t, e, chs[mpp.IntentSession], func(r any) {
		sr := r.(*mpp.SessionRequest)
		amount, _ := mpp.ParseAmount(sr.DepositAmount)
		sr.DepositAmount = mpp.FormatAmount(100 * amount)
	})
	resp, body = e.get(t, "/api/x", sessionCred(t, inflated,
		mpp.SessionPayload{Action: mpp.ActionOpen,
			Preimage:      e.pay(t, sreq.DepositInvoice).String(),
			ReturnInvoice: ret.PaymentRequest}))
	if resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("a deposit passed off as a larger one: %d %q",
			resp.StatusCode, body)
	}

	// A real charge is served, once.
	auth = e.buyCharge(t, "/api/x")
	if resp, body := e.get(t, "/api/x", auth); resp.StatusCode != 200 {
		t.Fatalf("a paid charge: %d %q", resp.StatusCode, body)
	}
}

// losingPaymentStore is a store that can lose the Payment challenges'
// rows, as a crash loses the rows still queued.
type losingPaymentStore struct {
	*store.Store
	lose atomic.Bool
}

// RecordChallenge drops the row while rows are lost.
func (s *losingPaymentStore) RecordChallenge(ctx context.Context,
	c store.Challenge) {

	if !s.lose.Load() {
		s.Store.RecordChallenge(ctx, c)
	}
}

// TestPaymentChargeWhoseRowWasLost: a paid charge whose transaction was
// lost is served on its settled invoice (the node's memo says serve wrote
// it for a charge), once; while the node cannot be asked, it gets 503,
// not a 402 that would have the buyer pay again, and is served after.
func TestPaymentChargeWhoseRowWasLost(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		fmt.Fprintf(w, "backend %s", r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	var st *losingPaymentStore
	var node *flakyNode
	e := newPaymentEnvAt(t, strings.TrimPrefix(backend.URL, "http://"), "",
		"", func(o *HandlerOptions) {
			st = &losingPaymentStore{Store: o.Payment.Store.(*store.Store)}
			node = &flakyNode{Node: o.Payment.Node}
			o.Payment.Store, o.Payment.Node = st, node
		})
	st.lose.Store(true)
	auth := e.buyCharge(t, "/api/x")
	st.lose.Store(false)

	node.down.Store(true)
	if resp, body := e.get(t, "/api/x", auth); resp.StatusCode !=
		http.StatusServiceUnavailable {
		t.Fatalf("a paid charge, its row lost, the node down: %d %q, "+
			"want 503", resp.StatusCode, body)
	}
	node.down.Store(false)
	if resp, body := e.get(t, "/api/x", auth); resp.StatusCode != 200 ||
		body != "backend /api/x" {
		t.Fatalf("a paid charge whose row was lost: %d %q", resp.StatusCode,
			body)
	}
	if resp, _ := e.get(t, "/api/x", auth); resp.StatusCode !=
		http.StatusPaymentRequired {
		t.Fatalf("the charge again: %d, want it spent", resp.StatusCode)
	}
}
