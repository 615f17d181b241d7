package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// A charge credential's payment hash is claimed in the database before
// its request goes to the backend, and the claim is synced (SQLite's
// synchronous FULL): a claim lost to a power cut would let the
// credential be spent again. One sync per charge made the claims, one at
// a time, the bound on the charges per second; as session draws
// (drawbatch.go) and root keys (keybatch.go) are, the claims of charges
// presented together are inserted in one transaction and synced once
// (a group commit). Each is still its own INSERT, which takes the hash
// or finds it taken (an earlier claim, on any replica, or an earlier one
// of the same batch), and each caller is answered only once the commit
// that holds its claim is done.

// maxClaimBatch bounds the claims one commit holds.
const maxClaimBatch = 64

// claimBatcher queues the claims waiting for the next commit.
type claimBatcher struct {
	queue chan *pendingClaim
	quit  chan struct{}
	done  chan struct{}
}

// pendingClaim is one ClaimPayment waiting in the queue: its row, its
// outcome, and done, closed once err is set.
type pendingClaim struct {
	hash         [32]byte
	challengeID  string
	expires, now time.Time
	err          error
	done         chan struct{}
}

// batchClaim queues c for the next group commit and waits for its
// outcome. A context that has ended before c is queued claims nothing;
// once queued, c is the batch's, and the caller is answered with what the
// commit did: a claim reported taken is, and one reported not taken is
// not.
func (s *Store) batchClaim(ctx context.Context, c *pendingClaim) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := s.claimBatcher()
	if b == nil {
		return fmt.Errorf("%s: closed", s.name)
	}
	c.done = make(chan struct{})
	select {
	case b.queue <- c:
	case <-b.quit:
		return fmt.Errorf("%s: closed", s.name)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-c.done:
		return c.err
	case <-b.done:
		// commitClaimBatch closes c.done before the batcher stops: a
		// claim taken is answered, one never taken was not made.
		select {
		case <-c.done:
			return c.err
		default:
			return fmt.Errorf("%s: closed", s.name)
		}
	}
}

// claimBatcher returns the store's claim batcher, starting it on first
// use; nil once the store is closed.
func (s *Store) claimBatcher() *claimBatcher {
	s.claimsOnce.Do(func() {
		b := &claimBatcher{queue: make(chan *pendingClaim, maxClaimBatch),
			quit: make(chan struct{}), done: make(chan struct{})}
		s.claims.Store(b)
		go s.commitClaims(b)
	})
	return s.claims.Load()
}

// commitClaims runs the queued claims, as many as are waiting (up to
// maxClaimBatch) per transaction, until the store closes.
func (s *Store) commitClaims(b *claimBatcher) {
	defer close(b.done)
	for {
		var batch []*pendingClaim
		select {
		case c := <-b.queue:
			batch = append(batch, c)
		case <-b.quit:
			return
		}
	fill:
		for len(batch) < maxClaimBatch {
			select {
			case c := <-b.queue:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		s.commitClaimBatch(batch)
	}
}

// commitClaimBatch runs batch's claims in one transaction. A hash found
// taken is answered mpp.ErrReused and does not hold the others back (its
// INSERT changed nothing); a database error fails every claim of the
// batch, none of which is then taken.
func (s *Store) commitClaimBatch(batch []*pendingClaim) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	// The callers' contexts may end while the batch runs; it runs on,
	// and each caller waits for its outcome.
	ctx := context.Background()
	defer s.writer()()
	s.claimCommits.Add(1)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range batch {
			c.err = s.claim(ctx, tx, c.hash, c.challengeID, c.expires,
				c.now)
			if c.err != nil && !isReused(c.err) {
				return c.err
			}
		}
		return nil
	})
	if err != nil {
		for _, c := range batch {
			c.err = err
		}
	}
}

// closeClaims stops the claim batcher, if it started; a second Close
// finds none.
func (s *Store) closeClaims() {
	s.claimsOnce.Do(func() {}) // none starts after Close
	if b := s.claims.Swap(nil); b != nil {
		close(b.quit)
		<-b.done
	}
}
