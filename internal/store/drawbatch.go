package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/l402/l402/internal/mpp"
)

// SQLite takes one writer at a time and makes each commit durable with
// its own writes, so that a session's concurrent requests, each drawing
// on the balance, would wait for each other's commits one by one. The
// draws of requests that arrive together are instead run in one
// transaction and committed once (a group commit): each is still its own
// guarded UPDATE, and each request is answered only once the commit that
// holds its draw is done.

// maxDrawBatch bounds the draws one commit holds.
const maxDrawBatch = 64

// drawBatcher queues the draws waiting for the next commit.
type drawBatcher struct {
	queue chan *draw
	quit  chan struct{}
	done  chan struct{}
}

// batchDraw queues d for the next group commit and waits for its outcome.
// Once queued, the draw is the batch's: the caller's context no longer
// stops it, so the caller waits for it and always knows whether it was
// committed.
func (s *Store) batchDraw(ctx context.Context, d *draw) (int64, error) {
	b := s.drawBatcher()
	if b == nil {
		return 0, fmt.Errorf("%s: closed", s.name)
	}
	d.done = make(chan struct{})
	select {
	case b.queue <- d:
	case <-b.quit:
		return 0, fmt.Errorf("%s: closed", s.name)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return d.outcome(b, s.name)
}

// outcome waits for a queued draw's outcome. The batch runs on whatever
// the caller's context does (commitBatch), and a batch is short, so the
// outcome is waited for, not abandoned: a committed draw answered with an
// error would be paid again by a client told to try again. When the
// batcher stops first, the draw is answered only if it was taken
// (commitBatch closes d.done before the batcher's done): else it was
// never run.
func (d *draw) outcome(b *drawBatcher, name string) (int64, error) {

	select {
	case <-d.done:
		return d.balance, d.err
	case <-b.done:
		select {
		case <-d.done:
			return d.balance, d.err
		default:
			return 0, fmt.Errorf("%s: closed", name)
		}
	}
}

// drawBatcher returns the store's batcher, starting it on first use; nil
// once the store is closed.
func (s *Store) drawBatcher() *drawBatcher {
	s.drawsOnce.Do(func() {
		b := &drawBatcher{queue: make(chan *draw, maxDrawBatch),
			quit: make(chan struct{}), done: make(chan struct{})}
		s.draws.Store(b)
		go s.commitDraws(b)
	})
	return s.draws.Load()
}

// commitDraws runs the queued draws, as many as are waiting (up to
// maxDrawBatch) per transaction, until the store closes.
func (s *Store) commitDraws(b *drawBatcher) {
	defer close(b.done)
	for {
		var batch []*draw
		select {
		case d := <-b.queue:
			batch = append(batch, d)
		case <-b.quit:
			return
		}
	fill:
		for len(batch) < maxDrawBatch {
			select {
			case d := <-b.queue:
				batch = append(batch, d)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch runs batch's draws in one transaction. A draw that is
// refused (a short balance) is answered with its condition and does not
// hold the others back; a database error fails every draw of the batch,
// none of which is then committed.
func (s *Store) commitBatch(batch []*draw) {
	defer func() {
		for _, d := range batch {
			close(d.done)
		}
	}()
	fail := func(err error) {
		for _, d := range batch {
			d.balance, d.err = 0, err
		}
	}
	// The requests' contexts may end while the batch runs; the batch
	// runs on, and each request stops waiting for its own.
	ctx := context.Background()
	stmt, err := s.prepared(ctx, drawQuery)
	if err != nil {
		fail(err)
		return
	}
	defer s.writer()()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		txStmt := tx.StmtContext(ctx, stmt)
		defer txStmt.Close()
		for _, d := range batch {
			d.balance, d.err = s.runDraw(ctx, txStmt, tx, d)
			if d.err != nil && !isRefusal(d.err) {
				return d.err
			}
		}
		return nil
	})
	if err != nil {
		fail(err)
	}
}

// sessionConditions are the refusals of a draw.
var sessionConditions = []error{mpp.ErrUnknownSession, mpp.ErrWrongResource,
	mpp.ErrSessionClosed, mpp.ErrInsufficient}

// isRefusal reports whether err is a session's condition (its draw is
// refused) rather than a database failure.
func isRefusal(err error) bool {
	for _, c := range sessionConditions {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// closeDraws stops the batcher, if it started; a second Close finds
// none.
func (s *Store) closeDraws() {
	s.drawsOnce.Do(func() {}) // none starts after Close
	if b := s.draws.Swap(nil); b != nil {
		close(b.quit)
		<-b.done
	}
}
