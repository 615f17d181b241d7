package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/l402/l402/bake"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/macaroons"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newBakeCmd builds `l402 bake` and its subcommands.
func newBakeCmd(streams cli.IO) *cobra.Command {
	f := &bakeFlags{o: bake.Options{Configured: configuredLnd}}
	cmd := &cobra.Command{
		Use:   "bake [ROLE]",
		Short: "Bake least-privilege lnd macaroons; attenuate and inspect them",
		Long: "Bake an lnd macaroon that grants one role's gRPC methods " +
			"(uri: permissions)\nthrough lnd's BakeMacaroon, under the " +
			"role's own root key ID, and write it\n0600 to lnd's macaroon " +
			"directory as ROLE.macaroon (--save-to elsewhere); an\n" +
			"existing file is never replaced without --force. lnd is " +
			"found as `l402 setup`\nfinds it, else from serve.yaml or " +
			"fetch.yaml; baking needs admin.macaroon\n(--macaroon).\n\n" +
			"Roles: " + strings.Join(macaroons.RoleNames(), ", ") +
			" (--list-roles).\n\nExit codes: 0 ok, 1 general error, 2 bad " +
			"arguments (an unknown role or\nmethod, a bad flag), 3 lnd not " +
			"found or not usable (the code names the\ncause). docs/bake.md " +
			"has the details.",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cli.Usage(fmt.Errorf("%s takes one ROLE, got %q",
					c.CommandPath(), args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o, err := f.options(c.Flags(), args)
			if err != nil {
				return err
			}
			rep, err := bake.Run(c.Context(), o)
			if err != nil {
				return err
			}
			if f.asJSON {
				return cli.WriteJSON(streams.Out, rep.JSON())
			}
			return rep.WriteHuman(streams.Out, streams.ErrOut,
				streams.OutTTY)
		},
	}
	f.add(cmd.Flags())
	cmd.AddCommand(newBakeAttenuateCmd(streams))
	cmd.AddCommand(newBakeInspectCmd(streams))
	return cmd
}

// bakeFlags are `l402 bake`'s flags: most go straight into the options,
// the others only when given.
type bakeFlags struct {
	o         bake.Options
	name      string
	rootKeyID uint64
	caveats   caveatFlags
	asJSON    bool
	role      string
}

// add registers the flags.
func (b *bakeFlags) add(f *pflag.FlagSet) {
	addLndFlags(f, &b.o.Lnd, true)
	f.StringVar(&b.role, "role", "", "the ROLE to bake, the same as the "+
		"ROLE argument")
	f.StringArrayVar(&b.o.Custom, "custom", nil, "bake a macaroon for "+
		"this full gRPC method, such as /lnrpc.Lightning/GetInfo "+
		"(repeatable)")
	f.StringVar(&b.name, "name", "custom", "with --custom: the file name, "+
		"NAME.macaroon")
	f.Uint64Var(&b.rootKeyID, "root-key-id", 0, "bake under this root key "+
		"ID (default: the role's own; --custom: 4020)")
	f.BoolVar(&b.o.ListRoles, "list-roles", false, "list the roles and "+
		"their methods (no lnd needed)")
	f.BoolVar(&b.o.ListPermissions, "list-permissions", false, "list the "+
		"methods the node serves and the permissions each needs")
	f.StringVar(&b.o.SaveTo, "save-to", "", "write the macaroon to this "+
		"file (default: lnd's macaroon directory, ROLE.macaroon)")
	f.BoolVar(&b.o.Force, "force", false, "replace an existing file")
	f.BoolVar(&b.o.PrintHex, "print-hex", false, "print the macaroon as "+
		"hex on stdout instead of writing a file (it is a secret)")
	f.BoolVar(&b.asJSON, "json", false, "print the result as JSON on "+
		"stdout")
	b.caveats.add(f)
}

// options returns bake's options from the flags and the ROLE argument.
func (b *bakeFlags) options(f *pflag.FlagSet, args []string) (bake.Options,
	error) {

	o := b.o
	r, err := bakeRole(args, b.role, f.Changed("role"))
	if err != nil {
		return o, err
	}
	o.Role = r
	if f.Changed("name") {
		o.Name = b.name
	}
	if f.Changed("root-key-id") {
		o.RootKeyID = &b.rootKeyID
	}
	o.Caveats = b.caveats.options(f)
	return o, nil
}

// bakeRole returns the role to bake: the ROLE argument, or --role (the
// form the macaroon-bakery skill uses), or both when they name the same
// role; two different roles are bad arguments.
func bakeRole(args []string, flag string, flagGiven bool) (string, error) {
	switch {
	case !flagGiven && len(args) == 1:
		return args[0], nil
	case !flagGiven:
		return "", nil
	case len(args) == 1 && args[0] != flag:
		return "", cli.Usage(fmt.Errorf("--role %q and ROLE %q differ: "+
			"give one role", flag, args[0]))
	}
	return flag, nil
}

// caveatFlags are the restrictions bake and bake attenuate add.
type caveatFlags struct {
	timeout time.Duration
	ip      string
	ipRange string
}

// add registers the flags.
func (c *caveatFlags) add(fs *pflag.FlagSet) {
	fs.DurationVar(&c.timeout, "timeout", 0, "expire the macaroon this "+
		"long from now, such as 1h or 720h (lnd's time-before caveat)")
	fs.StringVar(&c.ip, "ip", "", "lock the macaroon to this client IP "+
		"address, as lnd sees the client (lnd's ipaddr caveat)")
	fs.StringVar(&c.ipRange, "ip-range", "", "lock the macaroon to this "+
		"network, such as 10.0.0.0/8 (lnd's iprange caveat)")
}

// options returns the flags as bake's caveats; --timeout counts only when
// given.
func (c *caveatFlags) options(fs *pflag.FlagSet) bake.Caveats {
	out := bake.Caveats{IP: c.ip, IPRange: c.ipRange}
	if fs.Changed("timeout") {
		out.Timeout = &c.timeout
	}
	return out
}
