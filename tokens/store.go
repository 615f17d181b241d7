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
	"os"
	"path/filepath"

	"github.com/l402/l402/internal/sqlitedb"
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
	db, err := sqlitedb.Open(ctx, path, migrations, "migrations",
		"synchronous(FULL)", "foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	return &Store{db: db, path: path}, nil
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }
