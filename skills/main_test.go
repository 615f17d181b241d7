//go:build !itest

package skills

import (
	"fmt"
	"os"
	"testing"
)

// TestMain builds l402 once for the tests that read its --help; the itests
// have their own TestMain, which also brings up regtest.
func TestMain(m *testing.M) {
	dir, err := buildL402()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
