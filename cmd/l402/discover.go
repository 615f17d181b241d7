package main

import (
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/cli"
	"github.com/spf13/cobra"
)

// newDiscoverCmd builds `l402 discover`.
func newDiscoverCmd(streams cli.IO) *cobra.Command {
	var (
		o       fetch.DiscoverOptions
		timeout time.Duration
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "discover URL",
		Short: "Read a seller's discovery manifest: services, prices, caveats",
		Long: "Read the origin's /.well-known/l402.json, the discovery " +
			"manifest of the L402\nspec's proposal (services, tiers, " +
			"resources, prices in msat, payment methods,\nthe quote " +
			"endpoint and the caveats the seller enforces), and print " +
			"its\nresources as a table, or all of it with --json. Never " +
			"pays; sends no token.\n\nExit codes: 0 ok, 1 no manifest " +
			"(no_manifest), not a manifest\n(invalid_discovery) or an HTTP " +
			"error, 2 bad arguments, 4 network error.",
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.URL, o.Timeout = args[0], &timeout
			if verbose {
				o.Log = streams.ErrOut
			}
			ctx, stop := cli.Interruptible()
			defer stop()
			d, err := fetch.Discover(ctx, o)
			if err != nil {
				return tlsHint(fetch.NameLimits(err, map[fetch.Limit]string{
					fetch.LimitTimeout: "--timeout"}))
			}
			if asJSON {
				return cli.WriteJSON(streams.Out, d)
			}
			return d.WriteHuman(streams.Out, streams.ErrOut, streams.OutTTY)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&asJSON, "json", false, "print the whole manifest as JSON")
	fl.DurationVar(&timeout, "timeout", fetch.DefaultTimeout, "HTTP timeout")
	fl.StringVar(&o.CACert, "cacert", "", "trust the certificates of this "+
		"PEM file, not the system's")
	fl.BoolVarP(&o.Insecure, "insecure", "k", false, "do not verify the "+
		"server's TLS certificate")
	fl.BoolVarP(&verbose, "verbose", "v", false, "print each step on stderr")
	return cmd
}
