package store_test

import (
	"context"
	"database/sql"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/l402/l402/internal/pgtest"
	"github.com/l402/l402/internal/store"
)

func TestPostgresReplicasMigrateAtOnce(t *testing.T) {
	db := pgtest.Start(t)
	ctx := context.Background()

	const replicas = 4
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.OpenPostgres(ctx, db.Options)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}

	raw := openRaw(t, db.URL)
	var n, max int
	if err := raw.QueryRow(`SELECT COUNT(*), MAX(version)
		FROM schema_version`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	migrations, _ := filepath.Glob("migrations/postgres/*.sql")
	if n != len(migrations) || max != len(migrations) {
		t.Fatalf("schema_version has %d rows up to %d; want each of the "+
			"%d migrations once", n, max, len(migrations))
	}
}

func TestPostgresRefusesNewerSchema(t *testing.T) {
	db := pgtest.Start(t)
	ctx := context.Background()
	s, err := store.OpenPostgres(ctx, db.Options)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	raw := openRaw(t, db.URL)
	if _, err := raw.Exec(`INSERT INTO schema_version VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	_, err = store.OpenPostgres(ctx, db.Options)
	if err == nil || !strings.Contains(err.Error(), "upgrade l402") {
		t.Fatalf("schema from a newer l402: %v", err)
	}
}

func TestPostgresErrorsHidePassword(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nobody listens there now

	const secret = "hunter2-s3cret"
	_, err = store.OpenPostgres(context.Background(), store.PostgresOptions{
		Host: "127.0.0.1", Port: port, User: "l402", Password: secret,
		DBName: "serve"})
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	where := "postgres 127.0.0.1:" + strconv.Itoa(port) + "/serve"
	if strings.Contains(err.Error(), secret) ||
		!strings.Contains(err.Error(), where) {
		t.Fatalf("error %q: want %q named and no password", err, where)
	}
}

func TestPostgresOptions(t *testing.T) {
	bad := []store.PostgresOptions{
		{DBName: "serve"},
		{Host: "db"},
		{Host: "db", DBName: "serve", Port: 70000},
		{Host: "db", DBName: "serve", MaxConnections: -1},
	}
	for _, o := range bad {
		if _, err := store.OpenPostgres(context.Background(), o); err == nil ||
			!strings.HasPrefix(err.Error(), "postgres: ") {
			t.Errorf("options %+v: %v", o, err)
		}
	}

	// A password with URL syntax in it survives the DSN.
	o := store.PostgresOptions{Host: "db.example", Port: 5433, User: "u@x",
		Password: "p@ss:/w?rd#%20 ", DBName: "serve", RequireSSL: true}
	cfg, err := pgx.ParseConfig(o.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "db.example" || cfg.Port != 5433 || cfg.User != "u@x" ||
		cfg.Password != o.Password || cfg.Database != "serve" ||
		cfg.TLSConfig == nil {
		t.Fatalf("DSN parsed as %s:%d %q %q %q tls=%v", cfg.Host, cfg.Port,
			cfg.User, cfg.Password, cfg.Database, cfg.TLSConfig != nil)
	}
	if strings.Contains(o.String(), "p@ss") {
		t.Fatalf("String shows the password: %s", o)
	}

	o = store.PostgresOptions{Host: "/run/postgresql", Port: 5432,
		DBName: "serve"}
	cfg, err = pgx.ParseConfig(o.DSN())
	if err != nil || cfg.Host != "/run/postgresql" || cfg.TLSConfig != nil {
		t.Fatalf("socket DSN %q: %+v %v", o.DSN(), cfg, err)
	}
}

// openRaw connects to url for the test's own SQL.
func openRaw(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
