// Package sqlitedb opens l402's SQLite files (modernc.org/sqlite, no cgo):
// owner-only permissions, WAL, immediate write transactions, and embedded
// migrations tracked by PRAGMA user_version.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // the "sqlite" driver, without cgo
	sqlite3 "modernc.org/sqlite/lib"
)

// Open opens the database at path, creating it 0600 in a 0700 directory,
// and applies the migrations dir/NNNN_*.sql of fsys it has not seen. The
// pragmas (such as "synchronous(FULL)") follow WAL and a busy timeout.
func Open(ctx context.Context, path string, fsys fs.FS, dir string,
	pragmas ...string) (*sql.DB, error) {

	return openWith(ctx, path, fsys, dir, true, nil, pragmas)
}

// OpenChecked is Open with a check of the database run on the opened
// connection pool before any migration; its error is returned as it is,
// and nothing is migrated. Only a file that the pragmas leave unchanged
// (already in WAL mode) should be opened so for a check that must not
// change it.
func OpenChecked(ctx context.Context, path string, fsys fs.FS, dir string,
	check func(context.Context, *sql.DB) error, pragmas ...string) (*sql.DB,
	error) {

	return openWith(ctx, path, fsys, dir, true, check, pragmas)
}

// OpenMigrated opens an existing database at path without migrating it
// (for a schema its owner migrates, or a user without the right to
// change it): its schema must be the newest of fsys's migrations. A
// missing file or an older schema is an error that says so.
func OpenMigrated(ctx context.Context, path string, fsys fs.FS, dir string,
	pragmas ...string) (*sql.DB, error) {

	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: %w: with migrations skipped the "+
			"database must exist already", path, err)
	}
	return openWith(ctx, path, fsys, dir, false, nil, pragmas)
}

// openWith opens the database at path, runs before (when set), and
// migrates it, or with migrate unset checks that it needs no migration.
func openWith(ctx context.Context, path string, fsys fs.FS, dir string,
	migrate bool, before func(context.Context, *sql.DB) error,
	pragmas []string) (*sql.DB, error) {

	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("unable to create %s: %w", parent, err)
	}

	// Create the file with owner-only permissions before SQLite does;
	// SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("unable to open %s: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("unable to restrict %s to its owner: %w",
			path, err)
	}

	q := url.Values{}
	for _, p := range append([]string{"busy_timeout(10000)",
		"journal_mode(WAL)"}, pragmas...) {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+URIPath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("unable to open %s: %w", path, err)
	}
	if before != nil {
		if err := before(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
	}
	check := func() error { return migrateWhenFree(ctx, db, fsys, dir) }
	if !migrate {
		check = func() error { return checkVersion(ctx, db, fsys, dir) }
	}
	if err := check(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// URIPath escapes a file name for a "file:" URI: SQLite decodes %HH in a
// URI's path and ends the path at '?' or '#', so these three are written
// as escapes and every other byte is left as it is.
func URIPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").
		Replace(path)
}

// checkVersion returns an error unless the database's schema is the
// newest of the migrations dir/*.sql of fsys.
func checkVersion(ctx context.Context, db *sql.DB, fsys fs.FS,
	dir string) error {

	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return err
	}
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(
		&version); err != nil {
		return err
	}
	return CheckVersion(version, len(names))
}

// CheckVersion says whether a schema at version suits an l402 whose
// newest migration is want, when migrations are skipped: only the same
// version does, and an error says what to run.
func CheckVersion(version, want int) error {
	switch {
	case version > want:
		return fmt.Errorf("schema version %d is newer than this l402 "+
			"knows (%d): upgrade l402", version, want)
	case version < want:
		return fmt.Errorf("schema version %d is older than this l402 "+
			"needs (%d) and migrations are skipped: start l402 serve "+
			"once without skipmigrations (as a user who may change "+
			"the schema) to migrate it", version, want)
	}
	return nil
}

// busyWait bounds how long Open waits for other processes opening the
// same new file, as the busy timeout bounds a write.
const busyWait = 10 * time.Second

// migrateWhenFree runs migrate, trying again while the file is busy. A
// new connection's PRAGMA journal_mode(WAL) takes an exclusive lock, and
// SQLite answers SQLITE_BUSY at once, without its busy handler, when
// several processes open a new file together (two fetches started side
// by side on a fresh machine): the connection is dropped, and the next
// try makes a new one.
func migrateWhenFree(ctx context.Context, db *sql.DB, fsys fs.FS,
	dir string) error {

	deadline := time.Now().Add(busyWait)
	for {
		err := migrate(ctx, db, fsys, dir)
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (the database is
// locked by another connection).
func isBusy(err error) bool { return IsCode(err, sqlite3.SQLITE_BUSY) }

// IsCode reports whether err is an SQLite error of the primary result
// code (sqlite3.SQLITE_BUSY, SQLITE_NOTADB, ...), extended codes included.
func IsCode(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == code
}

// migrate applies, in one transaction, the migrations the database has not
// seen, tracked by PRAGMA user_version. A schema already the newest is
// read without a write transaction: most opens migrate nothing, and need
// not wait for a writer.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS, dir string) error {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)

	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(
		&current); err != nil {
		return err
	}
	if current == len(names) {
		return nil
	}

	// Another process may migrate meanwhile: the version is read again
	// under the write lock.
	tx, err := db.BeginTx(ctx, nil)
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
		want := fmt.Sprintf("%s/%04d_", dir, i+1)
		if !strings.HasPrefix(names[i], want) {
			return fmt.Errorf("migration %s is out of sequence", names[i])
		}
		body, err := fs.ReadFile(fsys, names[i])
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
	}
	if version < len(names) {
		if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+
			strconv.Itoa(len(names))); err != nil {
			return err
		}
	}
	return tx.Commit()
}
