package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/l402/l402/internal/sqlitedb"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

const (
	// DefaultPostgresPort is the port of a PostgresOptions without one.
	DefaultPostgresPort = 5432

	// DefaultPostgresMaxConnections bounds the connections of a
	// PostgresOptions without MaxConnections.
	DefaultPostgresMaxConnections = 10

	// migrationLock is the pg_advisory_xact_lock key that serialises
	// migrations: replicas starting at once on one database migrate one
	// after the other. Advisory locks are per database, so other
	// databases on the server are not held up. The value is the first
	// eight bytes of sha256("l402 store migrations").
	migrationLock int64 = 0x52eff515092ff7df
)

// PostgresOptions says how to reach serve's Postgres database; the fields
// are Aperture's postgres keys.
type PostgresOptions struct {
	// Host is a host name or address, or the directory of a Unix
	// socket (a path starting with /).
	Host string

	// Port defaults to DefaultPostgresPort.
	Port int

	User     string
	Password string
	DBName   string

	// MaxConnections bounds the open connections; it defaults to
	// DefaultPostgresMaxConnections.
	MaxConnections int

	// RequireSSL refuses a connection without TLS (sslmode=require);
	// otherwise TLS is not used (sslmode=disable).
	RequireSSL bool

	// SkipMigrations leaves the schema as it is: no table is created
	// or changed, so the user needs no right to; a schema older than
	// this l402 needs is refused.
	SkipMigrations bool
}

// withDefaults returns the options with their defaults filled in, or an
// error naming the first bad one.
func (o PostgresOptions) withDefaults() (PostgresOptions, error) {
	if o.Port == 0 {
		o.Port = DefaultPostgresPort
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = DefaultPostgresMaxConnections
	}
	switch {
	case o.Host == "":
		return o, errors.New("postgres: host is required")
	case o.DBName == "":
		return o, errors.New("postgres: dbname is required")
	case o.Port < 1 || o.Port > 65535:
		return o, fmt.Errorf("postgres: port %d is not between 1 and "+
			"65535", o.Port)
	case o.MaxConnections < 0:
		return o, fmt.Errorf("postgres: maxconnections %d is negative",
			o.MaxConnections)
	}
	return o, nil
}

// String names the database as host:port/dbname, for errors and logs; it
// never shows the password.
func (o PostgresOptions) String() string {
	return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)) + "/" + o.DBName
}

// DSN returns the options as a postgres:// URL for pgx. It holds the
// password: never log or show it.
func (o PostgresOptions) DSN() string {
	q := url.Values{}
	if o.RequireSSL {
		q.Set("sslmode", "require")
	} else {
		q.Set("sslmode", "disable")
	}
	q.Set("connect_timeout", "10")
	q.Set("application_name", "l402")

	u := url.URL{Scheme: "postgres", Path: "/" + o.DBName}
	if strings.HasPrefix(o.Host, "/") {
		// A Unix socket directory goes in the query, as libpq has it.
		q.Set("host", o.Host)
		q.Set("port", strconv.Itoa(o.Port))
	} else {
		u.Host = net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	}
	switch {
	case o.Password != "":
		u.User = url.UserPassword(o.User, o.Password)
	case o.User != "":
		u.User = url.User(o.User)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres connects to serve's Postgres database and brings its schema
// up to date. Several replicas may open one database at the same moment.
func OpenPostgres(ctx context.Context, opts PostgresOptions) (*Store,
	error) {

	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	name := "postgres " + opts.String()

	db, err := sql.Open("pgx", opts.DSN())
	if err != nil {
		return nil, fmt.Errorf("%s: unable to open: %w", name, err)
	}
	db.SetMaxOpenConns(opts.MaxConnections)
	db.SetMaxIdleConns(opts.MaxConnections)
	db.SetConnMaxIdleTime(5 * time.Minute)

	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: unable to connect (check host, port, "+
			"user, password and requiressl): %w", name, err)
	}
	check := migratePostgres
	if opts.SkipMigrations {
		check = checkPostgres
	}
	if err := check(ctx, db, postgresMigrations,
		"migrations/postgres"); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Store{db: db, name: name, dollar: true}, nil
}

// migratePostgres applies, in one transaction holding the migration lock,
// the migrations dir/NNNN_*.sql of fsys the database has not seen. Each
// applied migration is a row of schema_version.
func migratePostgres(ctx context.Context, db *sql.DB, fsys fs.FS,
	dir string) error {

	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("unable to begin the migration: %w", err)
	}
	defer tx.Rollback()

	// The lock comes first, so that a second replica waits here until
	// the first has committed, and then finds nothing left to do.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)",
		migrationLock); err != nil {
		return fmt.Errorf("unable to take the migration lock: %w", err)
	}
	version, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if version > len(names) {
		return fmt.Errorf("schema version %d is newer than this l402 "+
			"knows (%d): upgrade l402", version, len(names))
	}
	for i := version; i < len(names); i++ {
		if err := applyMigration(ctx, tx, fsys, dir, names[i],
			i+1); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("unable to commit the migrations: %w", err)
	}
	return nil
}

// checkPostgres returns an error unless the database's schema is the
// newest of the migrations dir/*.sql of fsys. It reads schema_version
// and changes nothing; a database without that table is at version 0.
func checkPostgres(ctx context.Context, db *sql.DB, fsys fs.FS,
	dir string) error {

	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return err
	}
	var table sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT
		to_regclass('schema_version')::text`).Scan(&table); err != nil {
		return fmt.Errorf("unable to look for schema_version: %w", err)
	}
	version := 0
	if table.Valid {
		if err := db.QueryRowContext(ctx, `SELECT
			COALESCE(MAX(version), 0) FROM schema_version`).Scan(
			&version); err != nil {
			return fmt.Errorf("unable to read schema_version: %w", err)
		}
	}
	return sqlitedb.CheckVersion(version, len(names))
}

// schemaVersion creates schema_version if it is missing and returns the
// newest migration applied, zero for none.
func schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS
		schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT
		NOT NULL)`); err != nil {
		return 0, fmt.Errorf("unable to create schema_version: %w", err)
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0)
		FROM schema_version`).Scan(&version); err != nil {
		return 0, fmt.Errorf("unable to read schema_version: %w", err)
	}
	return version, nil
}

// applyMigration runs one migration file and records it as version.
func applyMigration(ctx context.Context, tx *sql.Tx, fsys fs.FS, dir,
	name string, version int) error {

	if !strings.HasPrefix(name, fmt.Sprintf("%s/%04d_", dir, version)) {
		return fmt.Errorf("migration %s is out of sequence", name)
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version,
		applied_at) VALUES ($1, $2)`, version, time.Now().Unix()); err != nil {
		return fmt.Errorf("migration %s: unable to record it: %w", name,
			err)
	}
	return nil
}
