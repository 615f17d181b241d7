package main

import (
	"strings"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/fault"
	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree. A subcommand is registered only once
// it works.
func newRootCmd(streams cli.IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "l402",
		Short: "Sell or buy an HTTP API for Lightning payments (L402)",
		Long: "l402 sells an HTTP or gRPC API for Lightning payments and " +
			"buys from one,\nusing the L402 protocol (HTTP 402, macaroons " +
			"and BOLT11 invoices).",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cli.Usage(err)
	})

	root.AddCommand(newVersionCmd(streams))
	root.AddCommand(newFetchCmd(streams))
	root.AddCommand(newTokensCmd(streams))
	root.AddCommand(newServeCmd(streams))
	root.AddCommand(newSetupCmd(streams))
	root.AddCommand(newBakeCmd(streams))
	return root
}

// execute runs the tree and marks cobra's own argument errors (an unknown
// command) as bad arguments, exit 2.
func execute(root *cobra.Command) error {
	err := root.Execute()
	if err != nil && fault.Code(err) == "" &&
		strings.HasPrefix(err.Error(), "unknown command") {
		return cli.Usage(err)
	}
	return err
}
