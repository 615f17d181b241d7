package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/setup"
	"github.com/spf13/cobra"
)

// setupLong is `l402 setup --help`'s text.
const setupLong = "Find lnd (--lnddir, $LND_DIR, ~/.lnd, litd, common node " +
	"layouts, lnd.conf),\ncheck it with GetInfo, and write " +
	"~/.l402/serve.yaml (seller) and\n~/.l402/fetch.yaml " +
	"(buyer) at 0600. An existing file with other settings\nis " +
	"never replaced without --force: its diff is shown.\n\n" +
	"Least privilege: setup bakes by default, with lnd's admin " +
	"macaroon, the\ninvoice-only (serve) or pay-only (fetch) " +
	"macaroon it does not find, into\n~/.l402/macaroons/NETWORK/. " +
	"When it cannot, it falls back to lnd's\ninvoice.macaroon " +
	"or admin.macaroon with a warning; --bake makes that an\n" +
	"error, --no-bake never bakes. The report's macaroons say " +
	"which one each\nconfig uses and why.\n\n" +
	"Over Lightning Node Connect instead " +
	"(--role seller or buyer): the\npairing phrase from stdin " +
	"(--lnc-phrase-stdin) or $L402_LNC_PHRASE, never\nan " +
	"argument; setup pairs once, stores the session keys and the " +
	"phrase\nat 0600 in ~/.l402, and points the config at them.\n" +
	"\nExit codes: 2 bad flags or phrase, 3 lnd (or the LNC " +
	"session) not found\nor not usable, 4 a config file differs. " +
	"docs/setup.md has the details."

// newSetupCmd builds `l402 setup`.
func newSetupCmd(streams cli.IO) *cobra.Command {
	o := setup.Options{IO: streams}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Find the local lnd and write serve.yaml and fetch.yaml",
		Long:  setupLong,
		Args:  cli.ExactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			dir, err := config.Home()
			if err != nil {
				return err
			}
			o.Home = dir
			o.Lnd.Getenv = os.Getenv
			rep, err := setup.Run(context.Background(), o)
			if !asJSON {
				rep.WriteHuman(streams.ErrOut)
				return err
			}
			// stdout carries data only on success: a failure is the
			// one JSON error object on stderr.
			if err != nil {
				return withDiffs(err, rep)
			}
			enc := json.NewEncoder(streams.Out)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Role, "role", setup.RoleBoth, "seller, buyer or both")
	addLndFlags(f, &o.Lnd, false)
	f.StringVar(&o.Upstream, "upstream", "127.0.0.1:8080", "seller: the "+
		"API to sell, host:port or https://host:port")
	f.Int64Var(&o.Price, "price", 100, "seller: sats per token")
	f.StringVar(&o.Path, "path", "^/.*$", "seller: the path regexp sold")
	f.StringVar(&o.Service, "service", "api", "seller: the service name "+
		"(in the token's caveats)")
	f.IntVar(&o.Port, "port", 8081, "seller: the port serve listens on")
	f.StringVar(&o.Listen, "listen", "", "seller: the full listen "+
		"address (default localhost:PORT)")
	f.BoolVar(&o.Insecure, "insecure", false, "seller: plain HTTP (and "+
		"h2c) instead of TLS")
	f.BoolVar(&o.NoAuth, "no-auth", false, "seller: no payments and no "+
		"lnd (authenticator.disable)")
	f.Int64Var(&o.MaxCost, "max-cost", 0, "buyer: maxcost in fetch.yaml "+
		"(default: fetch's own)")
	f.BoolVar(&o.Bake, "bake", false, "fail unless the missing "+
		"invoice-only or pay-only macaroon can be baked (setup bakes by "+
		"default and falls back to lnd's own)")
	f.BoolVar(&o.NoBake, "no-bake", false, "never bake: serve uses lnd's "+
		"invoice.macaroon, fetch admin.macaroon (with a warning)")
	f.BoolVar(&o.Force, "force", false, "replace config files that differ")
	f.BoolVar(&o.Interactive, "interactive", false, "on a terminal, ask "+
		"what could not be found")
	f.BoolVar(&o.LNC.PhraseStdin, "lnc-phrase-stdin", false, "reach the "+
		"node over LNC: read the pairing phrase from stdin (else from "+
		"$L402_LNC_PHRASE)")
	f.StringVar(&o.LNC.Mailbox, "mailbox", "", "LNC: the mailbox's "+
		"host:port (default mailbox.terminal.lightning.today:443)")
	f.BoolVar(&o.LNC.DevServer, "lnc-devserver", false, "LNC: do not "+
		"verify the mailbox's TLS certificate (a test mailbox)")
	f.BoolVar(&asJSON, "json", false, "print what was found and written "+
		"as JSON on stdout")
	return cmd
}

// withDiffs adds the diff of each config file that differs to err, so
// that with --json, where the report is not printed, the error object
// still shows what differs (docs/cli.md: config_exists shows the diff).
func withDiffs(err error, rep *setup.Report) error {
	var diffs strings.Builder
	for _, f := range rep.Files {
		if f.Diff != "" {
			fmt.Fprintf(&diffs, "%s:\n%s", f.Path, f.Diff)
		}
	}
	if diffs.Len() == 0 {
		return err
	}
	return fmt.Errorf("%w\n%s", err, diffs.String())
}
