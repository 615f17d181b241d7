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

// keyBatcher queues the root keys waiting for the next commit.
type keyBatcher struct {
	queue chan *pendingKey
	quit  chan struct{}
	done  chan struct{}
}

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
	b := s.keyBatcher()
	if b == nil {
		return fmt.Errorf("%s: closed", s.name)
	}
	k.done = make(chan struct{})
	select {
	case b.queue <- k:
	case <-b.quit:
		return fmt.Errorf("%s: closed", s.name)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-k.done:
		return k.err
	case <-b.done:
		// commitKeyBatch closes k.done before the batcher stops: a key
		// taken is answered, one never taken was not stored.
		select {
		case <-k.done:
			return k.err
		default:
			return fmt.Errorf("%s: closed", s.name)
		}
	}
}

// keyBatcher returns the store's root-key batcher, starting it on first
// use; nil once the store is closed.
func (s *Store) keyBatcher() *keyBatcher {
	s.keysOnce.Do(func() {
		b := &keyBatcher{queue: make(chan *pendingKey, maxKeyBatch),
			quit: make(chan struct{}), done: make(chan struct{})}
		s.keys.Store(b)
		go s.commitKeys(b)
	})
	return s.keys.Load()
}

// commitKeys runs the queued root keys, as many as are waiting (up to
// maxKeyBatch) per transaction, until the store closes.
func (s *Store) commitKeys(b *keyBatcher) {
	defer close(b.done)
	for {
		var batch []*pendingKey
		select {
		case k := <-b.queue:
			batch = append(batch, k)
		case <-b.quit:
			return
		}
	fill:
		for len(batch) < maxKeyBatch {
			select {
			case k := <-b.queue:
				batch = append(batch, k)
			default:
				break fill
			}
		}
		s.commitKeyBatch(batch)
	}
}

// commitKeyBatch inserts batch's root keys and transactions in one
// transaction, each under its own savepoint: a duplicate is answered
// ErrDuplicate and leaves nothing of its own, without holding the others
// back; any other error fails every key of the batch, none of which is
// then stored.
func (s *Store) commitKeyBatch(batch []*pendingKey) {
	defer func() {
		for _, k := range batch {
			close(k.done)
		}
	}()
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

// closeKeys stops the root-key batcher, if it started; a second Close
// finds none.
func (s *Store) closeKeys() {
	s.keysOnce.Do(func() {}) // none starts after Close
	if b := s.keys.Swap(nil); b != nil {
		close(b.quit)
		<-b.done
	}
}
