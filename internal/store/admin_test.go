package store_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/store"
)

// TestTransactions: every minted token is a pending transaction; the node's
// settle and cancel resolve it once; the preimage's proof (MarkSettled)
// and pruning's cancel do too; filters, paging and totals.
func TestTransactions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		for n := byte(1); n <= 4; n++ {
			m := minted(n)
			m.PriceSat, m.CreatedAt = int64(n)*100, time.Unix(int64(n)*86400, 0)
			m.AddIndex = uint64(n) + 10
			if n < 4 {
				s.RecordToken(ctx, m) // read at once below: flushed
				continue
			}
			// Token 4 from before root keys were derived: a stored
			// key's row, which DeleteUnsettled deletes, written after
			// the queued three.
			m.Service = "other"
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.PutLegacyRootKey(ctx, m, make([]byte, 32),
				time.Unix(601, 0)); err != nil {
				t.Fatal(err)
			}
		}
		pending, first, err := s.PendingSince(ctx)
		if err != nil || len(pending) != 4 || first != 11 ||
			!pending[l402.Hash{2}] {
			t.Fatalf("pending %v from %d: %v", pending, first, err)
		}

		at := time.Unix(5*86400, 0)
		if ok, err := s.SettleInvoice(ctx, l402.Hash{1}, at); !ok || err != nil {
			t.Fatalf("settle: %v %v", ok, err)
		}
		if ok, _ := s.CancelInvoice(ctx, l402.Hash{1}, at); ok {
			t.Fatal("a settled transaction was canceled")
		}
		if ok, _ := s.CancelInvoice(ctx, l402.Hash{2}, at); !ok {
			t.Fatal("cancel")
		}
		if err := s.MarkSettled(ctx, key(t, minted(3))); err != nil {
			t.Fatal(err)
		}
		if gone, err := s.DeleteUnsettled(ctx, key(t, minted(4))); !gone ||
			err != nil {
			t.Fatalf("delete unsettled: %v %v", gone, err)
		}

		all, total, err := s.Transactions(ctx, store.TransactionFilter{Limit: 10})
		if err != nil || total != 4 || len(all) != 4 {
			t.Fatalf("all: %d of %d: %v", len(all), total, err)
		}
		want := []string{store.StateCanceled, store.StateSettled,
			store.StateCanceled, store.StateSettled} // newest first
		for i, tx := range all {
			if tx.State != want[i] || tx.ID != int64(4-i) ||
				tx.TokenID != (l402.TokenID{byte(4 - i)}) ||
				tx.Scheme != store.SchemeL402 {
				t.Errorf("transaction %d: %+v", i, tx)
			}
		}
		if !all[3].SettledAt.Equal(at) || all[3].PriceSat != 100 ||
			!all[3].CreatedAt.Equal(time.Unix(86400, 0)) ||
			all[2].CanceledAt.IsZero() || all[0].CanceledAt.IsZero() {
			t.Errorf("times: %+v", all)
		}

		page, total, _ := s.Transactions(ctx, store.TransactionFilter{
			Service: "svc", State: store.StateSettled, Limit: 1, Offset: 1})
		if total != 2 || len(page) != 1 || page[0].ID != 1 {
			t.Errorf("filtered page: %+v of %d", page, total)
		}
		ranged, total, _ := s.Transactions(ctx, store.TransactionFilter{
			From: time.Unix(2*86400, 0), To: time.Unix(3*86400, 0), Limit: 9})
		if total != 2 || len(ranged) != 2 {
			t.Errorf("date range: %+v", ranged)
		}
		tokens, total, _ := s.Transactions(ctx, store.TransactionFilter{
			Tokens: true, Limit: 9})
		if total != 2 || len(tokens) != 2 {
			t.Errorf("tokens: %+v", tokens)
		}

		if err := s.Revoke(ctx, l402.TokenID{1}, at); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, l402.TokenID{1}, at); !errors.Is(err,
			store.ErrAlreadyRevoked) {
			t.Fatalf("revoked twice: %v", err)
		}
		tokens, total, _ = s.Transactions(ctx, store.TransactionFilter{
			Tokens: true, Limit: 9})
		if total != 1 || tokens[0].ID != 3 {
			t.Errorf("tokens after a revocation: %+v", tokens)
		}
		tx, err := s.TransactionByToken(ctx, l402.TokenID{1})
		if err != nil || !tx.RevokedAt.Equal(at) {
			t.Errorf("revoked transaction: %+v %v", tx, err)
		}
		if _, err := s.TransactionByToken(ctx, l402.TokenID{9}); !errors.Is(err,
			store.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
	})
}

