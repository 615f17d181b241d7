//go:build itest

package serve

import (
	"os"
	"testing"

	"github.com/l402/l402/internal/regtest"
)

// stack is the regtest stack the itests of this package share: alice
// buys, bob sells.
var stack *regtest.Stack

func TestMain(m *testing.M) { os.Exit(regtest.RunTests(m, &stack)) }
