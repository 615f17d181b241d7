// Package store is serve's database: the root keys of the tokens it mints.
// SQLite (modernc.org/sqlite, no cgo) is the embedded default; migrations
// are embedded and versioned.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/sqlitedb"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// ErrNotFound is returned for an identifier without a root key.
var ErrNotFound = errors.New("no root key for this token")

// Store keeps root keys. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// OpenSQLite opens (creating, 0600 in a 0700 directory) the SQLite store at
// path and brings its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(ctx, path, sqliteMigrations, "migrations/sqlite",
		"synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Minted is a newly minted token, as stored.
type Minted struct {
	ID      l402.Identifier
	RootKey []byte
	Service string

	CreatedAt time.Time

	// InvoiceExpiresAt is when the token's invoice can no longer be paid:
	// after it, an unpaid token's row may be pruned.
	InvoiceExpiresAt time.Time
}

// PutRootKey stores the root key of a newly minted token.
func (s *Store) PutRootKey(ctx context.Context, m Minted) error {
	key, err := m.ID.Key()
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO root_keys (id_key, root_key,
		service, created_at, payment_hash, invoice_expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, key[:], m.RootKey, m.Service,
		m.CreatedAt.Unix(), m.ID.PaymentHash[:], m.InvoiceExpiresAt.Unix())
	if err != nil {
		return fmt.Errorf("unable to store the root key: %w", err)
	}
	return nil
}

// RootKey returns a token's root key, or an error wrapping ErrNotFound and
// l402.ErrUnknownToken.
func (s *Store) RootKey(ctx context.Context, id l402.Identifier) ([]byte,
	error) {

	key, err := id.Key()
	if err != nil {
		return nil, err
	}
	var rootKey []byte
	err = s.db.QueryRowContext(ctx, `SELECT root_key FROM root_keys
		WHERE id_key = ?`, key[:]).Scan(&rootKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, l402.ErrUnknownToken)
	}
	return rootKey, err
}
