package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/l402/l402/internal/store"
)

func TestPruneQueries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		late := putLegacy(t, s, 1, 100) // expired
		early := putLegacy(t, s, 2, 50) // expired first
		putLegacy(t, s, 3, 1000)        // unexpired: its invoice is still payable
		paid := putLegacy(t, s, 4, 10)  // expired, but paid
		s.RecordToken(ctx, minted(5))   // derived: no row to prune
		if err := s.MarkSettled(ctx, key(t, paid)); err != nil {
			t.Fatal(err)
		}

		now := time.Unix(500, 0)
		got, err := s.PruneCandidates(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Key != key(t, early) ||
			got[1].Key != key(t, late) ||
			got[0].PaymentHash != early.ID.PaymentHash {
			t.Fatalf("candidates %x, want the two expired unpaid tokens, "+
				"oldest first", got)
		}
		if got, err := s.PruneCandidates(ctx, now, 1); err != nil ||
			len(got) != 1 || got[0].Key != key(t, early) {
			t.Fatalf("limit 1: %x %v", got, err)
		}
		if _, err := s.PruneCandidates(ctx, now, 0); err == nil {
			t.Fatal("limit 0 accepted")
		}

		// A settled row is never deleted; an unsettled one once.
		if gone, err := s.DeleteUnsettled(ctx, key(t, paid)); gone ||
			err != nil {
			t.Fatalf("settled token deleted: %v %v", gone, err)
		}
		if _, err := s.RootKey(ctx, paid.ID); err != nil {
			t.Fatalf("settled token: %v", err)
		}
		if gone, err := s.DeleteUnsettled(ctx, key(t, late)); !gone ||
			err != nil {
			t.Fatalf("delete: %v %v", gone, err)
		}
		if gone, err := s.DeleteUnsettled(ctx, key(t, late)); gone ||
			err != nil {
			t.Fatalf("second delete: %v %v", gone, err)
		}
		if _, err := s.RootKey(ctx, late.ID); !errors.Is(err,
			store.ErrNotFound) {
			t.Fatalf("deleted token: %v", err)
		}
		if err := s.MarkSettled(ctx, key(t, late)); !errors.Is(err,
			store.ErrNotFound) {
			t.Fatalf("settling a deleted token: %v", err)
		}

		total, settled, err := s.Stats(ctx)
		if err != nil || total != 3 || settled != 1 {
			t.Fatalf("stats %d total, %d settled (%v); want 3, 1", total,
				settled, err)
		}
	})
}

func TestStatsEmpty(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		total, settled, err := open().Stats(context.Background())
		if err != nil || total != 0 || settled != 0 {
			t.Fatalf("empty store: %d %d %v", total, settled, err)
		}
	})
}
