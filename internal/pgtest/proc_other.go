//go:build !linux

package pgtest

import (
	"fmt"
	"syscall"
)

// clusterCredential refuses: the throwaway cluster relies on Linux's
// parent-death signal so that it never outlives the test binary.
func clusterCredential() (*credential, error) {
	return nil, fmt.Errorf("pgtest: %w: a throwaway cluster is started on "+
		"Linux only; set %s", errNoPostgres, EnvURL)
}

// sysProcAttr is not reached off Linux.
func sysProcAttr(*credential, bool) *syscall.SysProcAttr { return nil }

// processAlive keeps every directory off Linux, where none is made.
func processAlive(int) bool { return true }
