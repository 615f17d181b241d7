package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
		for _, g := range groupDraws(batch) {
			if len(g) > 1 {
				ok, err := s.runDraws(ctx, txStmt, g)
				if err != nil {
					return err
				}
				if ok {
					continue
				}
			}
			for _, d := range g {
				d.balance, d.err = s.runDraw(ctx, txStmt, tx, d)
				if d.err != nil && !isRefusal(d.err) {
					return d.err
				}
			}
		}
		return nil
	})
	if err != nil {
		fail(err)
	}
}

// drawKey is what makes draws alike: the same session, service, price,
// second and idle timeout, so that the guarded UPDATE of their sum is the
// UPDATEs of each, one after the other, when all of them pass.
type drawKey struct {
	id      [32]byte
	service string
	price   int64
	now     int64
	idle    time.Duration
}

// groupDraws splits batch into runs of alike draws, each run in the
// order of its draws and the runs in the order of their first draws: a
// session's concurrent requests, which repeat one bearer credential
// within one second, make one run.
func groupDraws(batch []*draw) [][]*draw {
	var groups [][]*draw
	var keys []drawKey
next:
	for _, d := range batch {
		k := drawKey{id: d.id, service: d.service, price: d.price,
			now: d.now.Unix(), idle: d.idle}
		for i := range keys {
			if keys[i] == k {
				groups[i] = append(groups[i], d)
				continue next
			}
		}
		keys = append(keys, k)
		groups = append(groups, []*draw{d})
	}
	return groups
}

// runDraws runs alike draws g as one guarded UPDATE of their sum with
// stmt (drawQuery) and answers each with the balance it leaves, in g's
// order. It reports false, having changed nothing, when the guard
// refuses the sum (the balance covers fewer of them, or none): the
// caller then runs them one by one, which takes those the balance
// covers and says why the others are refused.
func (s *Store) runDraws(ctx context.Context, stmt *sql.Stmt,
	g []*draw) (bool, error) {

	d := g[0]
	total := d.price * int64(len(g)) // maxDrawBatch x MaxPriceSat fits
	var balance int64
	s.drawStatements.Add(1)
	err := stmt.QueryRowContext(ctx, total, total, d.now.Unix(),
		d.now.Unix(), d.id[:], d.service, d.now.Add(-d.idle).Unix(),
		total).Scan(&balance)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: unable to draw on session %x: %w",
			s.name, d.id, err)
	}
	for i, x := range g {
		x.balance = balance + int64(len(g)-1-i)*d.price
	}
	return true, nil
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
