package regtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// startTimeout bounds a test stack's whole bring-up, build excluded: on
// an idle 2-core machine it takes 30-40 s, and beside other builds over
// two minutes.
const startTimeout = 6 * time.Minute

// RunTests is the body of an itest package's TestMain: it brings up a
// stack, stores it in *stack, runs the tests and stops the stack whatever
// they did. It returns the exit code for os.Exit.
//
//	func TestMain(m *testing.M) { os.Exit(regtest.RunTests(m, &stack)) }
func RunTests(m *testing.M, stack **Stack) int {
	// Building lnd the first time takes minutes; it has no deadline
	// beyond go test's own.
	ctx := context.Background()
	dir, err := DefaultCacheDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "regtest: %v\n", err)
		return 1
	}
	if _, err := EnsureBinaries(ctx, dir, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "regtest: %v\n", err)
		return 1
	}

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	s, err := Start(ctx, Options{CacheDir: dir, Log: os.Stderr})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "regtest: unable to start the stack: %v\n",
			err)
		return 1
	}
	*stack = s

	code := m.Run()
	s.Stop()
	return code
}
