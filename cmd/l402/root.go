package main

import (
	"fmt"
	"strings"

	"github.com/l402/l402/internal/buildinfo"
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
		Version:       buildinfo.Current(version, commit).String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
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
	root.AddCommand(newMCPCmd(streams))
	root.AddCommand(newAdminCmd(streams))
	root.AddCommand(newDiscoverCmd(streams))
	root.AddCommand(newStatusCmd(streams))
	// cobra adds its completion group only when run; added now, it
	// refuses an unknown shell as the other groups do.
	root.InitDefaultCompletionCmd()
	requireSubcommands(root)
	return root
}

// requireSubcommands makes every command group below root (tokens,
// completion) refuse an unknown subcommand, or none, as bad arguments
// (exit 2), where cobra would print help and exit 0: a script that
// mistypes a subcommand must not read success. Help asked for with --help
// stays help.
func requireSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		requireSubcommands(c)
		if c.Runnable() || !c.HasSubCommands() {
			continue
		}
		c.Args = func(c *cobra.Command, args []string) error {
			names := subcommandNames(c)
			if len(args) == 0 {
				return cli.Usage(fmt.Errorf("%s needs a subcommand: %s",
					c.CommandPath(), names))
			}
			return cli.Usage(fmt.Errorf("unknown command %q for %q; "+
				"choose one of %s", args[0], c.CommandPath(), names))
		}
		// Args refuses every call, so RunE never runs; it only makes
		// cobra check Args instead of printing help.
		c.RunE = func(*cobra.Command, []string) error { return nil }
		// Subcommands inherit a usage template: theirs stays cobra's.
		tmpl := c.UsageTemplate()
		for _, s := range c.Commands() {
			s.SetUsageTemplate(s.UsageTemplate())
		}
		c.SetUsageTemplate(strings.Replace(tmpl, runnableUseLine, "", 1))
	}
}

// runnableUseLine is the line of cobra's usage template that shows a
// runnable command's own use ("l402 tokens [flags]"): a group made
// runnable only to refuse its arguments must not advertise it, as its
// help lists only "l402 tokens [command]".
const runnableUseLine = "{{if .Runnable}}\n  {{.UseLine}}{{end}}"

// subcommandNames lists c's subcommands a user can run, for the message
// that names them.
func subcommandNames(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
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
