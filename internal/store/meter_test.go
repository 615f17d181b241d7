package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/store"
)

// booking is a bundle of value msat for the service "llm", model "m".
func booking(key string, value int64, at int64) store.Booking {
	return store.Booking{Key: key, Service: "llm", Model: "m",
		PriceSat: (value + 999) / 1000, ValueMsat: value,
		Now: time.Unix(at, 0), Expires: time.Unix(at+600, 0)}
}

func TestBundleLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		now := time.Unix(1000, 0)
		if err := s.BookBundle(ctx, booking("token:aa", 10_000, 1000)); err != nil {
			t.Fatal(err)
		}
		// A second booking of the key books nothing more.
		if err := s.BookBundle(ctx, booking("token:aa", 99_000, 1000)); err != nil {
			t.Fatal(err)
		}

		h, err := s.ReserveBundle(ctx, "token:aa", "llm", "m", 4000, now)
		if err != nil || h.Refused != store.Admitted || !h.Activated ||
			h.BalanceMsat != 10_000 {
			t.Fatalf("first reservation: %+v, %v", h, err)
		}
		h2, err := s.ReserveBundle(ctx, "token:aa", "llm", "m", 4000, now)
		if err != nil || h2.Refused != store.Admitted || h2.Activated {
			t.Fatalf("second reservation: %+v, %v", h2, err)
		}
		// 10000 less 8000 held does not cover 4000 more.
		if h3, err := s.ReserveBundle(ctx, "token:aa", "llm", "m", 4000,
			now); err != nil || h3.Refused != store.RefusedShort {
			t.Fatalf("third reservation: %+v, %v", h3, err)
		}

		st, err := s.SettleBundle(ctx, "token:aa", h.ID, 2500, now)
		if err != nil || st.DebitedMsat != 2500 || st.BalanceMsat != 7500 ||
			st.UnbilledMsat != 0 {
			t.Fatalf("first settlement: %+v, %v", st, err)
		}
		// Settling the same reservation again releases nothing more.
		if _, err := s.SettleBundle(ctx, "token:aa", h.ID, 0, now); err != nil {
			t.Fatal(err)
		}
		b, _, _ := s.Bundle(ctx, "token:aa")
		if b.ReservedMsat != 4000 || b.SpentMsat != 2500 {
			t.Fatalf("after one settlement: %+v", b)
		}
		// A debit beyond the balance empties it and says what it could
		// not take.
		st, err = s.SettleBundle(ctx, "token:aa", h2.ID, 9000, now)
		if err != nil || st.DebitedMsat != 7500 || st.BalanceMsat != 0 ||
			st.UnbilledMsat != 1500 {
			t.Fatalf("overrun: %+v, %v", st, err)
		}
		b, _, _ = s.Bundle(ctx, "token:aa")
		if b.ReservedMsat != 0 || b.SpentMsat != 10_000 ||
			b.UnbilledMsat != 1500 || b.BalanceMsat != 0 {
			t.Fatalf("after the overrun: %+v", b)
		}
		if h, err := s.ReserveBundle(ctx, "token:aa", "llm", "m", 0,
			now); err != nil || h.Refused != store.RefusedShort {
			t.Fatalf("empty bundle: %+v, %v", h, err)
		}

		for _, tc := range []struct {
			key, service, model string
			want                store.Refusal
		}{
			{"token:bb", "llm", "m", store.RefusedUnknown},
			{"token:aa", "other", "m", store.RefusedUnknown},
		} {
			h, err := s.ReserveBundle(ctx, tc.key, tc.service, tc.model, 1,
				now)
			if err != nil || h.Refused != tc.want {
				t.Errorf("%+v: %+v, %v", tc, h, err)
			}
		}
		if err := s.BookBundle(ctx, booking("token:cc", 5000, 1000)); err != nil {
			t.Fatal(err)
		}
		if h, err := s.ReserveBundle(ctx, "token:cc", "llm", "big", 1,
			now); err != nil || h.Refused != store.RefusedModel ||
			h.Model != "m" {
			t.Fatalf("another model: %+v, %v", h, err)
		}
	})
}

