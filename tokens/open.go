package tokens

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/l402/l402/internal/atomicfile"
	"github.com/l402/l402/internal/sqlitedb"
	sqlite3 "modernc.org/sqlite/lib"
)

// pragmas are the store's connection settings after sqlitedb's own.
var pragmas = []string{"synchronous(FULL)", "foreign_keys(1)"}

// schemaTables are the tables every version of the schema has.
var schemaTables = []string{"tokens", "pending", "payments"}

// Open opens the store at path and brings its schema up to date. A file
// that does not exist yet is created (directory 0700, file 0600) whole,
// schema included, under another name and linked into place, so that no
// process ever sees a tokens.db without its schema; and so a file that
// exists but is empty, is not SQLite or has no token store tables is
// damaged, and refused with ErrStoreDamaged: opening it would start an
// empty ledger, which resets every budget.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := createIfMissing(ctx, path); err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	if inWALMode(path) {
		// The file is SQLite in WAL mode already: opening it as the store
		// does changes nothing, and its schema is checked on the store's
		// own connection, which saves a second one (a start of every
		// l402 fetch).
		var bad error
		db, err := sqlitedb.OpenChecked(ctx, path, migrations, "migrations",
			func(ctx context.Context, db *sql.DB) error {
				bad = hasSchema(ctx, db, path)
				return bad
			}, pragmas...)
		switch {
		case bad != nil:
			return nil, bad
		case err != nil:
			return nil, fmt.Errorf("token store: %w", err)
		}
		return newStore(db, path), nil
	}
	if err := checkSchema(ctx, path); err != nil {
		return nil, err
	}
	db, err := sqlitedb.Open(ctx, path, migrations, "migrations",
		pragmas...)
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	return newStore(db, path), nil
}

// inWALMode reports whether the file at path is the owner's only (0600,
// which opening it leaves so) and starts with the header of an SQLite
// database in WAL mode (its read and write versions are 2).
func inWALMode(path string) bool {
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [20]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return false
	}
	return string(h[:16]) == "SQLite format 3\x00" && h[18] == 2 && h[19] == 2
}

// createIfMissing creates the store at path when there is no file there:
// it builds it at a temporary name beside path and hard-links it into
// place, which fails without harm when another process did it first. On
// a file system without hard links it leaves path to sqlitedb.Open, which
// creates and migrates it in place. A shortcut file left by a deleted
// store is removed first.
func createIfMissing(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		// It exists, or cannot be looked at: opening it says which.
		return nil
	}
	// A deleted store's shortcut file is not the new one's, whose file
	// may get the deleted one's inode (shortcut.go).
	if err := dropShortcut(ShortcutPath(path)); err != nil {
		return err
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	tmp := path + ".new-" + hex.EncodeToString(suffix[:])
	defer removeDatabase(tmp)

	db, err := sqlitedb.Open(ctx, tmp, migrations, "migrations",
		pragmas...)
	if err != nil {
		return err
	}
	// Closing the last connection checkpoints the WAL into the file.
	if err := db.Close(); err != nil {
		return fmt.Errorf("unable to write %s: %w", tmp, err)
	}
	err = os.Link(tmp, path)
	switch {
	case errors.Is(err, fs.ErrExist):
		// Another process created it first: theirs is used.
		return nil
	case err != nil:
		// A file system without hard links: the store is made in place
		// by sqlitedb.Open, as before. Never rename over path, which
		// could replace another process's first payments.
		return nil
	}
	atomicfile.SyncDir(filepath.Dir(path))
	return nil
}

// removeDatabase removes a database file and the WAL and shared-memory
// files SQLite may have left beside it.
func removeDatabase(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
}

// checkSchema refuses a file at path that is empty, is not SQLite or
// lacks the store's tables, without changing it.
func checkSchema(ctx context.Context, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		// Opening it reports why it cannot be looked at.
		return nil
	}
	if st.Size() == 0 {
		return damaged(path, "it is empty")
	}

	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+sqlitedb.URIPath(path)+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("token store: unable to open %s: %w", path, err)
	}
	defer db.Close()
	return hasSchema(ctx, db, path)
}

// hasSchema refuses the database at path, open as db, when it is not
// SQLite or lacks the store's tables.
func hasSchema(ctx context.Context, db *sql.DB, path string) error {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master
		WHERE type = 'table' AND name IN (?, ?, ?)`, schemaTables[0],
		schemaTables[1], schemaTables[2]).Scan(&n)
	switch {
	case sqlitedb.IsCode(err, sqlite3.SQLITE_NOTADB):
		return damaged(path, "it is not an SQLite database")
	case err != nil:
		return fmt.Errorf("token store: unable to read %s: %w", path, err)
	case n != len(schemaTables):
		return damaged(path, "it has no token store schema")
	}
	return nil
}

// damaged returns ErrStoreDamaged for the file at path, saying what is
// wrong with it and what to do.
func damaged(path, what string) error {
	return ErrStoreDamaged.Mark(fmt.Errorf("token store %s is damaged: "+
		"%s. It held your tokens and the ledger that --max-total and "+
		"maxperorigin count, so it is not re-created empty: restore it "+
		"from a backup, or move it aside (keep it as a backup) to "+
		"start a new, empty store on the next run", path, what))
}
