package store_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// hashOf returns a payment hash made of one repeated byte.
func hashOf(b byte) [32]byte {
	var h [32]byte
	for i := range h {
		h[i] = b
	}
	return h
}

// TestSecrets checks that each secret (the Payment challenges' and the
// root keys') is made once, 32 random bytes, that every opening of the
// database (every replica) reads the same one, and that the two differ.
func TestSecrets(t *testing.T) {
	secrets := []struct {
		name string
		get  func(*store.Store, context.Context) ([]byte, error)
	}{
		{"challenge", (*store.Store).ChallengeSecret},
		{"root key", (*store.Store).RootKeySecret},
	}
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		a, b := open(), open()
		var got [][]byte
		for _, sec := range secrets {
			var wg sync.WaitGroup
			read := make([][]byte, 2)
			errs := make([]error, 2)
			for i, s := range []*store.Store{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					read[i], errs[i] = sec.get(s, ctx)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("%s: %v", sec.name, err)
				}
			}
			if len(read[0]) != 32 || !bytes.Equal(read[0], read[1]) {
				t.Fatalf("%s secrets %x and %x: want one 32-byte secret",
					sec.name, read[0], read[1])
			}
			again, err := sec.get(open(), ctx)
			if err != nil || !bytes.Equal(again, read[0]) {
				t.Fatalf("%s: a later opening reads %x, %v", sec.name,
					again, err)
			}
			got = append(got, read[0])
		}
		if bytes.Equal(got[0], got[1]) {
			t.Fatal("the challenge and root key secrets are one")
		}
	})
}

// TestClaimOnce checks that a payment hash is claimed once: the second
// claim, from this or another connection, is mpp.ErrReused, and of many
// concurrent claims exactly one wins. Expired claims are pruned.
func TestClaimOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		a, b := open(), open()
		exp := time.Unix(1000, 0)
		if err := a.ClaimPayment(ctx, hashOf(1), "cid", exp,
			time.Unix(10, 0)); err != nil {
			t.Fatal(err)
		}
		err := b.ClaimPayment(ctx, hashOf(1), "cid", exp, time.Unix(11, 0))
		if !errors.Is(err, mpp.ErrReused) {
			t.Fatalf("second claim: %v, want ErrReused", err)
		}

		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				err := s.ClaimPayment(ctx, hashOf(2), "cid", exp,
					time.Unix(12, 0))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case !errors.Is(err, mpp.ErrReused):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d of %d concurrent claims won, want 1", won, n)
		}

		if err := a.ClaimPayment(ctx, hashOf(3), "cid",
			time.Unix(5000, 0), time.Unix(12, 0)); err != nil {
			t.Fatal(err)
		}
		pruned, err := a.PruneClaims(ctx, time.Unix(1001, 0))
		if err != nil || pruned != 2 {
			t.Fatalf("pruned %d, %v; want the 2 claims expired before 1001",
				pruned, err)
		}
		err = a.ClaimPayment(ctx, hashOf(3), "cid", time.Unix(5000, 0),
			time.Unix(13, 0))
		if !errors.Is(err, mpp.ErrReused) {
			t.Fatalf("an unexpired claim was pruned: %v", err)
		}
	})
}

// newSession returns a session opening at unix second at.
func newSession(id byte, deposit, draw int64, at int64) store.NewSession {
	return store.NewSession{ID: hashOf(id), Service: "api",
		ReturnInvoice: "lnbcrt1refund", DepositSat: deposit, DrawSat: draw,
		ChallengeID: "cid", ChallengeExpires: time.Unix(at+600, 0),
		Now: time.Unix(at, 0)}
}

