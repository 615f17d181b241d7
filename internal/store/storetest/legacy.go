// Package storetest writes into a store what an older l402 left there,
// or what a crash or a failing disk leaves, for the tests of the code
// that must still read it.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Legacy is a token minted before root keys were derived: its random
// root key was stored in root_keys, beside its pending transaction.
type Legacy struct {
	ID               l402.Identifier
	RootKey          []byte
	Service          string
	PriceSat         int64
	CreatedAt        time.Time
	InvoiceExpiresAt time.Time
}

// PutLegacyRootKey writes tok's root_keys and transactions rows into the
// SQLite store at path (opened by a store or not), as l402 did
// before root keys were derived, on a connection of its own.
func PutLegacyRootKey(ctx context.Context, path string, tok Legacy) error {
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("unable to open %s: %w", path, err)
	}
	defer db.Close()
	key, err := tok.ID.Key()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("unable to begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO root_keys (id_key,
		root_key, service, created_at, payment_hash, invoice_expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, key[:], tok.RootKey, tok.Service,
		tok.CreatedAt.Unix(), tok.ID.PaymentHash[:],
		tok.InvoiceExpiresAt.Unix()); err != nil {
		return fmt.Errorf("unable to store the root key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO transactions (id_key,
		token_id, payment_hash, service, price_sat, scheme, state,
		add_index, created_at) VALUES (?, ?, ?, ?, ?, 'l402', 'pending',
		0, ?)`, key[:], tok.ID.TokenID[:], tok.ID.PaymentHash[:],
		tok.Service, tok.PriceSat, tok.CreatedAt.Unix()); err != nil {
		return fmt.Errorf("unable to store the transaction: %w", err)
	}
	return tx.Commit()
}

// FailTransactionWrites makes every later INSERT into the transactions
// table of the SQLite store at path fail (a trigger that aborts it), as
// a full disk or a broken database would, for the tests of what a failed
// bookkeeping write does.
func FailTransactionWrites(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("unable to open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER fail_transactions
		BEFORE INSERT ON transactions BEGIN SELECT RAISE(ABORT,
		'transactions are not written (a test)'); END`); err != nil {
		return fmt.Errorf("unable to add the trigger: %w", err)
	}
	return nil
}

// LoseTransactions deletes every transaction of the SQLite store at path,
// as a crash does to the rows still queued behind their 402s, for the
// tests of what a token whose row is missing does.
func LoseTransactions(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("unable to open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DELETE FROM transactions`); err != nil {
		return fmt.Errorf("unable to delete the transactions: %w", err)
	}
	return nil
}
