package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

func TestRootKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "serve.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := l402.NewIdentifier(l402.Hash{1}, l402.TokenID{2})
	key := make([]byte, 32)
	key[0] = 7
	if err := s.PutRootKey(ctx, Minted{ID: id, RootKey: key, Service: "svc",
		CreatedAt: time.Unix(1, 0), InvoiceExpiresAt: time.Unix(601, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRootKey(ctx, Minted{ID: id, RootKey: key, Service: "svc",
		CreatedAt: time.Unix(1, 0), InvoiceExpiresAt: time.Unix(601, 0)}); err == nil {
		t.Fatal("one identifier stored twice")
	}
	s.Close()

	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.RootKey(ctx, id)
	if err != nil || got[0] != 7 {
		t.Fatalf("root key after reopen: %x %v", got, err)
	}
	_, err = s.RootKey(ctx, l402.NewIdentifier(l402.Hash{1}, l402.TokenID{3}))
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, l402.ErrUnknownToken) {
		t.Fatalf("unknown token: %v", err)
	}
}
