package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/l402/l402/internal/adminrpc"
	"github.com/l402/l402/internal/fault"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/proto"
)

// MCPOptions are `l402 admin mcp`'s settings: the user's, from the
// command line.
type MCPOptions struct {
	// AllowWrites registers the tools that change serve (create, update
	// and delete services, revoke tokens); without it only the reading
	// tools exist, so that an agent can look but not touch.
	AllowWrites bool

	// Version is the server's version, as the initialize answer says.
	Version string

	// In and Out carry the protocol (nil: os.Stdin and os.Stdout).
	In  io.Reader
	Out io.Writer
}

// The tools, by name. ReadTools are always served, WriteTools only with
// AllowWrites.
var (
	ReadTools = []string{"health", "info", "services_list",
		"transactions_list", "tokens_list", "stats"}
	WriteTools = []string{"services_create", "services_update",
		"services_delete", "tokens_revoke"}
)

// NewMCPServer returns an MCP server whose tools call serve's admin API
// through c: the same calls as `l402 admin`, each answering the REST
// API's JSON (proto field names, 64-bit numbers as strings).
func NewMCPServer(c *Client, o MCPOptions) *sdk.Server {
	version := o.Version
	if version == "" {
		version = "dev"
	}
	writes := "Only the reading tools are served: the user did not start " +
		"it with --allow-writes, so nothing can be changed."
	if o.AllowWrites {
		writes = "The user started it with --allow-writes: services_create, " +
			"services_update, services_delete and tokens_revoke change the " +
			"running serve (and every replica of its database) at once."
	}
	s := sdk.NewServer(&sdk.Implementation{Name: "l402-admin",
		Version: version}, &sdk.ServerOptions{Instructions: "l402-admin " +
		"operates a running l402 serve (an L402 paywall) through its " +
		"admin API: its services and prices, the challenges it minted " +
		"and whether they were paid (transactions), the tokens in use and " +
		"the revenue. Amounts are satoshis, as strings. " + writes})

	tool(s, "health", "Whether serve's admin API answers.",
		func(ctx context.Context, _ NoArgs) (proto.Message, error) {
			return c.Health(ctx)
		})
	tool(s, "info", "serve's network, listen address, TLS and version.",
		func(ctx context.Context, _ NoArgs) (proto.Message, error) {
			return c.Info(ctx)
		})
	tool(s, "services_list", "The services in force, with price (sat; "+
		"dynamic_price when a price server sets it), auth, mode (live or "+
		"shadow), paths, backend and source (config, api or config+api).",
		func(ctx context.Context, _ NoArgs) (proto.Message, error) {
			return c.Services(ctx)
		})
	tool(s, "transactions_list", "Challenges minted, newest first, with "+
		"service, price, state (pending, settled, canceled) and times; "+
		"total_count counts every match.",
		func(ctx context.Context, in TransactionsArgs) (proto.Message, error) {
			return c.Transactions(ctx, &adminrpc.ListTransactionsRequest{
				Service: in.Service, State: in.State,
				StartDate: in.StartDate, EndDate: in.EndDate,
				Limit: in.Limit, Offset: in.Offset})
		})
	tool(s, "tokens_list", "The tokens clients may use: settled, "+
		"unrevoked transactions.",
		func(ctx context.Context, in PageArgs) (proto.Message, error) {
			return c.Tokens(ctx, in.Limit, in.Offset)
		})
	tool(s, "stats", "Revenue (settled transactions), 402s, paid requests "+
		"and shadow mode's would-be revenue, in total, by service and by "+
		"day (UTC); from and to (RFC 3339, together) bound the range.",
		func(ctx context.Context, in StatsArgs) (proto.Message, error) {
			return c.Stats(ctx, in.From, in.To)
		})
	if !o.AllowWrites {
		return s
	}

	tool(s, "services_create", "Create a service: stored for every "+
		"replica and in force at once, matched before serve.yaml's.",
		func(ctx context.Context, in CreateArgs) (proto.Message, error) {
			return c.CreateService(ctx, &adminrpc.CreateServiceRequest{
				Name: in.Name, Address: in.Address, Protocol: in.Protocol,
				HostRegexp: in.HostRegexp, PathRegexp: in.PathRegexp,
				Price: in.Price, Auth: in.Auth})
		})
	tool(s, "services_update", "Change the fields given of a service; "+
		"price (sat; 0 is Aperture's default, 1 sat) takes effect on the "+
		"next challenge, on every replica. A serve.yaml service keeps its "+
		"other keys.",
		func(ctx context.Context, in UpdateArgs) (proto.Message, error) {
			return c.UpdateService(ctx, &adminrpc.UpdateServiceRequest{
				Name: in.Name, Address: in.Address, Protocol: in.Protocol,
				HostRegexp: in.HostRegexp, PathRegexp: in.PathRegexp,
				Price: in.Price, Auth: in.Auth})
		})
	tool(s, "services_delete", "Delete a service; a serve.yaml service "+
		"stays deleted, on every replica and across restarts, until one "+
		"of its name is created.",
		func(ctx context.Context, in NameArgs) (proto.Message, error) {
			return c.DeleteService(ctx, in.Name)
		})
	tool(s, "tokens_revoke", "Revoke a token (token_id, hex): answers "+
		"once every replica refuses it. Its transaction stays in the "+
		"revenue.",
		func(ctx context.Context, in TokenArgs) (proto.Message, error) {
			return c.Revoke(ctx, in.TokenID)
		})
	return s
}

