package tokens

import (
	"context"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// TestPaymentsListsTheLedger records three payments at two origins and
// reads them back newest first, for one origin or all, with a limit.
func TestPaymentsListsTheLedger(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	pay := func(n byte, origin string, at time.Time) {
		t.Helper()
		pre := l402.Preimage{n}
		if err := s.AddPending(ctx, Pending{PaymentHash: pre.Hash(),
			Origin: origin, Macaroon: testMacaroon(t, pre),
			Invoice: "lnbcrt1x", AmountMsat: int64(n) * 1000,
			CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompletePending(ctx, pre.Hash(), pre, 7, at); err != nil {
			t.Fatal(err)
		}
	}
	a, b := "https://a.example:443", "http://b.example:8080"
	pay(1, a, now.Add(-2*time.Hour))
	pay(2, b, now.Add(-time.Hour))
	pay(3, a, now)

	all, err := s.Payments(ctx, "", 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("payments %+v %v", all, err)
	}
	for i, want := range []byte{3, 2, 1} {
		p := all[i]
		if p.PaymentHash != (l402.Preimage{want}).Hash() ||
			p.AmountMsat != int64(want)*1000 || p.FeeMsat != 7 {
			t.Fatalf("payment %d: %+v, want the one of preimage %d", i, p,
				want)
		}
	}
	if !all[0].PaidAt.Equal(now) || all[0].Origin != a {
		t.Fatalf("newest %+v", all[0])
	}

	ofA, err := s.Payments(ctx, a, 0)
	if err != nil || len(ofA) != 2 || ofA[1].Origin != a {
		t.Fatalf("payments of %s: %+v %v", a, ofA, err)
	}
	last, err := s.Payments(ctx, "", 1)
	if err != nil || len(last) != 1 || last[0].PaymentHash != all[0].PaymentHash {
		t.Fatalf("the last payment: %+v %v", last, err)
	}
}
