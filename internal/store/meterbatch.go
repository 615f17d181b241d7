package store

import (
	"context"
	"database/sql"
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

// inMeterTx runs fn once in a transaction: its own on Postgres, the next
// group commit's on SQLite. Its effects stand only if it returns nil and
// the commit succeeds; on SQLite its results must be read only once
// inMeterTx returned nil.
func (s *Store) inMeterTx(ctx context.Context,
	fn func(ctx context.Context, tx *sql.Tx) error) error {

	if err := s.prepareMeter(ctx); err != nil {
		return err
	}
	if s.dollar {
		return s.inTx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	}
	op := &meterOp{run: fn, done: make(chan struct{})}
	q := s.meterOps.started(s, maxDrawBatch, (*Store).commitMeterBatch)
	if err := q.submit(ctx, s.name, op); err != nil {
		return err
	}
	return op.err
}

// commitMeterBatch runs batch in one transaction.
func (s *Store) commitMeterBatch(batch []*meterOp) {
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

// doneChan implements write.
func (op *meterOp) doneChan() chan struct{} { return op.done }
