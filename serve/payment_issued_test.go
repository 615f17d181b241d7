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

// forgedPayment is ch answered, as a reader of the database can answer
// it, for a payment hash of its own: the challenge's request made to
// name sha256 of a preimage it chose (no invoice exists for it), and
// bound again with the challenge secret read from the database. It
// returns the challenge and the preimage.
func forgedPayment(t *testing.T, e *paymentEnv, ch mpp.Challenge) (
	mpp.Challenge, l402.Preimage) {

	t.Helper()
	secret, err := e.store.ChallengeSecret(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var pre l402.Preimage
	rand.Read(pre[:])
	switch ch.Intent {
	case mpp.IntentCharge:
		req, err := mpp.DecodeChargeRequest(ch.Request)
		if err != nil {
			t.Fatal(err)
		}
		req.MethodDetails.PaymentHash = pre.Hash().String()
		ch.Request, err = mpp.EncodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
	default:
		req, err := mpp.DecodeSessionRequest(ch.Request)
		if err != nil {
			t.Fatal(err)
		}
		req.PaymentHash = pre.Hash().String()
		ch.Request, err = mpp.EncodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
	}
	ch, err = mpp.Bind(secret, ch)
	if err != nil {
		t.Fatal(err)
	}
	return ch, pre
}

// TestPaymentForgedByADatabaseReader: the challenge secret is in the
// database, so a reader of it can bind a challenge of its own for a
// payment hash nobody paid. Such a charge, or a session opened with
// such a deposit, is refused (402, invalid-challenge): a Payment
// challenge's payment hash must be one serve issued, its transaction, or
// with none (lost to a crash), its invoice settled on the node with the
// memo serve writes for it.
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
