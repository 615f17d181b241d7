package store

import (
	"context"
	"database/sql"
	"time"
)

// A charge credential's payment hash is claimed in the database before
// its request goes to the backend, and the claim is synced (SQLite's
// synchronous FULL): a claim lost to a power cut would let the
// credential be spent again. One sync per charge made the claims, one at
// a time, the bound on the charges per second; as session draws
// (drawbatch.go) are, the claims of charges
// presented together are inserted in one transaction and synced once
// (a group commit). Each is still its own INSERT, which takes the hash
// or finds it taken (an earlier claim, on any replica, or an earlier one
// of the same batch), and each caller is answered only once the commit
// that holds its claim is done.

// maxClaimBatch bounds the claims one commit holds.
const maxClaimBatch = 64

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
	c.done = make(chan struct{})
	q := s.claims.started(s, maxClaimBatch, (*Store).commitClaimBatch)
	if err := q.submit(ctx, s.name, c); err != nil {
		return err
	}
	return c.err
}

// commitClaimBatch runs batch's claims in one transaction. A hash found
// taken is answered mpp.ErrReused and does not hold the others back (its
// INSERT changed nothing); a database error fails every claim of the
// batch, none of which is then taken.
func (s *Store) commitClaimBatch(batch []*pendingClaim) {
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

// doneChan implements write.
func (c *pendingClaim) doneChan() chan struct{} { return c.done }
