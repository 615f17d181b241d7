package main

import (
	"fmt"

	"github.com/l402/l402/internal/buildinfo"
	"github.com/l402/l402/internal/cli"
	"github.com/spf13/cobra"
)

// Set at build time by the Makefile with -ldflags "-X main.version=...
// -X main.commit=...". Empty means not set: the build info decides.
var (
	version = ""
	commit  = ""
)

// newVersionCmd builds `l402 version`.
func newVersionCmd(streams cli.IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cli.ExactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			v := buildinfo.Current(version, commit)
			if asJSON {
				return cli.WriteJSON(streams.Out, v)
			}
			_, err := fmt.Fprintln(streams.Out, v.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as a JSON object")
	return cmd
}
