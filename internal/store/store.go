// Package store is serve's database: the secret the tokens' root keys are
// derived from, the stored root keys of tokens minted before, every
// challenge's transaction for the admin API, and the Payment scheme's
// challenge secret, single-use claims and sessions (mpp.go). SQLite (modernc.org/sqlite, no cgo) is the embedded
// default and Postgres serves several replicas; migrations are embedded
// and versioned.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/sqlitedb"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

var (
	// ErrNotFound is returned for a token the store holds no row of: no
	// stored root key (RootKey), or no transaction.
	ErrNotFound = errors.New("no root key for this token")
)

// Store is serve's database. It is safe for concurrent use. Both backends
// share one schema and one set of queries, written with ? placeholders
// and rewritten to $1, $2, ... for Postgres.
type Store struct {
	db *sql.DB

	// name says which database this is in errors: the backend and the
	// path, or host:port/dbname, never a password.
	name string

	// dollar is set when the driver wants $n placeholders.
	dollar bool

	// writes serialises the Payment scheme's writes to SQLite (writer);
	// stmts are its prepared statements, by query (prepared).
	writes sync.Mutex
	stmts  sync.Map

	// draws and meterOps group SQLite's session draws and the meter's
	// admissions and settlements into commits (groupcommit.go;
	// drawbatch.go, meterbatch.go).
	draws    groupCommit[*draw]
	meterOps groupCommit[*meterOp]

	// book is the queue of the tokens' transactions (bookkeeping.go),
	// on either backend.
	book bookQueue

	// drawStatements counts the draw UPDATEs run (tests read it: one
	// per session per batch).
	drawStatements atomic.Int64

	// claims group SQLite's charge claims into commits (claimbatch.go);
	// claimCommits counts their transactions (tests read it).
	claims       groupCommit[*pendingClaim]
	claimCommits atomic.Int64

	// ledger, when set (BufferSessionDraws), takes SQLite's session
	// draws in memory and writes them behind (ledger.go).
	ledger *sessionLedger
}

// OpenSQLite opens (creating, 0600 in a 0700 directory) the SQLite store at
// path and brings its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	return openSQLite(ctx, path, sqlitedb.Open)
}

// OpenSQLiteMigrated opens the existing SQLite store at path without
// migrating it (sqlite.skipmigrations): its schema must be the one this
// l402 needs.
func OpenSQLiteMigrated(ctx context.Context, path string) (*Store, error) {
	return openSQLite(ctx, path, sqlitedb.OpenMigrated)
}

// openSQLite opens the store at path with open.
func openSQLite(ctx context.Context, path string,
	open func(context.Context, string, fs.FS, string, ...string) (*sql.DB,
		error)) (*Store, error) {

	db, err := open(ctx, path, sqliteMigrations, "migrations/sqlite",
		"synchronous(FULL)", "temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("sqlite database: %w", err)
	}
	return &Store{db: db, name: "sqlite " + path}, nil
}

// Close closes the store.
func (s *Store) Close() error {
	var err error
	s.book.close()
	if s.ledger != nil {
		err = s.ledger.close(s)
	}
	s.draws.close()
	s.meterOps.close()
	s.claims.close()
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return errors.Join(err, s.db.Close())
}

// String names the store: its backend and where it is, without secrets.
func (s *Store) String() string { return s.name }

// Minted is a newly minted token, as its transaction records it (its
// root key is derived, never stored).
type Minted struct {
	ID      l402.Identifier
	Service string

	CreatedAt time.Time

	// PriceSat is the invoice's amount, Scheme the authentication
	// scheme the challenge was for (SchemeL402 when empty), and
	// AddIndex the node's add index of the invoice (0 when unknown):
	// the transaction the admin API lists.
	PriceSat int64
	Scheme   string
	AddIndex uint64
}

// SchemeL402 names the L402 scheme in transactions.
const SchemeL402 = "l402"

// RootKey returns the stored root key of a token minted before root keys
// were derived (a random one, in root_keys), or an error wrapping
// ErrNotFound and l402.ErrUnknownToken: serve asks only when a token's
// derived key does not verify it.
func (s *Store) RootKey(ctx context.Context, id l402.Identifier) ([]byte,
	error) {

	key, err := id.Key()
	if err != nil {
		return nil, err
	}
	var rootKey []byte
	err = s.db.QueryRowContext(ctx, s.query(`SELECT root_key FROM root_keys
		WHERE id_key = ?`), key[:]).Scan(&rootKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, l402.ErrUnknownToken)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: unable to read the root key: %w",
			s.name, err)
	}
	return rootKey, nil
}

// StoredKeyPrefixes returns the first 8 bytes (big-endian) of the key,
// sha256(identifier), of every token with a stored root key, sorted: no
// l402 from derived keys on writes one (migration 0007 keeps an older
// l402 out of the database), so the set read at start is every token
// RootKey can find, and serve asks RootKey only for those, so that a
// forged token costs no read. A token is 8 bytes of it.
func (s *Store) StoredKeyPrefixes(ctx context.Context) ([]uint64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id_key FROM root_keys`)
	if err != nil {
		return nil, fmt.Errorf("%s: unable to list the stored root keys: "+
			"%w", s.name, err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var key []byte
		if err := rows.Scan(&key); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("%s: a root_keys row has a %d-byte "+
				"key, want 32: the database is damaged", s.name, len(key))
		}
		out = append(out, binary.BigEndian.Uint64(key))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: unable to list the stored root keys: "+
			"%w", s.name, err)
	}
	slices.Sort(out)
	return out, nil
}

// query returns q with its ? placeholders in the driver's syntax. The
// queries of this package hold no ? other than placeholders.
func (s *Store) query(q string) string {
	if !s.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}

// isDuplicate reports whether err is a primary-key or unique violation on
// either backend.
func isDuplicate(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY ||
			code == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}
