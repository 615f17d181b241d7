package main

import (
	"github.com/l402/l402/bake"
	"github.com/l402/l402/internal/cli"
	"github.com/spf13/cobra"
)

// newBakeAttenuateCmd builds `l402 bake attenuate`.
func newBakeAttenuateCmd(streams cli.IO) *cobra.Command {
	o := bake.AttenuateOptions{In: streams.In}
	var (
		caveats caveatFlags
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "attenuate FILE",
		Short: "Narrow any lnd macaroon offline: expiry, client IP, network",
		Long: "Add lnd's own caveats to a macaroon file (binary or hex), " +
			"without any node:\n--timeout (time-before), --ip (ipaddr), " +
			"--ip-range (iprange). The result is\nwritten 0600 to --out, " +
			"by default FILE with .attenuated before .macaroon;\nan " +
			"existing file is never replaced without --force. lnd checks " +
			"--ip against\nthe address it sees the client at.\n\nExit " +
			"codes: 0 ok, 1 general error, 2 bad arguments (no caveat, a " +
			"bad flag,\nFILE missing or not a macaroon).",
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			o.Caveats = caveats.options(c.Flags())
			res, err := bake.Attenuate(o)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(streams.Out, res)
			}
			return res.WriteHuman(streams.ErrOut)
		},
	}
	f := cmd.Flags()
	caveats.add(f)
	f.StringVar(&o.Out, "out", "", "the file to write (default: FILE with "+
		".attenuated before .macaroon)")
	f.BoolVar(&o.Force, "force", false, "replace an existing --out file")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	return cmd
}

// newBakeInspectCmd builds `l402 bake inspect`.
func newBakeInspectCmd(streams cli.IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a macaroon's id, location, caveats and permissions",
		Long: "Show what a macaroon file (binary or hex; - reads stdin) " +
			"says about itself,\nwithout any node: version, location, id, " +
			"lnd's root key ID and the\npermissions lnd wrote into the id, " +
			"the l402 role they match, the caveats\nand the expiry. The " +
			"macaroon itself is never printed.\n\nExit codes: 0 ok, 1 " +
			"general error, 2 bad arguments (FILE missing or not a\n" +
			"macaroon).",
		Args: cli.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			res, err := bake.Inspect(bake.InspectOptions{File: args[0],
				In: streams.In})
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(streams.Out, res)
			}
			return res.WriteHuman(streams.Out)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON on stdout")
	return cmd
}
