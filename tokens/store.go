// Package tokens is the paying client's store: the tokens it bought (one
// per origin), the payments it has started but not finished, and a ledger
// of every payment, in one SQLite file shared by fetch and `l402 tokens`.
package tokens

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" driver, without cgo
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned for an origin without a token, or a payment hash
// without a pending payment.
var ErrNotFound = errors.New("not found")

// Store is the client's token store. It is safe for use by several
// goroutines and several processes at once.
type Store struct {
	db   *sql.DB
	path string
}

// DefaultDir returns l402's directory: $L402_HOME, else ~/.l402.
func DefaultDir() (string, error) {
	if d := os.Getenv("L402_HOME"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory: set L402_HOME: %w", err)
	}
	return filepath.Join(home, ".l402"), nil
}

// DefaultPath returns the store's default file, tokens.db in DefaultDir.
func DefaultPath() (string, error) {
	dir, err := DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "tokens.db"), nil
}

// Open opens the store at path, creating it (directory 0700, file 0600)
// and bringing its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("unable to create %s: %w", dir, err)
	}

	// Create the file with owner-only permissions before SQLite does;
	// SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("unable to open token store: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("unable to restrict %s to its owner: %w",
			path, err)
	}

	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)",
		"synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("unable to open token store: %w", err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("token store %s: %w", path, err)
	}
	return s, nil
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// migrate applies the embedded migrations the file has not seen, each in
// its own transaction, tracked by PRAGMA user_version.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(
		&version); err != nil {
		return err
	}
	if version > len(names) {
		return fmt.Errorf("schema version %d is newer than this l402 "+
			"knows (%d): upgrade l402", version, len(names))
	}
	for i := version; i < len(names); i++ {
		want := fmt.Sprintf("migrations/%04d_", i+1)
		if !strings.HasPrefix(names[i], want) {
			return fmt.Errorf("migration %s is out of sequence", names[i])
		}
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
	}
	if version < len(names) {
		_, err := tx.ExecContext(ctx, "PRAGMA user_version = "+
			strconv.Itoa(len(names)))
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}
