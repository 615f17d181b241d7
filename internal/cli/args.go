package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// ExactArgs refuses any number of positional arguments but n as bad
// arguments (exit 2), naming the command.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if n == 0 {
			return Usage(fmt.Errorf("%s takes no arguments, got %q",
				c.CommandPath(), args))
		}
		return Usage(fmt.Errorf("%s takes %d argument(s), got %d",
			c.CommandPath(), n, len(args)))
	}
}
