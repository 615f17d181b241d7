package sqlitedb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	fsys := fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"m/0002_b.sql": {Data: []byte("INSERT INTO a VALUES (1);")},
	}
	for i := 0; i < 2; i++ {
		db, err := Open(ctx, path, fsys, "m")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		db.QueryRow("SELECT COUNT(*) FROM a").Scan(&n)
		db.Close()
		if n != 1 {
			t.Fatalf("open %d: %d rows; migrations ran again", i, n)
		}
	}
	fi, _ := os.Stat(path)
	di, _ := os.Stat(filepath.Dir(path))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes %v %v", fi.Mode(), di.Mode())
	}

	gap := fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("SELECT 1;")},
		"m/0003_c.sql": {Data: []byte("SELECT 1;")},
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "y.db"), gap,
		"m"); err == nil || !strings.Contains(err.Error(), "sequence") {
		t.Fatalf("gap in migrations: %v", err)
	}
	bad := fstest.MapFS{"m/0001_a.sql": {Data: []byte("NOT SQL")}}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "z.db"), bad,
		"m"); err == nil || !strings.Contains(err.Error(), "0001_a") {
		t.Fatalf("bad migration: %v", err)
	}
}

// TestOpenMigratedSchemaTakesNoWriteLock: opening a database whose schema
// is the newest reads its version without a write transaction, so that
// it opens while another connection holds the write lock (a fetch that
// starts while another records a payment, say). The context only bounds
// a regression, which would wait for the lock.
func TestOpenMigratedSchemaTakesNoWriteLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	fsys := fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
	}
	db, err := Open(ctx, path, fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(ctx, "ROLLBACK")

	bounded, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	again, err := Open(bounded, path, fsys, "m")
	if err != nil {
		t.Fatalf("open while another connection writes: %v", err)
	}
	again.Close()
}

// A path is a file name, not a URI: '?', '#' and '%' in a directory's name
// (all legal on Unix) must neither cut the name short nor be decoded, and
// the database must land in the file the caller named.
func TestOpenPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
	}
	for _, name := range []string{"a?b", "c#d", "e%41f", "g%3fh", "i j"} {
		dir := filepath.Join(t.TempDir(), name)
		path := filepath.Join(dir, "x.db")
		db, err := Open(ctx, path, fsys, "m")
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if _, err := db.Exec("INSERT INTO a VALUES (7)"); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		db.Close()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) == 0 || names[0] != "x.db" {
			t.Fatalf("%q: the directory holds %v, want x.db", name, names)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Size() == 0 {
			t.Fatalf("%q: %s: %v (the data went elsewhere)", name, path, err)
		}
		db, err = Open(ctx, path, fsys, "m")
		if err != nil {
			t.Fatal(err)
		}
		var x int
		err = db.QueryRow("SELECT x FROM a").Scan(&x)
		db.Close()
		if err != nil || x != 7 {
			t.Fatalf("%q: reopened: %d, %v", name, x, err)
		}
	}
}
