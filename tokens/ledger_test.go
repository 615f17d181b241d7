package tokens

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"testing/fstest"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/sqlitedb"
)

// TestHistoryListsTheLedger records three payments at two origins and
// one pending, and reads them back newest first: all of them, one
// origin's, those since a time, and only the paid or pending ones, each
// with its amount, fee, scheme, kind, origin, hash and time.
func TestHistoryListsTheLedger(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	record := func(n byte, origin string, at time.Time, scheme string) {
		t.Helper()
		pre := l402.Preimage{n}
		p := Pending{PaymentHash: pre.Hash(), Origin: origin,
			Macaroon: testMacaroon(t, pre), Invoice: "lnbcrt1x",
			AmountMsat: int64(n) * 1000, MaxFeeMsat: 9000, Scheme: scheme,
			CreatedAt: at}
		if scheme == SchemePayment {
			// A charge keeps its challenge, not a macaroon.
			p.Macaroon, p.Challenge = nil, `{"id":"x"}`
		}
		if err := s.AddPending(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	pay := func(n byte, origin string, at time.Time, scheme string) {
		t.Helper()
		record(n, origin, at, scheme)
		pre := l402.Preimage{n}
		if _, err := s.CompletePending(ctx, pre.Hash(), pre, 1500,
			at); err != nil {
			t.Fatal(err)
		}
	}
	a, b := "https://a.example:443", "http://b.example:8080"
	pay(1, a, now.Add(-2*time.Hour), "")
	pay(2, b, now.Add(-time.Hour), SchemePayment)
	pay(3, a, now, SchemeL402)
	record(4, b, now.Add(time.Minute), "")

	all, err := s.History(ctx, HistoryFilter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("history %+v %v", all, err)
	}
	want := []Entry{
		{Time: now.Add(time.Minute).UTC(), Kind: KindPurchase,
			State: "pending", Scheme: SchemeL402, Origin: b,
			PaymentHash: (l402.Preimage{4}).Hash().String(), AmountSat: 4,
			AmountMsat: 4000, FeeSat: 9, FeeMsat: 9000},
		{Time: now.UTC(), Kind: KindPurchase, State: "paid",
			Scheme: SchemeL402, Origin: a,
			PaymentHash: (l402.Preimage{3}).Hash().String(), AmountSat: 3,
			AmountMsat: 3000, FeeSat: 2, FeeMsat: 1500},
		{Time: now.Add(-time.Hour).UTC(), Kind: KindPurchase,
			State: "paid", Scheme: SchemePayment, Origin: b,
			PaymentHash: (l402.Preimage{2}).Hash().String(), AmountSat: 2,
			AmountMsat: 2000, FeeSat: 2, FeeMsat: 1500},
		{Time: now.Add(-2 * time.Hour).UTC(), Kind: KindPurchase,
			State: "paid", Scheme: SchemeL402, Origin: a,
			PaymentHash: (l402.Preimage{1}).Hash().String(), AmountSat: 1,
			AmountMsat: 1000, FeeSat: 2, FeeMsat: 1500},
	}
	for i := range want {
		if all[i] != want[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, all[i], want[i])
		}
	}

	for _, tc := range []struct {
		name string
		f    HistoryFilter
		want []byte // preimages, newest first
	}{
		{"origin", HistoryFilter{Origin: a}, []byte{3, 1}},
		{"since", HistoryFilter{Since: now.Add(-time.Hour)}, []byte{4, 3, 2}},
		{"origin and since", HistoryFilter{Origin: b,
			Since: now.Add(-30 * time.Minute)}, []byte{4}},
		{"paid", HistoryFilter{State: "paid"}, []byte{3, 2, 1}},
		{"pending", HistoryFilter{State: "pending"}, []byte{4}},
		{"none", HistoryFilter{Origin: "https://c.example:443"}, nil},
	} {
		got, err := s.History(ctx, tc.f)
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%s: %+v %v", tc.name, got, err)
		}
		for i, n := range tc.want {
			if got[i].PaymentHash != (l402.Preimage{n}).Hash().String() {
				t.Fatalf("%s: entry %d is %+v, want preimage %d", tc.name,
					i, got[i], n)
			}
		}
	}
	if _, err := s.History(ctx, HistoryFilter{State: "failed"}); err == nil {
		t.Fatal("an unknown state was taken")
	}
}

// TestAddPendingRefusesAnUnknownScheme: the ledger keeps only the schemes
// and kinds it knows.
func TestAddPendingRefusesAnUnknownScheme(t *testing.T) {
	s := openTest(t)
	pre := l402.Preimage{1}
	for _, p := range []Pending{{Scheme: "x402"}, {Kind: "gift"}} {
		p.PaymentHash, p.Origin, p.Macaroon = pre.Hash(), "https://a:443",
			testMacaroon(t, pre)
		if err := s.AddPending(context.Background(), p); err == nil {
			t.Fatalf("%+v was recorded", p)
		}
	}
}

// TestLedgerMigrationKeepsOldPayments: a store of the schema before the
// scheme and kind columns opens with its payments as L402 purchases.
func TestLedgerMigrationKeepsOldPayments(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.db")
	db, err := sqlitedb.Open(ctx, path, oldMigrations(t, 2), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	pre := l402.Preimage{5}
	hash := pre.Hash()
	if _, err := db.Exec(`INSERT INTO payments (payment_hash, origin,
		amount_msat, fee_msat, paid_at) VALUES (?, ?, 7000, 0, 1800000000)`,
		hash[:], "https://old.example:443"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := s.History(ctx, HistoryFilter{})
	if err != nil || len(h) != 1 || h[0].Scheme != SchemeL402 ||
		h[0].Kind != KindPurchase || h[0].AmountSat != 7 {
		t.Fatalf("history %+v %v", h, err)
	}
}

// oldMigrations returns the store's first n migrations, as a store of an
// older l402 was made with.
func oldMigrations(t *testing.T, n int) fs.FS {
	t.Helper()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) < n {
		t.Fatalf("migrations %v %v", names, err)
	}
	out := fstest.MapFS{}
	for _, name := range names[:n] {
		b, err := fs.ReadFile(migrations, name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = &fstest.MapFile{Data: b}
	}
	return out
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90m":                  now.Add(-90 * time.Minute),
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.AddDate(0, 0, -7),
		"0d":                   now,
		"2026-05-01T08:00:00Z": time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC),
		"2026-05-01":           time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := ParseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-1h", "1.5d", "-2d",
		"2026-13-01"} {
		if got, err := ParseSince(in, now); err == nil {
			t.Errorf("%q: took it as %v", in, got)
		}
	}
}
