// Command l402 sells and buys HTTP APIs for Lightning payments with the
// L402 protocol. This package only wires flags to the command packages.
package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/l402/l402/internal/cli"
)

func main() {
	streams := cli.System()
	if invokedAsLnget(os.Args[0]) {
		os.Exit(runLnget(streams, os.Args[1:]))
	}
	root := newRootCmdFor(streams, os.Args[1:])
	if err := execute(root); err != nil {
		os.Exit(cli.Report(streams.ErrOut, err, jsonRequested(os.Args[1:])))
	}
}

// jsonRequested reports whether --json was given, so that errors raised
// before or while flags are parsed still come out as JSON.
func jsonRequested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--json" {
			return true
		}
		if v, ok := strings.CutPrefix(a, "--json="); ok {
			b, err := strconv.ParseBool(v)
			return err == nil && b
		}
	}
	return false
}
