package tokens

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/l402/l402/internal/atomicfile"
)

// The shortcut file lets a fetch that only sends an origin's token find it
// without opening SQLite, which is most of what such a fetch costs. It
// sits beside the store (tokens.db-shortcut, mode 0600) and holds, for
// each origin it names, the Authorization value of the origin's token;
// an origin is named only while it has a token, no pending payment and no
// Payment session, so a fetch that finds it there has nothing to settle
// first and nothing to draw.
//
// The file is true while it exists: every write to the store removes it
// inside the write's transaction, before the write (storeDB), and it is
// written only inside a transaction of its own that has read what it
// holds (WriteShortcut). The two hold SQLite's write lock, so one of
// them runs whole before the other, and the file never outlives a change
// it does not show. It also names the store file it was written for
// (stampOf), so that a store moved aside or deleted, or a backup moved
// into its place, does not inherit it; a backup copied over the store's
// file keeps its stamp (docs/tokens.md says to remove the shortcut file
// then). A reader that finds no file, a file it cannot read, or no entry
// for its origin opens the store, as before; a reader never writes it.

// shortcutVersion is the shortcut file's format; a file of another is
// not read.
const shortcutVersion = 1

// schemaVersion is the store's schema version this l402 migrates to (the
// count of its migrations). The shortcut file names the one it was written
// under, and one of another is not read: a later migration runs on the
// raw database, not through storeDB, and may change what the file holds.
var schemaVersion = sync.OnceValue(func() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	return len(names)
})

// ShortcutPath is the shortcut file of the store at storePath. A store
// path that is a symlink names the file it points to, as SQLite does (it
// puts the WAL beside that file): a store reached through a symlink and
// by its own path is one store, with one shortcut file, which a write
// through either name removes.
func ShortcutPath(storePath string) string {
	if st, err := os.Lstat(storePath); err == nil &&
		st.Mode()&fs.ModeSymlink != 0 {
		if target, err := filepath.EvalSymlinks(storePath); err == nil {
			storePath = target
		}
	}
	return storePath + "-shortcut"
}

// Shortcut is an origin's entry of the shortcut file: its token's
// Authorization value, and what a verbose fetch says of the token.
type Shortcut struct {
	Authorization string `json:"authorization"`
	PaymentHash   string `json:"payment_hash"`
	AmountMsat    int64  `json:"amount_msat"`
	CreatedAt     int64  `json:"created_at"`
}

// shortcutFile is the shortcut file's content.
type shortcutFile struct {
	Version int                 `json:"version"`
	Schema  int                 `json:"schema"`
	Store   fileStamp           `json:"store"`
	Origins map[string]Shortcut `json:"origins"`
}

// ReadShortcut returns the origin's entry of the shortcut file of the
// store at storePath, and false when there is none to trust: no file, a
// file not the owner's alone, of another format, or of another store
// file than the one at storePath now.
func ReadShortcut(storePath, origin string) (Shortcut, bool) {
	f, ok := readShortcutFile(storePath)
	if !ok {
		return Shortcut{}, false
	}
	s, ok := f.Origins[origin]
	return s, ok && s.Authorization != ""
}

// readShortcutFile reads and checks the shortcut file of the store at
// storePath.
func readShortcutFile(storePath string) (shortcutFile, bool) {
	var f shortcutFile
	path := ShortcutPath(storePath)
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		return f, false
	}
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &f) != nil ||
		f.Version != shortcutVersion || f.Schema != schemaVersion() {
		return shortcutFile{}, false
	}
	if stamp, ok := stampOf(storePath); !ok || stamp != f.Store {
		return shortcutFile{}, false
	}
	return f, true
}

// fileStamp tells one file from another at the same path: its device
// and inode, and (where the system records it) its birth time, so that a
// new file given the inode of a deleted one is another file too. Writes
// leave it as it is.
type fileStamp struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Birth int64  `json:"birth_ns,omitempty"`
}

// statStamp is the stamp stat gives: the device and inode.
func statStamp(path string) (fileStamp, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStamp{}, false
	}
	return fileStamp{Dev: uint64(sys.Dev), Ino: uint64(sys.Ino)}, true
}

