package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/l402/l402/admin"
	"github.com/l402/l402/internal/adminrpc"
	"github.com/l402/l402/internal/buildinfo"
	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/serve"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
)

// adminFlags are shared by the admin subcommands.
type adminFlags struct {
	opts   admin.Options
	config string
	asJSON bool
}

// newAdminCmd builds `l402 admin` and its subcommands.
func newAdminCmd(streams cli.IO) *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Drive a running l402 serve through its admin API",
		Long: "Call serve's admin API (Aperture's adminrpc.Admin): " +
			"services, transactions, tokens, stats. Without --host the " +
			"address, TLS and macaroon come from serve.yaml.",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.opts.Host, "host", "", "admin API host:port "+
		"(default: admin.listenaddr or listenaddr of serve.yaml)")
	pf.StringVar(&f.opts.MacaroonPath, "macaroon", "", "admin macaroon "+
		"(default: admin.macaroonpath of serve.yaml, else "+
		"~/.l402/admin.macaroon)")
	pf.StringVar(&f.opts.TLSCertPath, "tls-cert", "", "certificate to "+
		"trust (default: serve's ~/.l402/tls.cert when it exists)")
	pf.BoolVar(&f.opts.Insecure, "insecure", false, "plain h2c, for a "+
		"serve with insecure: true (default: serve.yaml's)")
	pf.DurationVar(&f.opts.Timeout, "timeout", 30*time.Second,
		"bound on each call")
	pf.StringVar(&f.config, "config", "", "serve.yaml to take the "+
		"defaults from (default ~/.l402/serve.yaml)")
	pf.BoolVar(&f.asJSON, "json", false, "print JSON")

	cmd.AddCommand(
		f.sub("health", "Is serve up (needs no macaroon)", cobra.NoArgs,
			func(ctx context.Context, c *admin.Client, _ []string) (
				proto.Message, error) {
				return c.Health(ctx)
			}),
		f.sub("info", "Network, listener and version", cobra.NoArgs,
			func(ctx context.Context, c *admin.Client, _ []string) (
				proto.Message, error) {
				return c.Info(ctx)
			}),
		f.servicesCmd(streams),
		f.transactionsCmd(),
		f.tokensCmd(),
		f.statsCmd(),
	)
	for _, c := range cmd.Commands() {
		f.bind(c, streams)
	}
	cmd.AddCommand(f.mcpCmd(streams))
	return cmd
}

// mcpCmd builds `l402 admin mcp`: the same calls as MCP tools over
// stdio, the writing ones only with --allow-writes.
func (f *adminFlags) mcpCmd(streams cli.IO) *cobra.Command {
	var o admin.MCPOptions
	c := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the admin calls as MCP tools for AI agents (stdio)",
		Long: "Serve the admin API's calls to an AI agent as a Model " +
			"Context Protocol\nserver over stdio: health, info, " +
			"services_list, transactions_list,\ntokens_list, stats; with " +
			"--allow-writes also services_create,\nservices_update, " +
			"services_delete and tokens_revoke.",
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.defaults(cmd)
			client, err := admin.Dial(f.opts)
			if err != nil {
				return err
			}
			defer client.Close()
			o.Version = buildinfo.Current(version, commit).Version
			o.In, o.Out = streams.In, streams.Out
			ctx, stop := cli.Interruptible()
			defer stop()
			return admin.RunMCP(ctx, client, o)
		},
	}
	c.Flags().BoolVar(&o.AllowWrites, "allow-writes", false, "also serve "+
		"the tools that change serve: create, update and delete services, "+
		"revoke tokens")
	return c
}

// adminCall is one subcommand's call.
type adminCall func(ctx context.Context, c *admin.Client,
	args []string) (proto.Message, error)

// sub makes a subcommand that runs call; bind wires its output.
func (f *adminFlags) sub(use, short string, args cobra.PositionalArgs,
	call adminCall) *cobra.Command {

	c := &cobra.Command{Use: use, Short: short, Args: args}
	c.Annotations = map[string]string{"admin": "call"}
	adminCalls[c] = call
	return c
}

// adminCalls holds each subcommand's call until bind wires it.
var adminCalls = map[*cobra.Command]adminCall{}

// bind sets RunE of c and its subcommands: resolve the defaults, dial,
// call, print the answer as JSON or a table.
func (f *adminFlags) bind(c *cobra.Command, streams cli.IO) {
	for _, sub := range c.Commands() {
		f.bind(sub, streams)
	}
	call, ok := adminCalls[c]
	if !ok {
		return
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		f.defaults(cmd)
		client, err := admin.Dial(f.opts)
		if err != nil {
			return err
		}
		defer client.Close()
		out, err := call(cmd.Context(), client, args)
		if err != nil {
			return err
		}
		if f.asJSON {
			b, err := admin.JSON(out)
			if err != nil {
				return err
			}
			_, err = streams.Out.Write(append(b, '\n'))
			return err
		}
		header, rows := admin.Table(out)
		return cli.WriteTable(streams.Out, streams.OutTTY, header, rows)
	}
}

// defaults fills the options that no flag set from serve.yaml.
func (f *adminFlags) defaults(cmd *cobra.Command) {
	home, _ := config.Home()
	path := f.config
	if path == "" {
		path = filepath.Join(home, "serve.yaml")
	}
	cfg, err := serve.LoadConfig(path)
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	if err == nil {
		if !set("host") {
			f.opts.Host = cfg.ListenAddr
			if cfg.Admin.ListenAddr != "" {
				f.opts.Host = cfg.Admin.ListenAddr
			}
		}
		if !set("insecure") {
			f.opts.Insecure = cfg.Insecure
		}
		if !set("macaroon") && cfg.Admin.MacaroonPath != "" {
			f.opts.MacaroonPath = cfg.Admin.MacaroonPath
		}
	}
	if f.opts.MacaroonPath == "" {
		f.opts.MacaroonPath = filepath.Join(home, serve.DefaultAdminMacaroon)
	}
	if !set("tls-cert") && !f.opts.Insecure {
		if _, err := os.Stat(filepath.Join(home, "tls.cert")); err == nil {
			f.opts.TLSCertPath = filepath.Join(home, "tls.cert")
		}
	}
}

