// Package tokens is the paying client's store: the tokens it bought (one
// per origin), the payments it has started but not finished, and a ledger
// of every payment, in one SQLite file shared by fetch and `l402 tokens`.
package tokens

import (
	"database/sql"
	"embed"

	"github.com/l402/l402/internal/fault"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned for an origin without a token, or a payment hash
// without a pending payment.
var ErrNotFound = fault.New("not_found", "not found")

// ErrStoreDamaged is returned by Open for a file that exists but is empty,
// is not SQLite, or has no token store schema: opening it would start an
// empty ledger, and so reset every budget.
var ErrStoreDamaged = fault.New("store_damaged", "token store damaged")

// Store is the client's token store. It is safe for use by several
// goroutines and several processes at once.
type Store struct {
	db   storeDB
	path string
}

// newStore is the store of the open database db, the file at path.
func newStore(db *sql.DB, path string) *Store {
	return &Store{db: storeDB{raw: db, shortcut: ShortcutPath(path)},
		path: path}
}

// Path returns the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }
