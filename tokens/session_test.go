package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
)

// sessionChallenge returns the JSON of a session challenge at price sat a
// request, with a deposit invoice for hash.
func sessionChallenge(t *testing.T, price, deposit int64, hash l402.Hash) string {
	t.Helper()
	req, err := mpp.EncodeRequest(mpp.SessionRequest{
		Amount: mpp.FormatAmount(price), Currency: mpp.CurrencySat,
		DepositInvoice: "lnbcrt1x", DepositAmount: mpp.FormatAmount(deposit),
		PaymentHash: hash.String()})
	if err != nil {
		t.Fatal(err)
	}
	opaque, _ := mpp.EncodeOpaque(map[string]string{"service": "weather"})
	b, _ := json.Marshal(mpp.Challenge{ID: "id", Realm: "realm",
		Method: mpp.MethodLightning, Intent: mpp.IntentSession,
		Request: req, Opaque: opaque, Expires: "2030-01-01T00:00:00Z"})
	return string(b)
}

// TestSessionOpenTopUpClose: a pending session open, once settled, is a
// ledger row (purchase) and an opening session with the deposit as its
// balance, in one transaction; the open accepted makes it open; draws
// lower the balance; a settled top-up is held until its credential is
// accepted, then added; a close deletes the session and records the
// refund, which does not lower what the last 24 hours spent.
func TestSessionOpenTopUpClose(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	origin := "https://api.example:443"
	now := time.Unix(1_800_000_000, 0)

	dep := l402.Preimage{7}
	ch := sessionChallenge(t, 2, 40, dep.Hash())
	if err := s.AddPending(ctx, Pending{PaymentHash: dep.Hash(),
		Origin: origin, Scheme: SchemePayment, Challenge: ch,
		Invoice: "lnbcrt1x", AmountMsat: 40_000, MaxFeeMsat: 1000,
		CreatedAt: now, ReturnInvoice: "lnbcrt1return",
		URL: origin + "/weather"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, origin); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a session before the deposit settled: %v", err)
	}
	if _, err := s.CompletePending(ctx, dep.Hash(), dep, 100, now); err != nil {
		t.Fatal(err)
	}
	sess, err := s.Session(ctx, origin)
	if err != nil || sess.State != SessionOpening || sess.ID != dep.Hash() ||
		sess.Preimage != dep || sess.BalanceSat != 40 ||
		sess.DepositSat != 40 || sess.PriceSat != 2 ||
		sess.Realm != "realm" || sess.Service != "weather" ||
		sess.ReturnInvoice != "lnbcrt1return" || sess.Challenge != ch ||
		sess.URL != origin+"/weather" {
		t.Fatalf("session %+v %v", sess, err)
	}
	if paid, _ := s.Payments(ctx, origin, 0); len(paid) != 1 ||
		paid[0].AmountMsat != 40_000 {
		t.Fatalf("ledger %+v", paid)
	}

	if err := s.SessionOpened(ctx, origin, sess.ID, now); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.SessionDrawn(ctx, origin, sess.ID, "", now); err != nil {
			t.Fatal(err)
		}
	}
	sess, _ = s.Session(ctx, origin)
	// The open's request is served from the deposit, then three more.
	if sess.State != SessionOpen || sess.BalanceSat != 32 {
		t.Fatalf("after the open and three draws: %+v", sess)
	}

	top := l402.Preimage{8}
	tch := sessionChallenge(t, 2, 40, top.Hash())
	if err := s.AddPending(ctx, Pending{PaymentHash: top.Hash(),
		Origin: origin, Scheme: SchemePayment, Challenge: tch,
		Kind: KindTopUp, Invoice: "lnbcrt1y", AmountMsat: 40_000,
		CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompletePending(ctx, top.Hash(), top, 0, now); err != nil {
		t.Fatal(err)
	}
	sess, _ = s.Session(ctx, origin)
	if sess.TopUp == nil || sess.TopUp.Hash != top.Hash() ||
		sess.TopUp.Preimage != top || sess.TopUp.AmountSat != 40 ||
		sess.TopUp.Challenge != tch || sess.BalanceSat != 32 {
		t.Fatalf("a settled top-up: %+v", sess)
	}
	if err := s.SessionToppedUp(ctx, origin, top.Hash(), now); err != nil {
		t.Fatal(err)
	}
	sess, _ = s.Session(ctx, origin)
	if sess.TopUp != nil || sess.BalanceSat != 72 || sess.DepositSat != 80 {
		t.Fatalf("topped up: %+v", sess)
	}

	spent, _ := s.Spent(ctx, "", now.Add(-time.Hour))
	ret := l402.Preimage{9}
	if err := s.CloseSession(ctx, origin, sess.ID, Refund{
		PaymentHash: ret.Hash(), AmountSat: 70}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, origin); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a closed session: %v", err)
	}
	if after, _ := s.Spent(ctx, "", now.Add(-time.Hour)); after != spent {
		t.Fatalf("a refund changed the 24 hours' spending: %d -> %d",
			spent, after)
	}
	hist, _ := s.History(ctx, HistoryFilter{})
	var refunds int
	for _, e := range hist {
		if e.Kind == KindRefund && e.AmountSat == 70 &&
			e.PaymentHash == ret.Hash().String() {
			refunds++
		}
	}
	if refunds != 1 {
		t.Fatalf("history %+v", hist)
	}
	if st, _ := s.Stats(ctx); len(st) != 1 || st[0].AmountMsat != 80_000 {
		t.Fatalf("stats count the refund as spending: %+v", st)
	}
}