// TestRevocationsAndGenerations: revocations are read in order from a
// sequence number; the generations move with every service change and
// revocation.
func TestRevocationsAndGenerations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		g0, err := s.Generations(ctx)
		if err != nil || g0 != (store.Generations{}) {
			t.Fatalf("fresh generations: %+v %v", g0, err)
		}
		for n := byte(1); n <= 3; n++ {
			if err := s.Revoke(ctx, l402.TokenID{n}, time.Unix(9, 0)); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.RevokedSince(ctx, 0)
		if err != nil || len(all) != 3 || all[2].TokenID != (l402.TokenID{3}) {
			t.Fatalf("revoked: %+v %v", all, err)
		}
		later, _ := s.RevokedSince(ctx, all[0].Seq)
		if len(later) != 2 || later[0].TokenID != (l402.TokenID{2}) {
			t.Fatalf("revoked since %d: %+v", all[0].Seq, later)
		}
		if ok, err := s.IsRevoked(ctx, l402.TokenID{2}); !ok || err != nil {
			t.Fatalf("is revoked: %v %v", ok, err)
		}
		if ok, _ := s.IsRevoked(ctx, l402.TokenID{7}); ok {
			t.Fatal("a token never revoked is revoked")
		}

		price := int64(7)
		if err := s.PutServiceRow(ctx, store.ServiceRow{Name: "b",
			Created: true, Price: &price, UpdatedAt: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutServiceRow(ctx, store.ServiceRow{Name: "a",
			Deleted: true}); err != nil {
			t.Fatal(err)
		}
		price = 8
		if err := s.PutServiceRow(ctx, store.ServiceRow{Name: "b",
			Created: true, Price: &price}); err != nil {
			t.Fatal(err)
		}
		rows, gen, err := s.ServiceRows(ctx)
		if err != nil || gen != 3 || len(rows) != 2 || rows[0].Name != "b" ||
			*rows[0].Price != 8 || !rows[0].Created || rows[0].Address != nil ||
			!rows[1].Deleted || rows[1].Price != nil {
			t.Fatalf("rows %+v gen %d: %v", rows, gen, err)
		}
		if gone, err := s.DeleteServiceRow(ctx, "b"); !gone || err != nil {
			t.Fatalf("delete row: %v %v", gone, err)
		}
		g, _ := s.Generations(ctx)
		if g.Services != 4 || g.Revocations != all[2].Seq {
			t.Fatalf("generations %+v", g)
		}
	})
}

// TestAdminRootKeyIsShared: the first replica's key stays; a second one's
// fresh key is not stored.
func TestAdminRootKeyIsShared(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		a, b := open(), open()
		first := bytes.Repeat([]byte{1}, 32)
		got, err := a.AdminRootKey(ctx, first)
		if err != nil || !bytes.Equal(got, first) {
			t.Fatalf("first key: %x %v", got, err)
		}
		got, err = b.AdminRootKey(ctx, bytes.Repeat([]byte{2}, 32))
		if err != nil || !bytes.Equal(got, first) {
			t.Fatalf("second replica's key: %x %v", got, err)
		}
	})
}

