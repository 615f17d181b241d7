package main

import (
	"fmt"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/buildinfo"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/mcp"
	"github.com/spf13/cobra"
)

// mcpFlags are the flags of `l402 mcp`: the caps that hold for every tool
// call, and how to serve.
type mcpFlags struct {
	opts                      mcp.Options
	maxCost, maxFee, maxTotal int64
	timeout                   time.Duration
	verbose                   bool
}

// newMCPCmd builds `l402 mcp`.
func newMCPCmd(streams cli.IO) *cobra.Command {
	var f mcpFlags
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve fetch and tokens as MCP tools for AI agents (stdio or --http)",
		Long: "Serve the buyer's side of l402 to an AI agent as a Model Context " +
			"Protocol\nserver: over stdio (the client starts l402 mcp), or over " +
			"streamable HTTP\non a loopback address with --http. Tools: fetch, " +
			"preview, tokens_list,\ntokens_show, tokens_remove, spending_history, " +
			"spending_stats, node_status,\ndiscover, config_show, and lnget's " +
			"names download, dry_run, events_list,\nevents_stats, ln_status.\n\n" +
			"Every payment is capped by --max-cost, --max-fee and --max-total " +
			"(else\nfetch.yaml's maxcost, maxfee, maxtotal): no tool argument " +
			"can raise them.",
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMCP(cmd, streams, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.opts.HTTPAddr, "http", "", "serve streamable HTTP at "+
		"http://ADDR/mcp instead of stdio; ADDR is a loopback host:port "+
		"(127.0.0.1:PORT)")
	fl.Int64Var(&f.maxCost, "max-cost", 0, "most sats one tool call may pay "+
		"(default from config, else 1000)")
	fl.Int64Var(&f.maxFee, "max-fee", 0, "most sats of routing fee of a "+
		"payment (default from config, else 10)")
	fl.Int64Var(&f.maxTotal, "max-total", 0, "most sats to spend in any 24 "+
		"hours, all origins, fees included (default from config, else "+
		"5000; 0 is no cap)")
	fl.Int64Var(&f.opts.BodyCap, "body-cap", mcp.DefaultBodyCap, "most "+
		"bytes of a body a tool result carries; the rest is counted, not "+
		"returned")
	fl.StringVar(&f.opts.OutputDir, "output-dir", "", "the directory "+
		"the output argument writes in; a path out of it is refused "+
		"(default the working directory)")
	fl.DurationVar(&f.timeout, "timeout", fetch.DefaultTimeout, "HTTP "+
		"timeout of each request")
	fl.StringVar(&f.opts.CACert, "cacert", "", "trust the certificates of "+
		"this PEM file, not the system's")
	fl.BoolVarP(&f.opts.Insecure, "insecure", "k", false, "do not verify "+
		"servers' TLS certificates")
	fl.StringVar(&f.opts.ConfigPath, "config", "", "fetch config (default "+
		"~/.l402/fetch.yaml)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print each fetch's "+
		"steps on stderr")
	return cmd
}

// runMCP serves until the client goes (stdio) or SIGINT or SIGTERM
// arrives.
func runMCP(cmd *cobra.Command, streams cli.IO, f mcpFlags) error {
	opts := f.opts
	fl := cmd.Flags()
	opts.MaxCostSat = changed(fl, "max-cost", &f.maxCost)
	opts.MaxFeeSat = changed(fl, "max-fee", &f.maxFee)
	opts.MaxTotalSat = changed(fl, "max-total", &f.maxTotal)
	opts.Timeout, opts.Node = &f.timeout, fetchNode
	opts.Version = buildinfo.Current(version, commit).Version
	if f.verbose {
		opts.Log = streams.ErrOut
	}
	opts.Listening = func(url string) {
		fmt.Fprintf(streams.ErrOut, "l402 mcp: listening on %s\n", url)
	}
	opts.In, opts.Out = streams.In, streams.Out
	ctx, stop := cli.Interruptible()
	defer stop()
	return mcp.Run(ctx, opts)
}
