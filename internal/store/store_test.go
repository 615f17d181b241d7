package store_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/pgtest"
	"github.com/l402/l402/internal/store"
)

func TestMain(m *testing.M) {
	// A child of TestTwoProcessesWriteOneSQLiteFile: a second replica.
	if path := os.Getenv(writerEnv); path != "" {
		os.Exit(writeAsReplica(path, 2))
	}
	os.Exit(pgtest.Main(m))
}

// backend makes fresh databases of one kind.
type backend struct {
	name string

	// fresh makes a fresh database for the test and returns how to open
	// it; each call of the opener opens it again.
	fresh func(t *testing.T) func() (*store.Store, error)
}

// backends are every kind of database the store runs on.
var backends = []backend{
	{"sqlite", func(t *testing.T) func() (*store.Store, error) {
		path := filepath.Join(t.TempDir(), "serve.db")
		return func() (*store.Store, error) {
			return store.OpenSQLite(context.Background(), path)
		}
	}},
	{"postgres", func(t *testing.T) func() (*store.Store, error) {
		db := pgtest.Start(t)
		return func() (*store.Store, error) {
			return store.OpenPostgres(context.Background(), db.Options)
		}
	}},
}

// forEachBackend runs test once per backend, each with a fresh database;
// open opens it, to be closed when the test ends.
func forEachBackend(t *testing.T, test func(t *testing.T,
	open func() *store.Store)) {

	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			opener := b.fresh(t)
			test(t, func() *store.Store {
				t.Helper()
				s, err := opener()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

func TestMigrationsMatch(t *testing.T) {
	lite, _ := filepath.Glob("migrations/sqlite/*.sql")
	pg, _ := filepath.Glob("migrations/postgres/*.sql")
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d SQLite and %d Postgres migrations", len(lite), len(pg))
	}
	for i := range lite {
		if filepath.Base(lite[i]) != filepath.Base(pg[i]) {
			t.Errorf("migration %d: %s for SQLite, %s for Postgres", i+1,
				filepath.Base(lite[i]), filepath.Base(pg[i]))
		}
	}
}

// TestStoredRootKeys: a root key stored before root keys were derived
// is read back after a reopen; an unknown token is ErrNotFound and
// l402.ErrUnknownToken.
func TestStoredRootKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		m := minted(1)
		rootKey := make([]byte, 32)
		rootKey[0] = 7
		if err := s.PutLegacyRootKey(ctx, m, rootKey,
			time.Unix(601, 0)); err != nil {
			t.Fatal(err)
		}
		s.Close()

		s = open()
		got, err := s.RootKey(ctx, m.ID)
		if err != nil || len(got) != 32 || got[0] != 7 {
			t.Fatalf("root key after reopen: %x %v", got, err)
		}
		_, err = s.RootKey(ctx, minted(2).ID)
		if !errors.Is(err, store.ErrNotFound) ||
			!errors.Is(err, l402.ErrUnknownToken) {
			t.Fatalf("unknown token: %v", err)
		}
	})
}

// minted returns token n, with payment hash {n}.
func minted(n byte) store.Minted {
	return store.Minted{
		ID:        l402.NewIdentifier(l402.Hash{n}, l402.TokenID{n}),
		Service:   "svc",
		CreatedAt: time.Unix(1, 0),
	}
}

// putLegacy stores token n as l402 did before root keys were derived:
// a zero root key in root_keys, its invoice expiring at expiresAt (Unix
// seconds), and its transaction.
func putLegacy(t *testing.T, s *store.Store, n byte,
	expiresAt int64) store.Minted {

	t.Helper()
	m := minted(n)
	if err := s.PutLegacyRootKey(context.Background(), m, make([]byte, 32),
		time.Unix(expiresAt, 0)); err != nil {
		t.Fatal(err)
	}
	return m
}

// key returns the store key of a minted token.
func key(t *testing.T, m store.Minted) [32]byte {
	t.Helper()
	k, err := m.ID.Key()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// BenchmarkRecordTokenParallel records tokens' transactions from 32
// goroutines at once, as serve does under a burst of challenges, and
// waits for them to be written.
func BenchmarkRecordTokenParallel(b *testing.B) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "serve.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Uint64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			var tok l402.TokenID
			binary.BigEndian.PutUint64(tok[:], i)
			s.RecordToken(ctx, store.Minted{
				ID:      l402.NewIdentifier(l402.Hash{1}, tok),
				Service: "api", CreatedAt: time.Unix(1, 0)})
		}
	})
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// TestRecordTokenConcurrently records 600 tokens' transactions at once,
// 8 of them twice: every row is written once (more than one INSERT's
// worth of rows a commit), and a duplicate is not written again, nor
// reported as a failure (its row is there), nor holds back the other rows
// of its commit.
func TestRecordTokenConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		var failed atomic.Int64
		s.SetBookkeepingFailureHandler(func(rows int, err error) {
			failed.Add(int64(rows))
		})
		mint := func(i int) store.Minted {
			var tok l402.TokenID
			binary.BigEndian.PutUint32(tok[:], uint32(i))
			return store.Minted{ID: l402.NewIdentifier(l402.Hash{9}, tok),
				Service: "api", CreatedAt: time.Unix(1, 0)}
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < 608; i += 8 {
					s.RecordToken(ctx, mint(i%600))
				}
			}()
		}
		wg.Wait()
		if _, n, err := s.Transactions(ctx, store.TransactionFilter{
			Limit: 1}); err != nil || n != 600 {
			t.Fatalf("%d transactions, want 600: %v", n, err)
		}
		if failed.Load() != 0 {
			t.Fatalf("%d rows reported failed, want none: a duplicate's "+
				"row is there", failed.Load())
		}
	})
}
