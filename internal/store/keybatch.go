package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Every SQLite commit is synced to disk (synchronous FULL): a root key
// is stored before its challenge is sent, and a power cut must not
// lose it, or the buyer who pays the invoice holds a token no replica
// can verify. A sync per challenge would make the writes, one at a time,
// the bound on the challenges per second; so, as session draws are
// (drawbatch.go), the root keys of challenges minted together are
// inserted in one transaction and synced once (a group commit), each
// caller answered once the commit that holds its key is done.

// maxKeyBatch bounds the root keys one commit holds.
const maxKeyBatch = 64

// pendingKey is one PutRootKey waiting in the queue: its row, its
// outcome, and done, closed once err is set.
type pendingKey struct {
	m      Minted
	key    [32]byte
	scheme string
	err    error
	done   chan struct{}
}

// batchRootKey queues k for the next group commit and waits for its
// outcome. A context that has ended before k is queued stores nothing;
// once queued, k is the batch's, and the caller is answered with what
// the commit did, so that a key reported not stored never is, and a key
// reported stored is.
func (s *Store) batchRootKey(ctx context.Context, k *pendingKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.done = make(chan struct{})
	q := s.keys.started(s, maxKeyBatch, (*Store).commitKeyBatch)
	if err := q.submit(ctx, s.name, k); err != nil {
		return err
	}
	return k.err
}

// commitKeyBatch inserts batch's root keys and transactions in one
// transaction, each under its own savepoint: a duplicate is answered
// ErrDuplicate and leaves nothing of its own, without holding the others
// back; any other error fails every key of the batch, none of which is
// then stored.
func (s *Store) commitKeyBatch(batch []*pendingKey) {
	// The callers' contexts may end while the batch runs; it runs on,
	// and each caller waits for its outcome.
	ctx := context.Background()
	defer s.writer()()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, k := range batch {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT root_key"); err != nil {
				return err
			}
			err := s.insertRootKey(ctx, tx, k.m, k.key, k.scheme)
			if err == nil {
				if _, err := tx.ExecContext(ctx,
					"RELEASE root_key"); err != nil {
					return err
				}
				continue
			}
			if !isDuplicate(err) {
				return err
			}
			k.err = fmt.Errorf("%s: %w", s.name, ErrDuplicate)
			if _, err := tx.ExecContext(ctx,
				"ROLLBACK TO root_key"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx,
				"RELEASE root_key"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("%s: unable to store the root key: %w", s.name, err)
		for _, k := range batch {
			k.err = err
		}
	}
}

// doneChan implements write.
func (k *pendingKey) doneChan() chan struct{} { return k.done }
