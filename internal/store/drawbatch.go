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

// batchDraw queues d for the next group commit and waits for its outcome.
// Once queued, the draw is the batch's: the caller's context no longer
// stops it, so the caller waits for it and always knows whether it was
// committed.
func (s *Store) batchDraw(ctx context.Context, d *draw) (int64, error) {
	d.done = make(chan struct{})
	q := s.draws.started(s, maxDrawBatch, (*Store).commitBatch)
	if err := q.submit(ctx, s.name, d); err != nil {
		return 0, err
	}
	return d.balance, d.err
}

// commitBatch runs batch's draws in one transaction. A draw that is
// refused (a short balance) is answered with its condition and does not
// hold the others back; a database error fails every draw of the batch,
// none of which is then committed.
func (s *Store) commitBatch(batch []*draw) {
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

// doneChan implements write.
func (d *draw) doneChan() chan struct{} { return d.done }
