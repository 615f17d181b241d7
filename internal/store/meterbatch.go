package store

import (
	"context"
	"database/sql"
	"fmt"
)

// The meter's admissions and settlements come two per metered request.
// On SQLite, which commits one writer at a time, those of requests that
// arrive together run in one transaction, committed once (a group commit,
// as the session draws of drawbatch.go): each is still its own guarded
// statements, and each request is answered once the commit that holds it
// is done. A refusal is an outcome, not an error; a database error fails
// every operation of the batch, none of which is then committed.

// meterOp is one admission or settlement waiting for a commit.
type meterOp struct {
	run  func(ctx context.Context, tx *sql.Tx) error
	err  error
	done chan struct{}
}

// meterBatcher queues the operations waiting for the next commit.
type meterBatcher struct {
	queue chan *meterOp
	quit  chan struct{}
	done  chan struct{}
}

// inMeterTx runs fn once in a transaction: its own on Postgres, the next
// group commit's on SQLite. Its effects stand only if it returns nil and
// the commit succeeds; on SQLite its results must be read only once
// inMeterTx returned nil.
func (s *Store) inMeterTx(ctx context.Context,
	fn func(ctx context.Context, tx *sql.Tx) error) error {

	if s.dollar {
		return s.inTx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	b := s.meterBatcher()
	op := &meterOp{run: fn, done: make(chan struct{})}
	select {
	case b.queue <- op:
	case <-b.quit:
		return fmt.Errorf("%s: closed", s.name)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-op.done:
		return op.err
	case <-b.done:
		return fmt.Errorf("%s: closed", s.name)
	case <-ctx.Done():
		// The operation may still be committed.
		return ctx.Err()
	}
}

// meterBatcher returns the store's batcher, starting it on first use.
func (s *Store) meterBatcher() *meterBatcher {
	s.meterOnce.Do(func() {
		s.meterOps = &meterBatcher{queue: make(chan *meterOp, maxDrawBatch),
			quit: make(chan struct{}), done: make(chan struct{})}
		go s.commitMeterOps(s.meterOps)
	})
	return s.meterOps
}

// commitMeterOps runs the queued operations, as many as are waiting (up
// to maxDrawBatch) per transaction, until the store closes.
func (s *Store) commitMeterOps(b *meterBatcher) {
	defer close(b.done)
	for {
		var batch []*meterOp
		select {
		case op := <-b.queue:
			batch = append(batch, op)
		case <-b.quit:
			return
		}
	fill:
		for len(batch) < maxDrawBatch {
			select {
			case op := <-b.queue:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		s.commitMeterBatch(batch)
	}
}

// commitMeterBatch runs batch in one transaction.
func (s *Store) commitMeterBatch(batch []*meterOp) {
	defer func() {
		for _, op := range batch {
			close(op.done)
		}
	}()
	// The requests' contexts may end while the batch runs; it runs on.
	ctx := context.Background()
	defer s.writer()()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, op := range batch {
			if err := op.run(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, op := range batch {
			op.err = err
		}
	}
}

// closeMeterOps stops the batcher, if it started.
func (s *Store) closeMeterOps() {
	if s.meterOps != nil {
		close(s.meterOps.quit)
		<-s.meterOps.done
	}
}
