package tokens

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/cli"
)

// TestOpenRefusesADamagedStore: a tokens.db that exists but is empty, is
// not SQLite, or has no token store schema is refused, with the path and
// what to do, and left as it is; it is never re-created empty, which
// would reset the ledger and so every budget.
func TestOpenRefusesADamagedStore(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"empty file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"not SQLite", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("hello, this is not "+
				"a database at all, just some text\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"SQLite without the schema", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE other (x)"); err != nil {
				t.Fatal(err)
			}
		}},
		// Opened on the store's own connection (Open's path for a file
		// in WAL mode): refused before any migration, unchanged.
		{"SQLite in WAL mode, 0600, without the schema", func(t *testing.T,
			path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{"PRAGMA journal_mode=WAL",
				"CREATE TABLE other (x)"} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(path, 0o600); err != nil {
				t.Fatal(err)
			}
			if !inWALMode(path) {
				t.Fatal("the file is not in WAL mode")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.db")
			tc.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			s, err := Open(ctx, path)
			if err == nil {
				s.Close()
				t.Fatal("a damaged store was opened")
			}
			if !errors.Is(err, ErrStoreDamaged) ||
				cli.Code(err) != "store_damaged" {
				t.Fatalf("got %v (%s), want store_damaged", err,
					cli.Code(err))
			}
			if !strings.Contains(err.Error(), path) ||
				!strings.Contains(err.Error(), "backup") {
				t.Fatalf("%q does not name the file and what to do", err)
			}
			after, err := os.ReadFile(path)
			if err != nil || string(after) != string(before) {
				t.Fatalf("the damaged file was changed: %v", err)
			}
		})
	}
}

// TestOpenCreatesAMissingStore: a tokens.db that does not exist yet is
// still created, with its schema, and opens again.
func TestOpenCreatesAMissingStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new", "tokens.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var version int
	if err := s.db.raw.QueryRow("PRAGMA user_version").Scan(&version); err != nil ||
		version == 0 {
		t.Fatalf("schema version %d: %v", version, err)
	}
	s.Close()
	st, err := os.Stat(path)
	if err != nil || st.Size() == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("created %v: %v", st, err)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
	for _, m := range matches {
		if !strings.HasPrefix(filepath.Base(m), "tokens.db") ||
			strings.Contains(m, ".new") {
			t.Fatalf("left behind %s", m)
		}
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening the new store: %v", err)
	}
	s.Close()
}

// A home directory with '?' or '#' in its name holds a store like any
// other: the second open checks the schema of the same file, not of a
// file named after the part before the '?'.
func TestOpenStoreUnderURICharacters(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{"a?b", "c#d", "e%41"} {
		path := filepath.Join(t.TempDir(), dir, "tokens.db")
		for i := 0; i < 2; i++ {
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("%q, open %d: %v", dir, i, err)
			}
			s.Close()
		}
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(
			filepath.Dir(path)), "*"))
		if len(matches) != 1 {
			t.Fatalf("%q: files beside the store's directory: %v", dir,
				matches)
		}
	}
}

// TestOpenOneConnectionForAStoreInWALMode: a store l402 created is SQLite
// in WAL mode and 0600, so that every later Open checks its schema on the
// store's own connection (inWALMode), not on a second one.
func TestOpenOneConnectionForAStoreInWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !inWALMode(path) {
		t.Fatal("a store l402 created is not taken for one in WAL mode")
	}
	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
