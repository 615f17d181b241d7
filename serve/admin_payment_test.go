package serve

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// TestPaymentChallengesAreTransactions: each Payment challenge (a
// charge's invoice, a session's deposit, and the deposit of the session
// challenge a top-up pays) is a pending transaction of the admin API with
// its scheme, beside L402's; the node's settlement settles it as it does
// an L402 one, and the admin's tokens list only L402 ones.
func TestPaymentChallengesAreTransactions(t *testing.T) {
	e := newPaymentEnv(t, "  enablesessions: true\n"+
		"  sessiondepositmultiplier: 5\n", "")
	ctx := context.Background()
	chs, _ := e.challenges(t, "/api/x")
	txs, total, err := e.store.Transactions(ctx, store.TransactionFilter{Limit: 100})
	if err != nil || total != 3 {
		t.Fatalf("transactions after one 402 %+v %d %v", txs, total, err)
	}
	byScheme := map[string]store.Transaction{}
	for _, tx := range txs {
		byScheme[tx.Scheme] = tx
	}
	charge, err := mpp.VetCharge(chs[mpp.IntentCharge], 1000, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	session, err := mpp.VetSession(chs[mpp.IntentSession], 1000, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for scheme, want := range map[string]struct {
		hash  [32]byte
		price int64
	}{
		store.SchemePayment:        {charge.PaymentHash, 100},
		store.SchemePaymentSession: {session.PaymentHash, 500},
	} {
		tx, ok := byScheme[scheme]
		if !ok || tx.PaymentHash != want.hash || tx.PriceSat != want.price ||
			tx.Service != "api" || tx.State != store.StatePending {
			t.Fatalf("%s: %+v in %+v", scheme, tx, txs)
		}
	}
	if _, ok := byScheme[store.SchemeL402]; !ok {
		t.Fatalf("no L402 transaction: %+v", txs)
	}

	// Paid, the node says so: settled as an L402 one is.
	e.pay(t, charge.Invoice)
	e.pay(t, session.Request.DepositInvoice)
	for _, h := range [][32]byte{charge.PaymentHash, session.PaymentHash} {
		inv, err := e.seller.LookupInvoice(ctx, h)
		if err != nil || inv.State != lightning.InvoiceSettled {
			t.Fatalf("%+v %v", inv, err)
		}
		if ok, err := e.store.SettleInvoice(ctx, inv.PaymentHash,
			inv.SettledAt); err != nil || !ok {
			t.Fatalf("settling %x: %v %v", h, ok, err)
		}
	}
	settled, n, _ := e.store.Transactions(ctx, store.TransactionFilter{
		State: store.StateSettled, Limit: 100})
	if n != 2 {
		t.Fatalf("settled %+v", settled)
	}
	if _, n, _ := e.store.Transactions(ctx, store.TransactionFilter{
		Tokens: true}); n != 0 {
		t.Fatalf("Payment transactions listed as tokens: %d", n)
	}
}

// TestAdminRESTListsPaymentCharges: over the REST path, a Payment
// charge's challenge is a pending transaction of scheme payment, which
// the node's settlement (the catch-up of the invoice subscription)
// settles once the buyer pays it.
func TestAdminRESTListsPaymentCharges(t *testing.T) {
	w := newAdminWorld(t)
	w.edit = func(s string) string {
		return strings.Replace(s, "authenticator:\n",
			"authenticator:\n  enablempp: true\n", 1)
	}
	e := w.replica(t, "")
	resp := e.get(t, "/api/x", "")
	chs, err := mpp.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(chs) != 1 {
		t.Fatalf("%d %v %v", resp.StatusCode, chs, err)
	}
	charge, err := mpp.VetCharge(chs[0], 1000, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var txs struct {
		Transactions []map[string]any `json:"transactions"`
		Total        string           `json:"total_count"`
	}
	e.ok(t, "GET", "/api/admin/transactions?state=pending", "", &txs)
	schemes := map[any]int{}
	for _, tx := range txs.Transactions {
		schemes[tx["scheme"]]++
	}
	if txs.Total != "2" || schemes["payment"] != 1 || schemes["l402"] != 1 {
		t.Fatalf("pending: %+v", txs)
	}
	if _, err := e.buyer.Pay(context.Background(), lightning.PayRequest{
		PaymentRequest: charge.Invoice}); err != nil {
		t.Fatal(err)
	}
	e.s.catchUp(context.Background())
	e.ok(t, "GET", "/api/admin/transactions?state=settled", "", &txs)
	if txs.Total != "1" || txs.Transactions[0]["scheme"] != "payment" ||
		txs.Transactions[0]["payment_hash"] != charge.PaymentHash.String() ||
		txs.Transactions[0]["price_sats"] != "100" ||
		txs.Transactions[0]["settled_at"] == "" {
		t.Fatalf("settled: %+v", txs)
	}
}