// TestSessionsListed: `tokens list` shows a session, with its balance,
// never its preimage; it is not among the tokens (status and lnget's
// tokens list count those).
func TestSessionsListed(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	dep := l402.Preimage{7}
	if err := s.AddPending(ctx, Pending{PaymentHash: dep.Hash(),
		Origin: "http://a:80", Scheme: SchemePayment,
		Challenge: sessionChallenge(t, 2, 40, dep.Hash()), Invoice: "x",
		AmountMsat: 40_000, CreatedAt: now, ReturnInvoice: "r"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompletePending(ctx, dep.Hash(), dep, 0, now); err != nil {
		t.Fatal(err)
	}
	if views, err := s.Views(ctx, now); err != nil || len(views) != 0 {
		t.Fatalf("a session among the tokens: %+v %v", views, err)
	}
	views, err := s.SessionViews(ctx)
	if err != nil || len(views) != 1 || views[0].State != "session" ||
		views[0].BalanceSat == nil || *views[0].BalanceSat != 40 ||
		views[0].Scheme != SchemePayment {
		t.Fatalf("views %+v %v", views, err)
	}
	b, _ := json.Marshal(views)
	if strings.Contains(string(b), dep.String()) {
		t.Fatalf("the list shows the preimage: %s", b)
	}
	st, _ := os.Stat(s.Path())
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("store mode %v", st.Mode())
	}
}

// TestRefundHashNotPaidOut: the server that refunded a session learned
// the return invoice's preimage when it paid it, and can sell an invoice
// of the same payment hash. Paid, the ledger's row for that hash (the
// refund: money in, which no cap counts) would stand, and the purchase go
// uncounted by the caps. Such a payment is refused before it is recorded.
func TestRefundHashNotPaidOut(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	origin := "https://api.example:443"
	now := time.Unix(1_800_000_000, 0)

	dep := l402.Preimage{7}
	if err := s.AddPending(ctx, Pending{PaymentHash: dep.Hash(),
		Origin: origin, Scheme: SchemePayment,
		Challenge: sessionChallenge(t, 2, 40, dep.Hash()),
		Invoice:   "lnbcrt1x", AmountMsat: 40_000, CreatedAt: now,
		ReturnInvoice: "lnbcrt1return", URL: origin}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompletePending(ctx, dep.Hash(), dep, 0, now); err != nil {
		t.Fatal(err)
	}
	ret := l402.Preimage{9}
	if err := s.CloseSession(ctx, origin, dep.Hash(), Refund{
		PaymentHash: ret.Hash(), AmountSat: 1}, now); err != nil {
		t.Fatal(err)
	}
	spent, _ := s.Spent(ctx, "", now.Add(-time.Hour))

	ch, _ := json.Marshal(mpp.Challenge{ID: "c", Realm: "realm",
		Method: mpp.MethodLightning, Intent: mpp.IntentCharge})
	err := s.AddPending(ctx, Pending{PaymentHash: ret.Hash(),
		Origin: origin, Scheme: SchemePayment, Challenge: string(ch),
		Invoice: "lnbcrt1z", AmountMsat: 900_000, CreatedAt: now})
	if err == nil {
		if _, err := s.CompletePending(ctx, ret.Hash(), ret, 0,
			now); err != nil {
			t.Fatal(err)
		}
		after, _ := s.Spent(ctx, "", now.Add(-time.Hour))
		t.Fatalf("a payment to the refund's hash was recorded; the caps "+
			"count %d msat of its 900000 (spent %d -> %d)", after-spent,
			spent, after)
	}
	if !errors.Is(err, ErrRefundHash) {
		t.Fatalf("refused with %v, want ErrRefundHash", err)
	}

	// Recorded before the refund was (a close of another session in
	// between), the payment still counts once it settles.
	ret2 := l402.Preimage{10}
	if err := s.AddPending(ctx, Pending{PaymentHash: ret2.Hash(),
		Origin: origin, Scheme: SchemePayment, Challenge: string(ch),
		Invoice: "lnbcrt1w", AmountMsat: 900_000, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	h2 := ret2.Hash()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO payments (payment_hash,
		origin, scheme, kind, amount_msat, fee_msat, paid_at) VALUES
		(?, ?, ?, ?, 1000, 0, ?)`, h2[:], origin,
		SchemePayment, KindRefund, now.Unix()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompletePending(ctx, ret2.Hash(), ret2, 0, now); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.Spent(ctx, "", now.Add(-time.Hour)); after-spent !=
		900_000 {
		t.Fatalf("a payment settled onto a refund's hash counts %d msat "+
			"of its 900000", after-spent)
	}
}
