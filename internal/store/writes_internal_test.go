package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// openTestSQLite opens a fresh SQLite store, closed when the test ends.
func openTestSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(),
		"serve.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// minted is a token of token ID n.
func minted(n byte) Minted {
	return Minted{ID: l402.NewIdentifier(l402.Hash{n}, l402.TokenID{n}),
		Service: "api", CreatedAt: time.Unix(1, 0)}
}

// claim claims payment hash {n} for challenge "c", expiring at 100.
func claim(ctx context.Context, s *Store, n byte) error {
	return s.ClaimPayment(ctx, [32]byte{n}, "c", time.Unix(100, 0),
		time.Unix(1, 0))
}

// claimed reports whether payment hash {n} is claimed: a second claim
// is refused.
func claimed(t *testing.T, s *Store, n byte) bool {
	t.Helper()
	err := claim(context.Background(), s, n)
	if err != nil && !isReused(err) {
		t.Fatal(err)
	}
	return err != nil
}

// TestQueuedWriteCancelled: a charge's claim whose caller's context
// ended before it was queued is not stored, and the caller is told so
// (context.Canceled). One whose context ends while it waits for the
// queue (another write holds it) is either not stored and an error, or
// stored and nil: never an error for a claim stored, nor nil for one
// not.
func TestQueuedWriteCancelled(t *testing.T) {
	s := openTestSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := claim(ctx, s, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}
	if claimed(t, s, 1) {
		t.Fatal("the cancelled claim was stored")
	}

	for n := byte(2); n < 40; n++ {
		ctx, cancel := context.WithCancel(context.Background())
		unlock := s.writer() // another write holds the queue
		errc := make(chan error, 1)
		go func() { errc <- claim(ctx, s, n) }()
		cancel()
		unlock()
		err := <-errc
		if (err == nil) != claimed(t, s, n) {
			t.Fatalf("claim %d: told %v", n, err)
		}
	}
}

// TestPanicInAQueuedWrite: a write that panics inside its transaction
// leaves nothing of it stored, and releases the queue and its
// connection: the next write goes through.
func TestPanicInAQueuedWrite(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		defer s.writer()()
		s.inTx(ctx, func(tx *sql.Tx) error {
			key, _ := minted(1).ID.Key()
			if _, err := tx.ExecContext(ctx, `INSERT INTO root_keys (id_key,
				root_key, service, created_at, payment_hash,
				invoice_expires_at) VALUES (?, ?, 'api', 1, ?, 2)`, key[:],
				make([]byte, 32), make([]byte, 32)); err != nil {
				t.Fatal(err)
			}
			panic("a bug in a queued write")
		})
	}()
	if _, err := s.RootKey(ctx, minted(1).ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the panicked write's row: %v, want not found", err)
	}
	if err := claim(ctx, s, 2); err != nil {
		t.Fatalf("the next write: %v", err)
	}
}

// TestSQLiteCommitsAreDurable: every connection of an SQLite store
// syncs each commit to disk (synchronous FULL): with NORMAL, WAL commits
// since the last checkpoint are lost on a power cut, and a charge's
// claim or a session's draw, answered as done, would be undone (the
// request paid for twice, or the balance spent twice). Root keys are no
// longer among them: derived, they are never written
// (TestDerivedTokenVerifiesAfterRestart in serve); the tokens'
// transactions share these connections, their sync spread over a batch.
func TestSQLiteCommitsAreDurable(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	// Several connections at once, so that it is not only the first.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var mode int
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(
			&mode); err != nil {
			t.Fatal(err)
		}
		if mode != 2 {
			t.Errorf("connection %d: synchronous %d, want 2 (FULL)", i, mode)
		}
		// A statement journal (a statement of a multi-statement
		// transaction that may fail part way) is kept in memory, not
		// in a temporary file per transaction.
		var temp int
		if err := c.QueryRowContext(ctx, "PRAGMA temp_store").Scan(
			&temp); err != nil {
			t.Fatal(err)
		}
		if temp != 2 {
			t.Errorf("connection %d: temp_store %d, want 2 (MEMORY)", i,
				temp)
		}
		c.Close()
	}
}

// TestDrawOutcomeIsKnown: a draw that was committed is answered with its
// balance, even when the store closed meanwhile (and the caller's
// context, which outcome no longer reads, ended): an error for a draw
// that was taken would have serve answer 503 "try again", and the client
// pay twice. A draw never taken (the store closed first) is an error.
func TestDrawOutcomeIsKnown(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	for i := range 100 {
		d := &draw{balance: 7, done: make(chan struct{})}
		close(d.done)
		q := &commitQueue[*draw]{done: closed}
		if err := q.wait("test", d.done); err != nil || d.balance != 7 {
			t.Fatalf("try %d: a committed draw: %d %v", i, d.balance, err)
		}
	}
	d := &draw{done: make(chan struct{})}
	if err := (&commitQueue[*draw]{done: closed}).wait("test",
		d.done); err == nil {
		t.Fatal("a draw never taken: no error")
	}
}

// TestCloseWithWritesQueued: tokens' transactions recorded while the
// store closes are each either written (Close writes every row queued
// before it) or reported to the failure handler, never lost unsaid.
func TestCloseWithWritesQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.db")
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int64
	s.SetBookkeepingFailureHandler(func(rows int, err error) {
		failed.Add(int64(rows))
	})
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.RecordToken(ctx, minted(byte(i)))
		}()
	}
	s.Close()
	wg.Wait()

	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, written, err := s.Transactions(ctx, TransactionFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if written+failed.Load() != n {
		t.Fatalf("%d written, %d reported failed, of %d", written,
			failed.Load(), n)
	}
}

// TestRecordTokenDoesNotWait: a token's transaction is queued while
// another write holds the database, and RecordToken returns at once: the
// 402 waits for no commit. A reader of the transactions in this process
// sees it as soon as the writer lets go (it flushes the queue first).
func TestRecordTokenDoesNotWait(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	unlock := s.writer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RecordToken(ctx, minted(1))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RecordToken waited for the database")
	}
	unlock()
	if _, err := s.TransactionByToken(ctx, minted(1).ID.TokenID); err != nil {
		t.Fatalf("the queued transaction, read at once: %v", err)
	}
}

// TestCloseAfterDraws: a store whose session draws started closes
// twice without panicking (a second close of the batcher's channel
// did), a close racing the first draw is no data race (under -race),
// and a draw after Close is an error, not a hang.
func TestCloseAfterDraws(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t)
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 1, time.Unix(1, 0),
		time.Hour); err == nil {
		t.Fatal("a draw on no session")
	}
	s.Close()
	s.Close()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 1, time.Unix(1, 0),
		time.Hour); err == nil {
		t.Fatal("a draw after Close: no error")
	}

	for range 10 {
		s := openTestSQLite(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.DrawSession(ctx, [32]byte{1}, "api", 1, time.Unix(1, 0),
				time.Hour)
		}()
		s.Close()
		<-done
	}
}

// TestDamagedRootKeySecret: a root key secret of the wrong size (a
// damaged row) is an error, never a key to mint under.
func TestDamagedRootKeySecret(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	if _, err := s.RootKeySecret(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE mpp_secrets SET secret =
		x'00' WHERE name = ?`, rootKeySecretName); err != nil {
		t.Fatal(err)
	}
	if secret, err := s.RootKeySecret(ctx); err == nil {
		t.Fatalf("a 1-byte secret read: %x", secret)
	}
}