// RunMCP serves the admin tools over stdio until the client closes
// stdin or ctx ends (a clean stop).
func RunMCP(ctx context.Context, c *Client, o MCPOptions) error {
	in, out := o.In, o.Out
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	err := NewMCPServer(c, o).Run(ctx, &sdk.IOTransport{
		Reader: io.NopCloser(in), Writer: nopCloser{out}})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// nopCloser is a writer whose Close does nothing: stdout stays open.
type nopCloser struct{ io.Writer }

// Close implements io.Closer.
func (nopCloser) Close() error { return nil }

// tool registers one tool whose result is the answer's REST JSON, or a
// tool error naming the condition's code (docs/cli.md) and serve's
// message.
func tool[In any](s *sdk.Server, name, desc string,
	f func(context.Context, In) (proto.Message, error)) {

	sdk.AddTool(s, &sdk.Tool{Name: name, Description: desc},
		func(ctx context.Context, _ *sdk.CallToolRequest, in In) (
			*sdk.CallToolResult, any, error) {

			m, err := f(ctx, in)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", codeOf(err), err)
			}
			b, err := JSON(m)
			if err != nil {
				return nil, nil, err
			}
			return nil, json.RawMessage(b), nil
		})
}

// codeOf is the condition's code of err, "error" when it has none.
func codeOf(err error) string {
	if c := fault.Code(err); c != "" {
		return c
	}
	return "error"
}

// NoArgs are the arguments of a tool that takes none.
type NoArgs struct{}

// PageArgs page through a list.
type PageArgs struct {
	Limit  int32 `json:"limit,omitempty" jsonschema:"at most this many (default 50, at most 1000)"`
	Offset int32 `json:"offset,omitempty" jsonschema:"skip this many"`
}

// TransactionsArgs filter transactions_list.
type TransactionsArgs struct {
	Service   string `json:"service,omitempty" jsonschema:"only this service"`
	State     string `json:"state,omitempty" jsonschema:"pending, settled or canceled"`
	StartDate string `json:"start_date,omitempty" jsonschema:"created at or after (RFC 3339; with end_date)"`
	EndDate   string `json:"end_date,omitempty" jsonschema:"created at or before (RFC 3339; with start_date)"`
	Limit     int32  `json:"limit,omitempty" jsonschema:"at most this many (default 50, at most 1000)"`
	Offset    int32  `json:"offset,omitempty" jsonschema:"skip this many"`
}

// StatsArgs bound stats' range.
type StatsArgs struct {
	From string `json:"from,omitempty" jsonschema:"from (RFC 3339; with to)"`
	To   string `json:"to,omitempty" jsonschema:"to (RFC 3339; with from)"`
}

// CreateArgs are a new service's fields.
type CreateArgs struct {
	Name       string `json:"name" jsonschema:"the service's name; it goes into tokens' caveats"`
	Address    string `json:"address" jsonschema:"the backend's host:port"`
	Protocol   string `json:"protocol,omitempty" jsonschema:"http (default) or https"`
	HostRegexp string `json:"host_regexp,omitempty" jsonschema:"hosts it answers (default .*)"`
	PathRegexp string `json:"path_regexp,omitempty" jsonschema:"paths it answers"`
	Price      int64  `json:"price,omitempty" jsonschema:"sat per token"`
	Auth       string `json:"auth,omitempty" jsonschema:"on (default), off or freebie N"`
}

// UpdateArgs are the fields of a service to change; those absent stay.
type UpdateArgs struct {
	Name       string `json:"name" jsonschema:"the service to change"`
	Address    string `json:"address,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
	HostRegexp string `json:"host_regexp,omitempty"`
	PathRegexp string `json:"path_regexp,omitempty"`
	Price      *int64 `json:"price,omitempty" jsonschema:"the new price in sat (0: Aperture's default, 1 sat)"`
	Auth       string `json:"auth,omitempty"`
}

// NameArgs name a service.
type NameArgs struct {
	Name string `json:"name" jsonschema:"the service"`
}

// TokenArgs name a token.
type TokenArgs struct {
	TokenID string `json:"token_id" jsonschema:"the token's id, hex (transactions_list and tokens_list show it)"`
}
