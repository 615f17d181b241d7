//go:build itest

package lnctest_test

import (
	"os"
	"testing"

	"github.com/l402/l402/internal/regtest"
)

// stack is the regtest stack the LNC itests share.
var stack *regtest.Stack

func TestMain(m *testing.M) { os.Exit(regtest.RunTests(m, &stack)) }
