package pgtest

import (
	"context"
	"database/sql"
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
