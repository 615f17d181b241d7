package mpp

import (
	"errors"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// TestVetSession: a buyer's checks of a session challenge, each refusal.
func TestVetSession(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	hash := l402.Preimage{1}.Hash()
	mk := func(f func(*SessionRequest, *Challenge)) Challenge {
		req := SessionRequest{Amount: "2", Currency: CurrencySat,
			DepositInvoice: "lnbcrt1x", DepositAmount: "40",
			PaymentHash: hash.String()}
		ch := Challenge{ID: "id", Realm: "r", Method: MethodLightning,
			Intent: IntentSession, Expires: FormatExpires(now.Add(time.Minute))}
		if f != nil {
			f(&req, &ch)
		}
		ch.Request, _ = EncodeRequest(req)
		return ch
	}
	o, err := VetSession(mk(nil), 40, now)
	if err != nil || o.PriceSat != 2 || o.DepositSat != 40 ||
		o.PaymentHash != hash {
		t.Fatalf("%+v %v", o, err)
	}
	if err := o.CheckInvoice(hash, 40_000); err != nil {
		t.Fatal(err)
	}
	if err := o.CheckInvoice(l402.Hash{2}, 40_000); !errors.Is(err,
		ErrHashMismatch) {
		t.Fatalf("another hash: %v", err)
	}
	if err := o.CheckInvoice(hash, 41_000); !errors.Is(err,
		ErrRequestMismatch) {
		t.Fatalf("another amount: %v", err)
	}
	for name, c := range map[string]struct {
		ch   Challenge
		max  int64
		want error
	}{
		"charge":       {mk(func(_ *SessionRequest, c *Challenge) { c.Intent = IntentCharge }), 40, ErrUnsupported},
		"no deposit":   {mk(func(r *SessionRequest, _ *Challenge) { r.DepositInvoice = "" }), 40, ErrMalformed},
		"dear request": {mk(func(r *SessionRequest, _ *Challenge) { r.Amount = "41" }), 100, ErrRequestMismatch},
		"expired":      {mk(func(_ *SessionRequest, c *Challenge) { c.Expires = FormatExpires(now) }), 40, ErrExpired},
		"over budget":  {mk(nil), 39, ErrOverBudget},
	} {
		if _, err := VetSession(c.ch, c.max, now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// TestProblemConditionReadsProblemFor: every condition ProblemFor writes
// reads back as one with the same type.
func TestProblemConditionReadsProblemFor(t *testing.T) {
	for _, p := range problems {
		got := ProblemCondition(ProblemFor(p.err).JSON())
		if got == nil || ProblemFor(got).Type != ProblemFor(p.err).Type {
			t.Errorf("%v read back as %v", p.err, got)
		}
	}
	if !errors.Is(ProblemCondition(ProblemFor(ErrInsufficient).JSON()),
		ErrInsufficient) {
		t.Fatal("insufficient balance")
	}
	for _, body := range []string{"", "payment required", `{"type":"x"}`,
		`{"type":1}`} {
		if err := ProblemCondition([]byte(body)); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
}
