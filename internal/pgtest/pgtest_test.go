package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestStartGivesFreshDatabases(t *testing.T) {
	ctx := context.Background()
	var first Database
	t.Run("first", func(t *testing.T) {
		first = Start(t)
		db := open(t, first.URL)
		if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INT)"); err != nil {
			t.Fatal(err)
		}
	})
	if first.URL == "" {
		t.Skip("no Postgres")
	}

	second := Start(t)
	if second.Options.DBName == first.Options.DBName {
		t.Fatalf("two tests share database %s", first.Options.DBName)
	}
	db := open(t, second.URL)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database
		WHERE datname = $1`, first.Options.DBName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s outlived its test", first.Options.DBName)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM
		information_schema.tables WHERE table_schema = 'public'`).Scan(
		&n); err != nil || n != 0 {
		t.Fatalf("a fresh database has %d tables (%v)", n, err)
	}
}

// open connects to url for the test.
func open(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"9.6", "15", true},
		{"15", "9.6", false},
		{"15", "16", true},
		{"16", "16", false},
	} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestFindBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	root := t.TempDir()
	binGlob = filepath.Join(root, "*", "bin", "initdb")
	t.Cleanup(func() { binGlob = "/usr/lib/postgresql/*/bin/initdb" })

	_, err := findBinaries()
	if !errors.Is(err, errNoPostgres) ||
		!strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Fatalf("no binaries: %v", err)
	}

	for _, v := range []string{"9.6", "15", "10"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(bin, name), nil,
				0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dir, err := findBinaries(); err != nil ||
		dir != filepath.Join(root, "15", "bin") {
		t.Fatalf("newest of 9.6, 10 and 15: %s %v", dir, err)
	}

	// initdb on PATH, with postgres beside it, comes first.
	t.Setenv("PATH", filepath.Join(root, "9.6", "bin"))
	if dir, err := findBinaries(); err != nil ||
		dir != filepath.Join(root, "9.6", "bin") {
		t.Fatalf("initdb on PATH: %s %v", dir, err)
	}
}

func TestConnectExternal(t *testing.T) {
	if _, err := connectExternal("mysql://u:s3cretpw@h/db"); err == nil ||
		strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("a mysql URL: %v", err)
	}

	d := Start(t)
	s, err := connectExternal(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.admin.Close()
	if s.base.Host != d.Options.Host || s.base.Port != d.Options.Port ||
		s.base.User != d.Options.User || s.cluster != nil {
		t.Fatalf("server from %s: %+v", d.Options, s.base)
	}
}
