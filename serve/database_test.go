package serve

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/store"
)

// TestCloseLogsLostDraws: when serve's stop cannot write the session
// draws held in memory (here another process closed the session behind
// serve's back), the loss is logged, not dropped.
func TestCloseLogsLostDraws(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "serve.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.OpenSession(ctx, store.NewSession{ID: [32]byte{1},
		Service: "api", ReturnInvoice: "lnbcrt1refund", DepositSat: 100,
		DrawSat: 1, ChallengeID: "cid", ChallengeExpires: now.Add(time.Hour),
		Now: now}); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	cfg := &Config{DBBackend: "sqlite"}
	cfg.Authenticator.MPP.EnableSessions = true
	if err := bufferSessionDraws(st, cfg, log); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DrawSession(ctx, [32]byte{1}, "api", 5, now,
		time.Hour); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	id := [32]byte{1}
	if _, err := other.Exec(`UPDATE mpp_sessions SET status = 'closed',
		balance_sat = 0 WHERE session_id = ?`, id[:]); err != nil {
		t.Fatal(err)
	}
	(&server{db: st, log: log}).close()
	if !strings.Contains(logged.String(), "5 sat of draws served") {
		t.Fatalf("the stop logged %q, want the 5 sat lost", logged.String())
	}
}
