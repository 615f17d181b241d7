package main

import (
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/status"
	"github.com/spf13/cobra"
)

// newStatusCmd builds `l402 status`.
func newStatusCmd(streams cli.IO) *cobra.Command {
	var (
		o       status.Options
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Check what fetch would pay with: node, macaroon, liquidity, budgets, tokens",
		Long: "Report on what l402 fetch would pay with, before paying: " +
			"the node of\nfetch.yaml (alias, network, synced), its " +
			"macaroon's role (pay-only,\ninvoice-only, admin or other), " +
			"the outbound liquidity of its channels, the\ncaps and what " +
			"is left of the last 24 hours', the token count, and the\n" +
			"files read. Pays nothing; creates no token store.\n\nExit " +
			"codes: 0 the node can pay, 1 general error (a bad fetch.yaml),\n" +
			"2 bad arguments, 3 the node cannot pay (node_unusable: the " +
			"report\nsays why).",
		Args: cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			o.Node = fetchNode
			if verbose {
				o.Log = streams.ErrOut
			}
			ctx, stop := cli.Interruptible()
			defer stop()
			rep, err := status.Run(ctx, o)
			if rep.Files == nil {
				// Not even fetch.yaml could be read: no report.
				return err
			}
			var werr error
			if asJSON {
				werr = cli.WriteJSON(streams.Out, rep.JSON())
			} else {
				werr = rep.WriteHuman(streams.Out)
			}
			if err != nil {
				return err
			}
			return werr
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.ConfigPath, "config", "", "fetch config (default "+
		"~/.l402/fetch.yaml)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fl.BoolVarP(&verbose, "verbose", "v", false, "print the node's "+
		"connection steps on stderr (LNC)")
	return cmd
}
