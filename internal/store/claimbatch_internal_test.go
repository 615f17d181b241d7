package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/mpp"
)

// TestClaimBatchOneCommit: the claims of charges presented together are
// committed in one transaction (one sync), and each hash is still
// claimed once: of two claims of one hash in a batch, the first is
// taken and the second refused with mpp.ErrReused, as is a claim of a
// hash claimed before.
func TestClaimBatchOneCommit(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	at := time.Unix(100, 0)
	if err := s.ClaimPayment(ctx, [32]byte{9}, "cid", at.Add(time.Hour),
		at); err != nil {
		t.Fatal(err)
	}
	var batch []*pendingClaim
	for _, h := range []byte{1, 2, 3, 2, 9, 4} {
		batch = append(batch, &pendingClaim{hash: [32]byte{h},
			challengeID: "cid", expires: at.Add(time.Hour), now: at,
			done: make(chan struct{})})
	}
	commits := s.claimCommits.Load()
	s.commitClaimBatch(batch)
	if n := s.claimCommits.Load() - commits; n != 1 {
		t.Fatalf("%d commits for a batch of claims, want 1", n)
	}
	for i, c := range batch {
		reused := i == 3 || i == 4
		if reused != errors.Is(c.err, mpp.ErrReused) ||
			(!reused && c.err != nil) {
			t.Errorf("claim %d (hash %d): %v", i, c.hash[0], c.err)
		}
	}
	for _, h := range []byte{1, 2, 3, 4} {
		if err := s.ClaimPayment(ctx, [32]byte{h}, "cid",
			at.Add(time.Hour), at); !errors.Is(err, mpp.ErrReused) {
			t.Errorf("hash %d claimed again: %v", h, err)
		}
	}
}

// TestClaimConcurrently: many replicas' worth of concurrent claims of
// the same few hashes through ClaimPayment: each hash is taken exactly
// once.
func TestClaimConcurrently(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	at := time.Unix(100, 0)
	const hashes, tries = 8, 16
	var mu sync.Mutex
	taken := map[byte]int{}
	var wg sync.WaitGroup
	for i := range hashes * tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := byte(i % hashes)
			err := s.ClaimPayment(ctx, [32]byte{h}, "cid",
				at.Add(time.Hour), at)
			switch {
			case err == nil:
				mu.Lock()
				taken[h]++
				mu.Unlock()
			case !errors.Is(err, mpp.ErrReused):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for h := range byte(hashes) {
		if taken[h] != 1 {
			t.Errorf("hash %d taken %d times", h, taken[h])
		}
	}
}

// TestClaimAfterClose: a claim after Close is an error, not a hang, and a
// close racing the first claim is no data race (under -race).
func TestClaimAfterClose(t *testing.T) {
	ctx := context.Background()
	at := time.Unix(100, 0)
	s := openTestSQLite(t)
	if err := s.ClaimPayment(ctx, [32]byte{1}, "cid", at.Add(time.Hour),
		at); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if err := s.ClaimPayment(ctx, [32]byte{2}, "cid", at.Add(time.Hour),
		at); err == nil {
		t.Fatal("a claim after Close: no error")
	}
	for range 10 {
		s := openTestSQLite(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.ClaimPayment(ctx, [32]byte{1}, "cid", at.Add(time.Hour), at)
		}()
		s.Close()
		<-done
	}
}
