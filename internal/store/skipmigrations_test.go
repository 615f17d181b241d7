package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/pgtest"
	"github.com/l402/l402/internal/store"
)

// TestSQLiteSkipMigrations: sqlite.skipmigrations opens a database whose
// schema is current, and refuses, with what to do, one that is missing
// (without creating it) or older.
func TestSQLiteSkipMigrations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	missing := filepath.Join(dir, "missing.db")
	_, err := store.OpenSQLiteMigrated(ctx, missing)
	if err == nil || !strings.Contains(err.Error(), "must exist") {
		t.Fatalf("missing database: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing database was created: %v", err)
	}

	// An empty file is an SQLite database at schema version 0.
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	_, err = store.OpenSQLiteMigrated(ctx, empty)
	if err == nil || !strings.Contains(err.Error(), "older than this "+
		"l402 needs") || !strings.Contains(err.Error(), "skipmigrations") {
		t.Fatalf("schema 0: %v", err)
	}

	path := filepath.Join(dir, "serve.db")
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.OpenSQLiteMigrated(ctx, path)
	if err != nil {
		t.Fatalf("current schema: %v", err)
	}
	defer s.Close()
	if _, _, err := s.Stats(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresSkipMigrations: postgres.skipmigrations creates nothing (not
// even schema_version), refuses a schema older than this l402 needs, and
// opens a current one.
func TestPostgresSkipMigrations(t *testing.T) {
	db := pgtest.Start(t)
	ctx := context.Background()
	skip := db.Options
	skip.SkipMigrations = true

	_, err := store.OpenPostgres(ctx, skip)
	if err == nil || !strings.Contains(err.Error(), "schema version 0 "+
		"is older") {
		t.Fatalf("empty database: %v", err)
	}
	var table *string
	raw := openRaw(t, db.URL)
	if err := raw.QueryRow(`SELECT to_regclass('schema_version')::text`).
		Scan(&table); err != nil || table != nil {
		t.Fatalf("schema_version created with migrations skipped: %v %v",
			table, err)
	}

	s, err := store.OpenPostgres(ctx, db.Options)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.OpenPostgres(ctx, skip)
	if err != nil {
		t.Fatalf("current schema: %v", err)
	}
	defer s.Close()
	if _, _, err := s.Stats(ctx); err != nil {
		t.Fatal(err)
	}
}
