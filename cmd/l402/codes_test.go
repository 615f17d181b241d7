package main

import (
	"testing"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lnddetect"

	// The Payment scheme's conditions, before serve and fetch link them.
	_ "github.com/l402/l402/internal/mpp"
)

// TestEveryConditionHasAnExitCode checks that each condition the linked
// packages declare, and each lnd cause, has a row in internal/cli's table
// (which docs/cli.md prints): a new sentinel without one fails here.
func TestEveryConditionHasAnExitCode(t *testing.T) {
	rows := map[string]bool{}
	for _, c := range cli.Table {
		rows[c.Code] = true
	}
	codes := fault.Known()
	for _, c := range lnddetect.Causes {
		codes = append(codes, string(c))
	}
	if len(codes) < 20 {
		t.Fatalf("only %d conditions known: %v", len(codes), codes)
	}
	for _, code := range codes {
		if !rows[code] {
			t.Errorf("condition %q has no row in internal/cli's table",
				code)
		}
	}
}