// WriteShortcut names the origin in the shortcut file when it has a token,
// no pending payment and no Payment session; otherwise, or when the file
// already names it with that token, it changes nothing. It reads and
// writes inside one write transaction, which no other write to the store
// can interleave (see the file's comment above).
func (s *Store) WriteShortcut(ctx context.Context, origin string) error {
	t, err := s.Token(ctx, origin)
	if err != nil {
		return nil // no token: nothing to name
	}
	auth, err := tokenAuthorization(t)
	if err != nil {
		return nil
	}
	// Already named (a --json fetch, which reads the store anyway):
	// no write lock taken. A file that exists is true.
	if f, ok := readShortcutFile(s.path); ok &&
		f.Origins[origin].Authorization == auth {
		return nil
	}

	// Not s.db.BeginTx, which removes the file. The transaction does not
	// end with ctx: database/sql rolls a canceled one back at once, which
	// would release the write lock while the file is still being written
	// (an interrupted fetch), and let another process's write, and the
	// removal of the file, come before the file.
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	tx, err := s.db.raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var busy int
	if err := tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM pending WHERE origin = ?) +
		(SELECT count(*) FROM sessions WHERE origin = ?)`,
		origin, origin).Scan(&busy); err != nil {
		return err
	}
	if busy > 0 {
		return nil
	}
	t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+`
		FROM tokens WHERE origin = ?`, origin))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if auth, err = tokenAuthorization(t); err != nil {
		return nil
	}

	f, ok := readShortcutFile(s.path)
	if !ok {
		stamp, stampOK := stampOf(s.path)
		if !stampOK {
			return nil
		}
		f = shortcutFile{Version: shortcutVersion, Schema: schemaVersion(),
			Store: stamp}
	}
	if f.Origins == nil {
		f.Origins = map[string]Shortcut{}
	}
	f.Origins[origin] = Shortcut{Authorization: auth,
		PaymentHash: t.PaymentHash.String(), AmountMsat: t.AmountMsat,
		CreatedAt: t.CreatedAt.Unix()}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(ShortcutPath(s.path), data, 0o600); err != nil {
		return fmt.Errorf("shortcut file: %w", err)
	}
	return tx.Commit()
}

// tokenAuthorization is t's Authorization value.
func tokenAuthorization(t Token) (string, error) {
	cred, err := t.Credential()
	if err != nil {
		return "", err
	}
	return cred.Authorization()
}

// storeDB is the store's database. Its writes (ExecContext, and every
// transaction, each of which takes SQLite's write lock) first remove the
// shortcut file, inside the transaction; reads pass through. It has no
// other way in (no embedded *sql.DB, whose Conn or PrepareContext would
// write around the removal): WriteShortcut alone uses raw.
type storeDB struct {
	raw      *sql.DB
	shortcut string
}

// QueryContext runs a read.
func (d storeDB) QueryContext(ctx context.Context, query string,
	args ...any) (*sql.Rows, error) {

	return d.raw.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a read of one row.
func (d storeDB) QueryRowContext(ctx context.Context, query string,
	args ...any) *sql.Row {

	return d.raw.QueryRowContext(ctx, query, args...)
}

// Close closes the database.
func (d storeDB) Close() error { return d.raw.Close() }

// BeginTx begins a write transaction and removes the shortcut file in it.
func (d storeDB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx,
	error) {

	tx, err := d.raw.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := dropShortcut(d.shortcut); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// ExecContext runs one write in a transaction that first removes the
// shortcut file.
func (d storeDB) ExecContext(ctx context.Context, query string,
	args ...any) (sql.Result, error) {

	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// dropShortcut removes the shortcut file at path, if there is one, and
// syncs its directory, so that a crash cannot bring back a file the
// write about to commit makes untrue.
func dropShortcut(path string) error {
	err := os.Remove(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("unable to remove the shortcut file %s before "+
			"writing the token store: %w", path, err)
	}
	atomicfile.SyncDir(filepath.Dir(path))
	return nil
}
