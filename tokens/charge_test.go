package tokens

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	_ "modernc.org/sqlite"
)

// TestChargeIsALedgerRowNotAToken: a pending Payment charge keeps its
// challenge, counts against the caps like any pending payment, and once
// settled is a ledger row of scheme payment; it stores no token and
// leaves the origin's L402 token alone.
func TestChargeIsALedgerRowNotAToken(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	origin := "https://api.example:443"
	now := time.Unix(1_800_000_000, 0)

	tokPre := l402.Preimage{1}
	if err := s.PutToken(ctx, Token{Origin: origin,
		Macaroon: testMacaroon(t, tokPre), Preimage: tokPre,
		PaymentHash: tokPre.Hash(), AmountMsat: 5000}); err != nil {
		t.Fatal(err)
	}

	pre := l402.Preimage{2}
	ch := `{"id":"x","realm":"r","method":"lightning","intent":"charge","request":"e30"}`
	p := Pending{PaymentHash: pre.Hash(), Origin: origin,
		Scheme: SchemePayment, Challenge: ch, Invoice: "lnbcrt1x",
		AmountMsat: 10_000, MaxFeeMsat: 1000, CreatedAt: now}
	if err := s.AddPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	pend, err := s.PendingFor(ctx, origin)
	if err != nil || len(pend) != 1 || pend[0].Scheme != SchemePayment ||
		pend[0].Challenge != ch || len(pend[0].Macaroon) != 0 {
		t.Fatalf("pending %+v %v", pend, err)
	}
	if spent, _ := s.Spent(ctx, origin, time.Time{}); spent != 11_000 {
		t.Fatalf("spent %d msat with the charge pending", spent)
	}

	tok, err := s.CompletePending(ctx, pre.Hash(), pre, 500, now)
	if err != nil || tok.Macaroon != nil || tok.Origin != origin ||
		tok.AmountMsat != 10_000 || tok.Preimage != pre {
		t.Fatalf("completed %+v %v", tok, err)
	}
	got, err := s.Token(ctx, origin)
	if err != nil || got.PaymentHash != tokPre.Hash() {
		t.Fatalf("the origin's token after a charge: %+v %v", got, err)
	}
	paid, err := s.Payments(ctx, origin, 0)
	if err != nil || len(paid) != 1 || paid[0].Scheme != SchemePayment ||
		paid[0].AmountMsat != 10_000 || paid[0].FeeMsat != 500 {
		t.Fatalf("ledger %+v %v", paid, err)
	}
	if spent, _ := s.Spent(ctx, origin, time.Time{}); spent != 10_500 {
		t.Fatalf("spent %d msat once settled", spent)
	}
	if pend, _ := s.PendingFor(ctx, ""); len(pend) != 0 {
		t.Fatalf("pending left %+v", pend)
	}
}

// TestAddPendingNeedsItsSchemesProof: an L402 pending payment needs its
// macaroon, a Payment one its challenge (and no macaroon), and no other
// scheme is recorded.
func TestAddPendingNeedsItsSchemesProof(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	pre := l402.Preimage{3}
	for _, p := range []Pending{
		{Invoice: "x"},
		{Scheme: SchemePayment, Invoice: "x"},
		{Scheme: SchemePayment, Challenge: "{}", Macaroon: []byte{1},
			Invoice: "x"},
		{Scheme: "x402", Challenge: "{}", Invoice: "x"},
	} {
		p.PaymentHash, p.Origin = pre.Hash(), "http://a:80"
		if err := s.AddPending(ctx, p); err == nil {
			t.Errorf("recorded %+v", p)
		}
	}
	if pend, _ := s.PendingFor(ctx, ""); len(pend) != 0 {
		t.Fatalf("pending %+v", pend)
	}
}

// TestMigrationKeepsOldRowsL402: a store written before the Payment
// scheme opens with its pending payments and ledger rows as L402 ones.
func TestMigrationKeepsOldRowsL402(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	pre := l402.Preimage{4}
	if err := s.AddPending(ctx, Pending{PaymentHash: pre.Hash(),
		Origin: "http://a:80", Macaroon: testMacaroon(t, pre),
		Invoice: "x", AmountMsat: 1000}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Undo migrations 0005, 0004 and 0003, as a store of the version
	// before them.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TABLE sessions`,
		`ALTER TABLE pending DROP COLUMN return_invoice`,
		`ALTER TABLE pending DROP COLUMN url`,
		`ALTER TABLE pending DROP COLUMN kind`,
		`ALTER TABLE payments DROP COLUMN kind`,
		`ALTER TABLE pending DROP COLUMN scheme`,
		`ALTER TABLE pending DROP COLUMN challenge`,
		`ALTER TABLE payments DROP COLUMN scheme`,
		`PRAGMA user_version = 2`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()

	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pend, err := s.PendingFor(ctx, "")
	if err != nil || len(pend) != 1 || pend[0].Scheme != SchemeL402 {
		t.Fatalf("pending after the migration %+v %v", pend, err)
	}
	if _, err := s.CompletePending(ctx, pre.Hash(), pre, 0,
		time.Now()); err != nil {
		t.Fatal(err)
	}
	paid, _ := s.Payments(ctx, "", 0)
	if _, err := s.Token(ctx, "http://a:80"); err != nil || len(paid) != 1 ||
		paid[0].Scheme != SchemeL402 {
		t.Fatalf("ledger %+v, token %v", paid, err)
	}
}
