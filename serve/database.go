package serve

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/l402/l402/internal/store"
)

// openStore opens the configured database: SQLite (default Dir/serve.db)
// or Postgres, migrated unless its skipmigrations is set.
func openStore(ctx context.Context, cfg *Config, dir string) (*store.Store,
	error) {

	if cfg.DBBackend == "postgres" {
		p := cfg.Postgres
		return store.OpenPostgres(ctx, store.PostgresOptions{Host: p.Host,
			Port: p.Port, User: p.User, Password: p.Password,
			DBName: p.DBName, MaxConnections: p.MaxConnections,
			RequireSSL: p.requireSSL(), SkipMigrations: p.SkipMigrations})
	}
	path := cfg.SQLite.Path()
	if path == "" {
		path = filepath.Join(dir, "serve.db")
	}
	if cfg.SQLite.SkipMigrations {
		return store.OpenSQLiteMigrated(ctx, path)
	}
	return store.OpenSQLite(ctx, path)
}

// bufferSessionDraws makes an SQLite store with sessions on hold their
// draws in memory for sessionwriteinterval (docs/mpp.md, "Draws in
// memory"), logging every failed write of them.
func bufferSessionDraws(db *store.Store, cfg *Config, log *slog.Logger) error {
	m := cfg.Authenticator.MPP
	if !m.EnableSessions || cfg.DBBackend == "postgres" ||
		m.WriteInterval() <= 0 {
		return nil
	}
	return db.BufferSessionDraws(m.WriteInterval(), func(err error) {
		log.Error("unable to write session draws", "err", err)
	})
}
