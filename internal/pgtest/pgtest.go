// Package pgtest gives tests a fresh, real Postgres database: on the server
// $L402_TEST_POSTGRES names, or on a throwaway cluster it starts itself.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/l402/l402/internal/store"
)

// EnvURL names the variable holding a postgres:// URL of a server to use
// instead of a throwaway cluster; its user must be allowed to CREATE
// DATABASE.
const EnvURL = "L402_TEST_POSTGRES"

// EnvRequire, like CI, makes a missing Postgres fail the tests instead of
// skipping them.
const EnvRequire = "L402_REQUIRE_POSTGRES"

// advice says how to make Postgres available to the tests.
const advice = "install postgresql (apt-get install postgresql), or set " +
	EnvURL + " to a postgres:// URL of a server whose user may create " +
	"databases"

// errNoPostgres is wrapped by the error of a machine without Postgres: the
// tests skip unless Postgres is required.
var errNoPostgres = errors.New("no Postgres available")

// Database is one fresh, empty database for a test.
type Database struct {
	// Options open it with store.OpenPostgres.
	Options store.PostgresOptions

	// URL is a postgres:// URL of it, for the test's own connections.
	URL string
}

// server is the Postgres server the tests of this binary share.
type server struct {
	// admin is connected to the server's maintenance database, to create
	// and drop the tests' databases.
	admin *sql.DB

	// base reaches the server; DBName is left to each test.
	base store.PostgresOptions

	// cluster is the throwaway cluster, nil for $L402_TEST_POSTGRES.
	cluster *cluster
}

var (
	sharedOnce sync.Once
	sharedSrv  *server
	sharedErr  error
)

// Start returns a fresh database, dropped when the test ends. Without
// Postgres the test is skipped, or fails when $CI or
// $L402_REQUIRE_POSTGRES is set. The throwaway cluster is started once per
// test binary; use Main in TestMain to stop it cleanly, or leave it to die
// with the test binary.
func Start(t testing.TB) Database {
	t.Helper()
	sharedOnce.Do(func() { sharedSrv, sharedErr = startServer() })
	if errors.Is(sharedErr, errNoPostgres) && !required() {
		t.Skip(sharedErr)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}

	name, err := databaseName()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sharedSrv.admin.ExecContext(ctx, `CREATE DATABASE "`+
		name+`"`); err != nil {
		t.Fatalf("pgtest: unable to create database %s on %s: %v", name,
			sharedSrv.base, err)
	}
	t.Cleanup(func() { drop(t, name) })

	opts := sharedSrv.base
	opts.DBName = name
	return Database{Options: opts, URL: opts.DSN()}
}

// Main runs the tests, then stops the throwaway cluster (if one was
// started) and removes its files; it returns the exit code for os.Exit.
// Call it from TestMain: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if sharedSrv != nil {
		sharedSrv.admin.Close()
		if sharedSrv.cluster != nil {
			sharedSrv.cluster.stop()
		}
	}
	return code
}

// required reports whether a missing Postgres is a failure.
func required() bool {
	return os.Getenv("CI") != "" || os.Getenv(EnvRequire) != ""
}

// databaseName returns a new random database name.
func databaseName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "l402_test_" + hex.EncodeToString(b[:]), nil
}

// drop drops a test's database, closing any connection left to it.
func drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sharedSrv.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+
		name+`" WITH (FORCE)`); err != nil {
		t.Errorf("pgtest: unable to drop database %s on %s: %v", name,
			sharedSrv.base, err)
	}
}

// startServer connects to $L402_TEST_POSTGRES, or else starts a throwaway
// cluster.
func startServer() (*server, error) {
	if raw := os.Getenv(EnvURL); raw != "" {
		return connectExternal(raw)
	}
	c, err := startCluster()
	if err != nil {
		return nil, err
	}
	base := store.PostgresOptions{Host: "127.0.0.1", Port: c.port,
		User: clusterUser}
	admin, err := openAdmin(base, "postgres")
	if err != nil {
		c.stop()
		return nil, err
	}
	return &server{admin: admin, base: base, cluster: c}, nil
}

// connectExternal connects to the server of a postgres:// URL.
func connectExternal(raw string) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// url.Parse's error would repeat the URL, password and all.
		return nil, fmt.Errorf("pgtest: %s is not a postgres:// URL", EnvURL)
	}
	base := store.PostgresOptions{Host: u.Hostname(),
		Port: store.DefaultPostgresPort, User: u.User.Username()}
	base.Password, _ = u.User.Password()
	if p := u.Port(); p != "" {
		if base.Port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("pgtest: %s has a bad port %q", EnvURL, p)
		}
	}
	switch u.Query().Get("sslmode") {
	case "require", "verify-ca", "verify-full":
		base.RequireSSL = true
	}
	dbname := "postgres"
	if len(u.Path) > 1 {
		dbname = u.Path[1:]
	}
	admin, err := openAdmin(base, dbname)
	if err != nil {
		return nil, err
	}
	return &server{admin: admin, base: base}, nil
}

// openAdmin connects to the database dbname of the server base reaches.
func openAdmin(base store.PostgresOptions, dbname string) (*sql.DB, error) {
	opts := base
	opts.DBName = dbname
	if opts.Port == 0 {
		opts.Port = store.DefaultPostgresPort
	}
	db, err := sql.Open("pgx", opts.DSN())
	if err != nil {
		return nil, fmt.Errorf("pgtest: postgres %s: %w", opts, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("pgtest: unable to connect to postgres %s: "+
			"%w", opts, err)
	}
	return db, nil
}
