package serve

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/store"
)

// errRevoked is the refusal of a token the admin API revoked: like an
// unknown token, it gets a new challenge.
var errRevoked = fmt.Errorf("%w: the token was revoked", l402.ErrUnknownToken)

// revocations is what a replica knows of the revoked tokens: every one up
// to a sequence number, read from the database no longer than a lease ago.
// A paid request checks its token against it with one atomic load and,
// only when some token is revoked, one map lookup; when the replica could
// not read the database for longer than the lease, the request asks the
// database itself (and fails if it cannot). So a revocation older than the
// lease is refused on every replica, which is what RevokeToken waits for
// before it answers.
type revocations struct {
	db    revocationStore
	lease time.Duration
	now   func() time.Time

	// known is the current snapshot; mu serialises refreshes.
	known atomic.Pointer[revokedSet]
	mu    sync.Mutex
}

// revocationStore is the part of the store revocations reads.
type revocationStore interface {
	RevokedSince(ctx context.Context, seq int64) ([]store.Revoked, error)
	IsRevoked(ctx context.Context, id l402.TokenID) (bool, error)
}

// revokedSet is one immutable snapshot: the revoked tokens up to seq, read
// at asOf (the start of the read that made it).
type revokedSet struct {
	tokens map[l402.TokenID]struct{}
	seq    int64
	asOf   time.Time
}

// newRevocations returns an empty list, stale until its first refresh.
func newRevocations(db revocationStore, lease time.Duration,
	now func() time.Time) *revocations {

	r := &revocations{db: db, lease: lease, now: now}
	r.known.Store(&revokedSet{})
	return r
}

// check refuses a revoked token, with an error wrapping errRevoked; an
// error of the database, when it had to be asked, leaves the token
// undecided (ErrCannotVerify: 503), since a 402 would have a buyer who
// paid pay again, and get a 402 again.
func (r *revocations) check(ctx context.Context, id l402.TokenID,
	now time.Time) error {

	k := r.known.Load()
	if now.Sub(k.asOf) < r.lease {
		if len(k.tokens) == 0 {
			return nil
		}
		if _, ok := k.tokens[id]; ok {
			return errRevoked
		}
		return nil
	}
	revoked, err := r.db.IsRevoked(ctx, id)
	switch {
	case err != nil:
		return fmt.Errorf("%w: unable to check whether the token was "+
			"revoked: %w", ErrCannotVerify, err)
	case revoked:
		return errRevoked
	}
	return nil
}

// refresh reads the revocations after the snapshot's and stores a new
// snapshot, read as of the time it started.
func (r *revocations) refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.now()
	k := r.known.Load()
	fresh, err := r.db.RevokedSince(ctx, k.seq)
	if err != nil {
		return err
	}
	next := &revokedSet{tokens: k.tokens, seq: k.seq, asOf: start}
	if len(fresh) > 0 {
		next.tokens = make(map[l402.TokenID]struct{},
			len(k.tokens)+len(fresh))
		for id := range k.tokens {
			next.tokens[id] = struct{}{}
		}
		for _, f := range fresh {
			next.tokens[f.TokenID] = struct{}{}
			next.seq = max(next.seq, f.Seq)
		}
	}
	r.known.Store(next)
	return nil
}
