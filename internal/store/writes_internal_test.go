package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
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
		RootKey: make([]byte, 32), Service: "api",
		CreatedAt: time.Unix(1, 0), InvoiceExpiresAt: time.Unix(2, 0)}
}

// TestQueuedWriteCancelled: a root key whose caller's context ended
// before it was queued is not stored, and the caller is told so
// (context.Canceled), so no challenge is sent for it. One whose context
// ends while it waits for the queue (another write holds it) is either
// not stored and an error, or stored and nil: never an error for a key
// stored, nor nil for one not.
func TestQueuedWriteCancelled(t *testing.T) {
	s := openTestSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutRootKey(ctx, minted(1)); !errors.Is(err,
		context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}
	if _, err := s.RootKey(context.Background(), minted(1).ID); !errors.Is(
		err, ErrNotFound) {
		t.Fatalf("the cancelled key: %v, want not found", err)
	}

	for n := byte(2); n < 40; n++ {
		ctx, cancel := context.WithCancel(context.Background())
		unlock := s.writer() // another write holds the queue
		errc := make(chan error, 1)
		go func() { errc <- s.PutRootKey(ctx, minted(n)) }()
		cancel()
		unlock()
		err := <-errc
		_, rerr := s.RootKey(context.Background(), minted(n).ID)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("key %d: told %v, stored: %v", n, err, rerr)
		}
	}
	if err := s.PutRootKey(context.Background(), minted(99)); err != nil {
		t.Fatalf("the next write: %v", err)
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
	if err := s.PutRootKey(ctx, minted(2)); err != nil {
		t.Fatalf("the next write: %v", err)
	}
}

// TestSQLiteCommitsAreDurable: every connection of an SQLite store
// syncs each commit to disk (synchronous FULL): with NORMAL, WAL commits
// since the last checkpoint are lost on a power cut, and a root key
// whose 402 was sent and whose invoice was then paid would be gone, the
// buyer's token refused.
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
		// The savepoint each root key of a group commit gets
		// (keybatch.go) opens a statement journal: in memory, not a
		// temporary file per key.
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

// TestCloseWithWritesQueued: root keys stored while the store closes are
// each either stored and answered nil or not stored and answered with an
// error: Close waits for the commit in progress, and a key still queued
// is refused, not lost after a nil.
func TestCloseWithWritesQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.db")
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.PutRootKey(ctx, minted(byte(i)))
		}()
	}
	s.Close()
	wg.Wait()

	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, perr := range errs {
		_, rerr := s.RootKey(ctx, minted(byte(i)).ID)
		if (perr == nil) != (rerr == nil) {
			t.Errorf("key %d: told %v, stored: %v", i, perr, rerr)
		}
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
