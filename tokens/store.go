// Package tokens is the paying client's store: the tokens it bought (one
// per origin), the payments it has started but not finished, and a ledger
// of every payment, in one SQLite file shared by fetch and `l402 tokens`.
package tokens

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/sqlitedb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned for an origin without a token, or a payment hash
// without a pending payment.
var ErrNotFound = fault.New("not_found", "not found")

// Store is the client's token store. It is safe for use by several
// goroutines and several processes at once.
type Store struct {
	db   *sql.DB
	path string
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