// servicesCmd builds `l402 admin services`.
func (f *adminFlags) servicesCmd(streams cli.IO) *cobra.Command {
	cmd := &cobra.Command{Use: "services", Short: "List, create, update " +
		"and delete services"}
	var create adminrpc.CreateServiceRequest
	var update adminrpc.UpdateServiceRequest
	var price int64
	createCmd := f.sub("create NAME", "Create a service (stored for "+
		"every replica)", cobra.ExactArgs(1), func(ctx context.Context,
		c *admin.Client, args []string) (proto.Message, error) {
		create.Name = args[0]
		return c.CreateService(ctx, &create)
	})
	serviceFlags(createCmd, &create.Address, &create.Protocol,
		&create.HostRegexp, &create.PathRegexp, &create.Auth)
	createCmd.Flags().Int64Var(&create.Price, "price", 0, "price in sat")
	updateCmd := f.sub("update NAME", "Change the fields given (a "+
		"price takes effect on the next challenge)", cobra.ExactArgs(1),
		func(ctx context.Context, c *admin.Client, args []string) (
			proto.Message, error) {
			update.Name = args[0]
			return c.UpdateService(ctx, &update)
		})
	serviceFlags(updateCmd, &update.Address, &update.Protocol,
		&update.HostRegexp, &update.PathRegexp, &update.Auth)
	updateCmd.Flags().Int64Var(&price, "price", 0, "price in sat")
	updateCmd.PreRun = func(c *cobra.Command, _ []string) {
		if c.Flags().Changed("price") {
			update.Price = &price
		}
	}
	cmd.AddCommand(
		f.sub("list", "List the services in force and where each comes "+
			"from", cobra.NoArgs, func(ctx context.Context,
			c *admin.Client, _ []string) (proto.Message, error) {
			return c.Services(ctx)
		}),
		createCmd, updateCmd,
		f.sub("delete NAME", "Delete a service", cobra.ExactArgs(1),
			func(ctx context.Context, c *admin.Client, args []string) (
				proto.Message, error) {
				return c.DeleteService(ctx, args[0])
			}),
	)
	return cmd
}

// serviceFlags adds the flags of a service's fields.
func serviceFlags(c *cobra.Command, address, protocol, host, path,
	auth *string) {

	c.Flags().StringVar(address, "address", "", "backend host:port")
	c.Flags().StringVar(protocol, "protocol", "", "http or https")
	c.Flags().StringVar(host, "host-regexp", "", "hosts it answers "+
		"(default .*)")
	c.Flags().StringVar(path, "path-regexp", "", "paths it answers")
	c.Flags().StringVar(auth, "auth", "", "on, off or \"freebie N\"")
}

// transactionsCmd builds `l402 admin transactions`.
func (f *adminFlags) transactionsCmd() *cobra.Command {
	var req adminrpc.ListTransactionsRequest
	c := f.sub("transactions", "List minted challenges and their state",
		cobra.NoArgs, func(ctx context.Context, c *admin.Client,
			_ []string) (proto.Message, error) {
			return c.Transactions(ctx, &req)
		})
	c.Flags().StringVar(&req.Service, "service", "", "only this service")
	c.Flags().StringVar(&req.State, "state", "", "pending, settled or "+
		"canceled")
	c.Flags().StringVar(&req.StartDate, "from", "", "created at or after "+
		"(RFC 3339; with --to)")
	c.Flags().StringVar(&req.EndDate, "to", "", "created at or before "+
		"(RFC 3339; with --from)")
	c.Flags().Int32Var(&req.Limit, "limit", 50, "at most this many (1000 "+
		"at most)")
	c.Flags().Int32Var(&req.Offset, "offset", 0, "skip this many")
	return c
}

// tokensCmd builds `l402 admin tokens`.
func (f *adminFlags) tokensCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "List and revoke paid " +
		"tokens"}
	var limit, offset int32
	list := f.sub("list", "List settled, unrevoked tokens", cobra.NoArgs,
		func(ctx context.Context, c *admin.Client, _ []string) (
			proto.Message, error) {
			return c.Tokens(ctx, limit, offset)
		})
	list.Flags().Int32Var(&limit, "limit", 50, "at most this many")
	list.Flags().Int32Var(&offset, "offset", 0, "skip this many")
	cmd.AddCommand(list, f.sub("revoke TOKEN_ID", "Revoke a token: "+
		"refused by every replica when this returns", cobra.ExactArgs(1),
		func(ctx context.Context, c *admin.Client, args []string) (
			proto.Message, error) {
			return c.Revoke(ctx, args[0])
		}))
	return cmd
}

// statsCmd builds `l402 admin stats`.
func (f *adminFlags) statsCmd() *cobra.Command {
	var from, to string
	c := f.sub("stats", "Revenue, 402s and paid requests by service",
		cobra.NoArgs, func(ctx context.Context, c *admin.Client,
			_ []string) (proto.Message, error) {
			return c.Stats(ctx, from, to)
		})
	c.Flags().StringVar(&from, "from", "", "from (RFC 3339; with --to)")
	c.Flags().StringVar(&to, "to", "", "to (RFC 3339; with --from)")
	return c
}