// TestDailyStats: challenges count on the day they were minted, revenue
// on the day it settled, paid requests as the replicas added them.
func TestDailyStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		day := func(n int) time.Time { return time.Unix(int64(n)*86400+60, 0) }
		for n := byte(1); n <= 3; n++ {
			m := minted(n)
			m.PriceSat, m.CreatedAt = 100, day(1)
			s.RecordToken(ctx, m)
		}
		s.SettleInvoice(ctx, l402.Hash{1}, day(1))
		s.SettleInvoice(ctx, l402.Hash{2}, day(2))
		if err := s.AddPaidRequests(ctx, day(2), map[string]int64{"svc": 3}); err != nil {
			t.Fatal(err)
		}
		s.AddPaidRequests(ctx, day(2), map[string]int64{"svc": 2})

		days, err := s.DailyStats(ctx, time.Time{}, time.Time{})
		if err != nil || len(days) != 2 {
			t.Fatalf("days %+v: %v", days, err)
		}
		d1, d2 := days[0], days[1]
		if d1.Date != "1970-01-02" || d1.Challenges != 3 || d1.Settled != 1 ||
			d1.RevenueSat != 100 || d1.PaidRequests != 0 {
			t.Errorf("day 1: %+v", d1)
		}
		if d2.Date != "1970-01-03" || d2.Challenges != 0 || d2.Settled != 1 ||
			d2.RevenueSat != 100 || d2.PaidRequests != 5 {
			t.Errorf("day 2: %+v", d2)
		}
		only2, _ := s.DailyStats(ctx, day(2), day(3))
		if len(only2) != 1 || only2[0] != d2 {
			t.Errorf("from day 2: %+v", only2)
		}
	})
}

// TestShadowChallenges: the would-be challenges of shadow mode add up by
// day and service, on every backend, and come with the day's figures.
func TestShadowChallenges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		day := func(n int) time.Time { return time.Unix(int64(n)*86400+60, 0) }
		if err := s.AddShadowChallenges(ctx, day(1), map[string]store.Shadow{
			"svc": {Challenges: 2, PriceSat: 200}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddShadowChallenges(ctx, day(1), map[string]store.Shadow{
			"svc": {Challenges: 1, PriceSat: 150}, "b": {Challenges: 1,
				PriceSat: 7}}); err != nil {
			t.Fatal(err)
		}
		s.AddShadowChallenges(ctx, day(3), map[string]store.Shadow{
			"svc": {Challenges: 1, PriceSat: 100}})

		days, err := s.DailyStats(ctx, time.Time{}, time.Time{})
		if err != nil || len(days) != 3 {
			t.Fatalf("days %+v: %v", days, err)
		}
		if d := days[1]; d.Date != "1970-01-02" || d.Service != "svc" ||
			d.ShadowChallenges != 3 || d.ShadowRevenueSat != 350 ||
			d.Challenges != 0 {
			t.Errorf("svc on day 1: %+v", d)
		}
		if d := days[0]; d.Service != "b" || d.ShadowRevenueSat != 7 {
			t.Errorf("b on day 1: %+v", d)
		}
		only3, _ := s.DailyStats(ctx, day(2), day(3))
		if len(only3) != 1 || only3[0].ShadowRevenueSat != 100 {
			t.Errorf("from day 2: %+v", only3)
		}
	})
}

// TestRecordChallenge: a Payment challenge's invoice is a pending
// transaction of its scheme, once per payment hash; the node's settle
// resolves it; it is no token.
func TestRecordChallenge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		c := store.Challenge{PaymentHash: l402.Hash{9}, Service: "api",
			PriceSat: 40, Scheme: store.SchemePaymentSession, AddIndex: 3,
			CreatedAt: time.Unix(86400, 0)}
		var dups atomic.Int64
		s.SetBookkeepingFailureHandler(func(rows int, err error) {
			dups.Add(int64(rows))
		})
		s.RecordChallenge(ctx, c)
		s.RecordChallenge(ctx, c) // one invoice, written once
		pending, first, err := s.PendingSince(ctx)
		if err != nil || !pending[l402.Hash{9}] || first != 3 {
			t.Fatalf("pending %v from %d: %v", pending, first, err)
		}
		if ok, err := s.SettleInvoice(ctx, l402.Hash{9},
			time.Unix(90000, 0)); !ok || err != nil {
			t.Fatalf("settle: %v %v", ok, err)
		}
		txs, n, err := s.Transactions(ctx, store.TransactionFilter{Limit: 10})
		if err != nil || n != 1 || txs[0].Scheme != store.SchemePaymentSession ||
			txs[0].State != store.StateSettled || txs[0].PriceSat != 40 {
			t.Fatalf("%+v %d %v", txs, n, err)
		}
		if _, n, _ := s.Transactions(ctx, store.TransactionFilter{
			Tokens: true}); n != 0 {
			t.Fatalf("a Payment transaction listed as a token")
		}
		if dups.Load() != 0 {
			t.Fatalf("%d rows reported failed, want none: the "+
				"duplicate's row is there", dups.Load())
		}
	})
}
