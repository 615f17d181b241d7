package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/store"
)

// BenchmarkReserveSettle is one metered request's database work on
// SQLite: an admission and a settlement, from 4 goroutines per CPU.
func BenchmarkReserveSettle(b *testing.B) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "serve.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	bk := booking("token:bench", 1<<60, 1000)
	if err := s.BookBundle(ctx, bk); err != nil {
		b.Fatal(err)
	}
	now := time.Unix(2000, 0)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, err := s.ReserveBundle(ctx, "token:bench", "llm", "m", 100,
				now)
			if err != nil || h.Refused != store.Admitted {
				b.Fatal(h, err)
			}
			if _, err := s.SettleBundle(ctx, "token:bench", h.ID, 50,
				now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