// TestReserveConcurrently admits 50 requests at once, half on each of two
// handles (replicas), against a bundle that covers seven reservations:
// seven are admitted, and the balance never goes below zero.
func TestReserveConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		a, b := open(), open()
		if err := a.BookBundle(ctx, booking("payment:01", 7_500, 100)); err != nil {
			t.Fatal(err)
		}
		now := time.Unix(110, 0)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			holds []int64
		)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				h, err := s.ReserveBundle(ctx, "payment:01", "llm", "m",
					1000, now)
				if err != nil {
					t.Error(err)
					return
				}
				if h.Refused != store.Admitted {
					return
				}
				mu.Lock()
				holds = append(holds, h.ID)
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(holds) != 7 {
			t.Fatalf("%d requests of 1000 msat admitted on 7500, want 7",
				len(holds))
		}
		if n, msat, err := a.Reservations(ctx); err != nil || n != 7 ||
			msat != 7000 {
			t.Fatalf("reservations: %d, %d, %v", n, msat, err)
		}

		// Each settles at what its reservation named, concurrently too.
		for i, id := range holds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				if _, err := s.SettleBundle(ctx, "payment:01", id, 1000,
					now); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		bundle, _, err := a.Bundle(ctx, "payment:01")
		if err != nil || bundle.BalanceMsat != 500 ||
			bundle.ReservedMsat != 0 || bundle.SpentMsat != 7000 {
			t.Fatalf("after settling: %+v, %v", bundle, err)
		}
		if n, _, _ := a.Reservations(ctx); n != 0 {
			t.Fatalf("%d reservations left", n)
		}
	})
}

func TestPruneMeter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		// Booked at 1000, payable until 1600.
		for _, k := range []string{"token:01", "token:02"} {
			if err := s.BookBundle(ctx, booking(k, 5000, 1000)); err != nil {
				t.Fatal(err)
			}
		}
		h, err := s.ReserveBundle(ctx, "token:02", "llm", "m", 3000,
			time.Unix(1100, 0))
		if err != nil || h.Refused != store.Admitted {
			t.Fatal(h, err)
		}
		bookings, reservations, err := s.PruneMeter(ctx,
			time.Unix(1700, 0), time.Unix(1050, 0))
		if err != nil || bookings != 1 || reservations != 0 {
			t.Fatalf("prune: %d, %d, %v", bookings, reservations, err)
		}
		if _, ok, _ := s.Bundle(ctx, "token:01"); ok {
			t.Error("the unpaid booking is still there")
		}
		bookings, reservations, err = s.PruneMeter(ctx,
			time.Unix(1700, 0), time.Unix(1200, 0))
		if err != nil || bookings != 0 || reservations != 1 {
			t.Fatalf("prune: %d, %d, %v", bookings, reservations, err)
		}
		b, ok, _ := s.Bundle(ctx, "token:02")
		if !ok || b.ReservedMsat != 0 || b.BalanceMsat != 5000 {
			t.Fatalf("after releasing: %+v", b)
		}
		// The request settles late: its reservation is not released
		// twice, and its cost is taken.
		st, err := s.SettleBundle(ctx, "token:02", h.ID, 1200,
			time.Unix(1300, 0))
		if err != nil || st.BalanceMsat != 3800 {
			t.Fatalf("late settlement: %+v, %v", st, err)
		}
		if b, _, _ := s.Bundle(ctx, "token:02"); b.ReservedMsat != 0 {
			t.Fatalf("reserved %d after a late settlement", b.ReservedMsat)
		}
	})
}

func TestSettleSessionDraw(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		// 20 deposited, 2 drawn by the open: 18 left.
		if err := s.OpenSession(ctx, newSession(1, 20, 2, 100)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			drawn, cost, want int64
		}{
			{2, 1, 19}, // cost less than drawn: one back
			{2, 2, 19}, // as drawn
			{2, 5, 16}, // three more taken
			{0, 40, 0}, // beyond the balance: emptied
			{10, 3, 7}, // seven back on an empty session
		} {
			got, err := s.SettleSessionDraw(ctx, hashOf(1), "api",
				tc.drawn, tc.cost)
			if err != nil || got != tc.want {
				t.Fatalf("%+v: %d, %v", tc, got, err)
			}
		}
		info, err := s.Session(ctx, hashOf(1))
		if err != nil || info.BalanceSat != 7 ||
			info.DepositedSat-info.SpentSat != 7 {
			t.Fatalf("session: %+v, %v", info, err)
		}
		if got, err := s.SettleSessionDraw(ctx, hashOf(9), "api", 2,
			1); err != nil || got != 0 {
			t.Fatalf("unknown session: %d, %v", got, err)
		}
	})
}