// TestSessionLifecycle opens a session, draws it down to below the price,
// tops it up, and closes it, checking each balance and refusal.
func TestSessionLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		idle := 300 * time.Second
		if err := s.OpenSession(ctx, newSession(1, 10, 3, 100)); err != nil {
			t.Fatal(err)
		}
		// The deposit is claimed: it cannot open again, nor top up.
		if err := s.OpenSession(ctx, newSession(1, 10, 3, 101)); !errors.Is(
			err, mpp.ErrReused) {
			t.Fatalf("second open: %v", err)
		}

		for i, want := range []int64{4, 1} {
			bal, err := s.DrawSession(ctx, hashOf(1), "api", 3,
				time.Unix(110+int64(i), 0), idle)
			if err != nil || bal != want {
				t.Fatalf("draw %d: balance %d, %v; want %d", i, bal, err,
					want)
			}
		}
		if _, err := s.DrawSession(ctx, hashOf(1), "api", 3,
			time.Unix(120, 0), idle); !errors.Is(err, mpp.ErrInsufficient) {
			t.Fatalf("draw past the balance: %v", err)
		}
		if _, err := s.DrawSession(ctx, hashOf(1), "other", 3,
			time.Unix(120, 0), idle); !errors.Is(err, mpp.ErrWrongResource) {
			t.Fatalf("draw for another service: %v", err)
		}
		if _, err := s.DrawSession(ctx, hashOf(9), "api", 3,
			time.Unix(120, 0), idle); !errors.Is(err, mpp.ErrUnknownSession) {
			t.Fatalf("draw on no session: %v", err)
		}

		top := store.TopUp{ID: hashOf(1), Service: "api",
			DepositHash: hashOf(2), DepositSat: 10, ChallengeID: "cid2",
			ChallengeExpires: time.Unix(800, 0), Now: time.Unix(130, 0),
			Idle: idle}
		if bal, err := s.TopUpSession(ctx, top); err != nil || bal != 11 {
			t.Fatalf("top-up: balance %d, %v; want 1+10", bal, err)
		}
		if bal, err := s.DrawSession(ctx, hashOf(1), "api", 3,
			time.Unix(135, 0), idle); err != nil || bal != 8 {
			t.Fatalf("draw after the top-up: balance %d, %v", bal, err)
		}
		if _, err := s.TopUpSession(ctx, top); !errors.Is(err,
			mpp.ErrReused) {
			t.Fatalf("second top-up with one deposit: %v", err)
		}

		got, err := s.CloseSession(ctx, hashOf(1), "api", time.Unix(140, 0))
		if err != nil || got.RefundSat != 8 || got.Service != "api" ||
			got.ReturnInvoice != "lnbcrt1refund" {
			t.Fatalf("close: %+v, %v; want the 8 left refunded", got, err)
		}
		if _, err := s.CloseSession(ctx, hashOf(1), "api",
			time.Unix(141, 0)); !errors.Is(err, mpp.ErrSessionClosed) {
			t.Fatalf("second close: %v", err)
		}
		if _, err := s.DrawSession(ctx, hashOf(1), "api", 3,
			time.Unix(142, 0), idle); !errors.Is(err, mpp.ErrSessionClosed) {
			t.Fatalf("draw on a closed session: %v", err)
		}
		if err := s.RecordRefund(ctx, hashOf(1), mpp.RefundSucceeded); err != nil {
			t.Fatal(err)
		}
		info, err := s.Session(ctx, hashOf(1))
		if err != nil || info.Status != "closed" || info.RefundSat != 8 ||
			info.RefundStatus != mpp.RefundSucceeded || info.SpentSat != 12 ||
			info.DepositedSat != 20 || info.BalanceSat != 0 {
			t.Fatalf("closed session %+v, %v", info, err)
		}
	})
}

// TestSessionIdle checks that an idle session refuses draws and top-ups
// but can still be closed (by its holder, or by the pruner), refunding
// what it holds.
func TestSessionIdle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		idle := 300 * time.Second
		if err := s.OpenSession(ctx, newSession(1, 10, 8, 100)); err != nil {
			t.Fatal(err)
		}
		if err := s.OpenSession(ctx, newSession(2, 10, 1, 100)); err != nil {
			t.Fatal(err)
		}
		late := time.Unix(100+301, 0)
		if _, err := s.DrawSession(ctx, hashOf(1), "api", 1, late,
			idle); !errors.Is(err, mpp.ErrSessionClosed) {
			t.Fatalf("draw on an idle session: %v", err)
		}
		if _, err := s.TopUpSession(ctx, store.TopUp{ID: hashOf(1),
			Service: "api", DepositHash: hashOf(3), DepositSat: 10,
			ChallengeID: "c", ChallengeExpires: time.Unix(900, 0),
			Now: late, Idle: idle}); !errors.Is(err,
			mpp.ErrSessionClosed) {
			t.Fatalf("top-up of an idle session: %v", err)
		}
		// The refused top-up left its deposit unclaimed.
		if err := s.ClaimPayment(ctx, hashOf(3), "c", time.Unix(900, 0),
			late); err != nil {
			t.Fatalf("the refused top-up kept its claim: %v", err)
		}

		ids, err := s.IdleSessions(ctx, late.Add(-idle), 10)
		if err != nil || len(ids) != 2 {
			t.Fatalf("idle sessions %x, %v", ids, err)
		}
		got, err := s.CloseSession(ctx, hashOf(1), "api", late)
		if err != nil || got.RefundSat != 2 {
			t.Fatalf("idle close: %+v, %v; want the 2 left refunded", got,
				err)
		}
		if ids, err := s.IdleSessions(ctx, late.Add(-idle), 10); err != nil ||
			len(ids) != 1 || ids[0] != hashOf(2) {
			t.Fatalf("idle sessions after one close %x, %v", ids, err)
		}
	})
}

// TestDrawConcurrently draws a session from two connections at once: the
// balance never goes below zero and exactly balance/price draws win.
func TestDrawConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		a, b := open(), open()
		if err := a.OpenSession(ctx, newSession(1, 20, 2, 100)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				_, err := s.DrawSession(ctx, hashOf(1), "api", 2,
					time.Unix(110, 0), time.Hour)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case !errors.Is(err, mpp.ErrInsufficient):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if won != 9 {
			t.Fatalf("%d draws of 2 sat won on a balance of 18, want 9",
				won)
		}
	})
}
