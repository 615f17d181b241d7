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

func TestRootKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		m := minted(1, 601)
		m.RootKey[0] = 7
		if err := s.PutRootKey(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRootKey(ctx, m); !errors.Is(err,
			store.ErrDuplicate) {
			t.Fatalf("one identifier stored twice: %v", err)
		}
		s.Close()

		s = open()
		got, err := s.RootKey(ctx, m.ID)
		if err != nil || len(got) != 32 || got[0] != 7 {
			t.Fatalf("root key after reopen: %x %v", got, err)
		}
		_, err = s.RootKey(ctx, minted(2, 601).ID)
		if !errors.Is(err, store.ErrNotFound) ||
			!errors.Is(err, l402.ErrUnknownToken) {
			t.Fatalf("unknown token: %v", err)
		}
	})
}

// minted returns token n, with payment hash {n} and a fresh root key, whose
// invoice expires at the given Unix time.
func minted(n byte, expiresAt int64) store.Minted {
	return store.Minted{
		ID:               l402.NewIdentifier(l402.Hash{n}, l402.TokenID{n}),
		RootKey:          make([]byte, 32),
		Service:          "svc",
		CreatedAt:        time.Unix(1, 0),
		InvoiceExpiresAt: time.Unix(expiresAt, 0),
	}
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

// BenchmarkPutRootKeyParallel stores root keys from 32 goroutines at
// once, as serve does under a burst of challenges.
func BenchmarkPutRootKeyParallel(b *testing.B) {
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
			if err := s.PutRootKey(ctx, store.Minted{
				ID:      l402.NewIdentifier(l402.Hash{1}, tok),
				RootKey: make([]byte, 32), Service: "api",
				CreatedAt: time.Unix(1, 0), InvoiceExpiresAt: time.Unix(2, 0),
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPutRootKeyConcurrently stores 48 root keys at once, 8 of them
// twice: on SQLite they share commits (keybatch.go), where one key's
// duplicate must fail alone, with ErrDuplicate, and leave neither a
// second row nor a second transaction, while every other key of its
// commit is stored.
func TestPutRootKeyConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		mint := func(i int) store.Minted {
			var tok l402.TokenID
			binary.BigEndian.PutUint32(tok[:], uint32(i))
			return store.Minted{ID: l402.NewIdentifier(l402.Hash{9}, tok),
				RootKey: make([]byte, 32), Service: "api",
				CreatedAt: time.Unix(1, 0), InvoiceExpiresAt: time.Unix(2, 0)}
		}
		var (
			wg         sync.WaitGroup
			dups, errs atomic.Int64
		)
		for i := range 56 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.PutRootKey(ctx, mint(i%48))
				switch {
				case errors.Is(err, store.ErrDuplicate):
					dups.Add(1)
				case err != nil:
					errs.Add(1)
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if dups.Load() != 8 || errs.Load() != 0 {
			t.Fatalf("%d duplicates, %d errors; want 8 and 0", dups.Load(),
				errs.Load())
		}
		for i := range 48 {
			if _, err := s.RootKey(ctx, mint(i).ID); err != nil {
				t.Fatalf("key %d: %v", i, err)
			}
		}
		if _, n, err := s.Transactions(ctx, store.TransactionFilter{
			Limit: 100}); err != nil || n != 48 {
			t.Fatalf("%d transactions, want 48: %v", n, err)
		}
	})
}
