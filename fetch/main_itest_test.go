//go:build itest

package fetch

import (
	"os"
	"testing"

	"github.com/l402/l402/internal/regtest"
)

// stack is the regtest stack the itests of this package share.
var stack *regtest.Stack

func TestMain(m *testing.M) { os.Exit(regtest.RunTests(m, &stack)) }
