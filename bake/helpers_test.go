package bake

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402/l402/internal/macaroons/macaroontest"
)

// mintRole returns a macaroon as lnd would bake it for the role.
func mintRole(t *testing.T, role string, caveats ...string) []byte {
	return macaroontest.MintRole(t, role, caveats...)
}

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// duration returns a pointer to d, as Caveats.Timeout takes it.
func duration(d time.Duration) *time.Duration { return &d }

// isolated returns lnd options that find no lnd: an empty home and an
// empty environment.
func isolated(t *testing.T) Options {
	t.Helper()
	return Options{Lnd: lndOptions(t)}
}
