package main

import (
	"fmt"
	"strings"

	"github.com/l402/l402/internal/buildinfo"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/fault"
	"github.com/spf13/cobra"
)

// topCommands are the top-level commands: each one's name and the
// function that builds it. A subcommand is registered only once it works.
var topCommands = []struct {
	name  string
	build func(cli.IO) *cobra.Command
}{
	{"version", newVersionCmd},
	{"fetch", newFetchCmd},
	{"tokens", newTokensCmd},
	{"serve", newServeCmd},
	{"setup", newSetupCmd},
	{"bake", newBakeCmd},
	{"mcp", newMCPCmd},
	{"admin", newAdminCmd},
	{"discover", newDiscoverCmd},
	{"status", newStatusCmd},
}

// newRootCmd builds the whole command tree.
func newRootCmd(streams cli.IO) *cobra.Command {
	root := newRoot(streams)
	root.Version = buildinfo.Current(version, commit).String()
	for _, c := range topCommands {
		root.AddCommand(c.build(streams))
	}
	// cobra adds its completion group only when run; added now, it
	// refuses an unknown shell as the other groups do.
	root.InitDefaultCompletionCmd()
	requireSubcommands(root)
	return root
}

// newRootCmdFor builds the tree that args (os.Args[1:]) need: when the
// first names a top-level command, the root with that command alone,
// which runs it as the whole tree would (its help, flags, errors and
// exit codes are its own); anything else (no command, a flag first,
// help, completion, a mistyped name) gets the whole tree. Building every
// command's flags was the largest part of main's work at every start (a
// cached `l402 fetch`, `l402 version`), and the root's version string
// is only read by the root's own --version.
func newRootCmdFor(streams cli.IO, args []string) *cobra.Command {
	if len(args) > 0 {
		for _, c := range topCommands {
			if c.name == args[0] {
				root := newRoot(streams)
				root.AddCommand(c.build(streams))
				requireSubcommands(root)
				return root
			}
		}
	}
	return newRootCmd(streams)
}

// newRoot is the root command without its subcommands.
func newRoot(streams cli.IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "l402",
		Short: "Sell or buy an HTTP API for Lightning payments (L402)",
		Long: "l402 sells an HTTP or gRPC API for Lightning payments and " +
			"buys from one,\nusing the L402 protocol (HTTP 402, macaroons " +
			"and BOLT11 invoices).",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cli.Usage(err)
	})
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
