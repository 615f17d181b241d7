package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/l402/l402/internal/mpp"
)

// openForDraws opens a SQLite store with a session per deposit in
// deposits (ids 1, 2, ...), each opened at unix second 100 drawing 1.
func openForDraws(t *testing.T, deposits ...int64) *Store {
	t.Helper()
	s := openTestSQLite(t)
	for i, d := range deposits {
		if err := s.OpenSession(context.Background(), NewSession{
			ID: [32]byte{byte(i + 1)}, Service: "api",
			ReturnInvoice: "lnbcrt1refund", DepositSat: d, DrawSat: 1,
			ChallengeID: "cid", ChallengeExpires: time.Unix(700, 0),
			Now: time.Unix(100, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// draws returns n draws of price on session id at unix second at.
func draws(id byte, price int64, at int64, n int) []*draw {
	out := make([]*draw, n)
	for i := range out {
		out[i] = &draw{id: [32]byte{id}, service: "api", price: price,
			now: time.Unix(at, 0), idle: time.Hour,
			done: make(chan struct{})}
	}
	return out
}

// TestDrawBatchOneUpdatePerSession: the draws of one batch on one
// session, alike in all but their request, run as one guarded UPDATE of
// their sum (a session's concurrent requests repeat one credential), and
// each is answered with the balance it leaves, in the batch's order, as
// if they had run one by one.
func TestDrawBatchOneUpdatePerSession(t *testing.T) {
	s := openForDraws(t, 100, 50)
	batch := append(draws(1, 1, 110, 10), draws(2, 2, 110, 3)...)
	s.commitBatch(batch)
	for i, d := range batch[:10] {
		if want := int64(98 - i); d.err != nil || d.balance != want {
			t.Fatalf("draw %d on session 1: %d %v, want %d", i, d.balance,
				d.err, want)
		}
	}
	for i, d := range batch[10:] {
		if want := int64(47 - 2*i); d.err != nil || d.balance != want {
			t.Fatalf("draw %d on session 2: %d %v, want %d", i, d.balance,
				d.err, want)
		}
	}
	if n := s.drawStatements.Load(); n != 2 {
		t.Fatalf("%d draw statements for two sessions, want 2", n)
	}
	for id, want := range map[byte]int64{1: 89, 2: 43} {
		info, err := s.Session(context.Background(), [32]byte{id})
		if err != nil || info.BalanceSat != want {
			t.Fatalf("session %d: %+v %v, want a balance of %d", id, info,
				err, want)
		}
	}
}

// TestDrawBatchShortBalance: when a batch's draws on a session ask more
// than its balance, as many as it covers are taken, in order, and the
// rest refused with mpp.ErrInsufficient: never an overdraw, and no draw
// refused that the balance covered. Draws on a closed session are all
// refused.
func TestDrawBatchShortBalance(t *testing.T) {
	s := openForDraws(t, 4, 10)
	if _, err := s.CloseSession(context.Background(), [32]byte{2}, "api",
		time.Unix(105, 0)); err != nil {
		t.Fatal(err)
	}
	batch := append(draws(1, 1, 110, 5), draws(2, 1, 110, 3)...)
	s.commitBatch(batch)
	for i, d := range batch[:5] {
		switch {
		case i < 3 && (d.err != nil || d.balance != int64(2-i)):
			t.Fatalf("draw %d: %d %v, want %d", i, d.balance, d.err, 2-i)
		case i >= 3 && !errors.Is(d.err, mpp.ErrInsufficient):
			t.Fatalf("draw %d past the balance: %v", i, d.err)
		}
	}
	for i, d := range batch[5:] {
		if !errors.Is(d.err, mpp.ErrSessionClosed) {
			t.Fatalf("draw %d on the closed session: %v", i, d.err)
		}
	}
	info, err := s.Session(context.Background(), [32]byte{1})
	if err != nil || info.BalanceSat != 0 || info.SpentSat != 4 {
		t.Fatalf("session 1: %+v %v, want balance 0, spent 4", info, err)
	}
}
