package mcp

import (
	"context"
	"errors"
	"io"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/lightning"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// NodeStatus is node_status' result, with lnget's ln_status fields.
type NodeStatus struct {
	Type          string `json:"type" jsonschema:"how fetch.yaml reaches the node: lnd, lnc or none"`
	Connected     bool   `json:"connected" jsonschema:"the node answered"`
	NodePubkey    string `json:"node_pubkey,omitempty"`
	Alias         string `json:"alias,omitempty"`
	Network       string `json:"network,omitempty"`
	SyncedToChain bool   `json:"synced_to_chain"`
	BlockHeight   uint32 `json:"block_height,omitempty"`
	Version       string `json:"version,omitempty"`
	Error         string `json:"error,omitempty" jsonschema:"why the node did not answer"`
}

// nodeStatus is node_status and ln_status: the node fetch pays with,
// asked for its info. A node that cannot be reached is a status, not a
// tool error.
func (s *Server) nodeStatus(ctx context.Context, _ *sdk.CallToolRequest,
	_ NoArgs) (*sdk.CallToolResult, *NodeStatus, error) {

	out := &NodeStatus{Type: "none"}
	switch {
	case s.cfg.LNC != nil:
		out.Type = "lnc"
	case s.cfg.Lnd.Host != "":
		out.Type = "lnd"
	}
	dial := s.opts.Node
	if dial == nil {
		dial = func(cfg fetch.Config, log io.Writer) (lightning.Node, error) {
			return cfg.Node(log)
		}
	}
	node, err := dial(s.cfg, s.opts.Log)
	switch {
	case err != nil:
		out.Error = err.Error()
		return nil, out, nil
	case node == nil:
		out.Error = fetch.ErrNoNode.Error()
		return nil, out, nil
	}
	defer node.Close()
	info, err := node.Info(ctx)
	if err != nil {
		out.Error = err.Error()
		return nil, out, nil
	}
	out.Connected = true
	out.NodePubkey, out.Alias, out.Network = info.Pubkey, info.Alias,
		info.Network
	out.SyncedToChain, out.BlockHeight, out.Version = info.Synced,
		info.BlockHeight, info.Version
	return nil, out, nil
}

// Settings are config_show's: the server's, inside lnget's "config".
type Settings struct {
	Config SettingsConfig `json:"config"`
}

// SettingsConfig are the settings a call runs under.
type SettingsConfig struct {
	ConfigPath string `json:"config_path" jsonschema:"fetch.yaml; empty: the default one"`
	TokenStore string `json:"token_store"`
	Node       string `json:"node" jsonschema:"lnd, lnc or none"`
	NodeHost   string `json:"node_host,omitempty"`
	Limits     Limits `json:"limits"`
	BodyCap    int64  `json:"body_cap" jsonschema:"the most bytes of a body a result carries"`
}

// configShow is config_show.
func (s *Server) configShow(context.Context, *sdk.CallToolRequest,
	NoArgs) (*sdk.CallToolResult, *Settings, error) {

	c := SettingsConfig{ConfigPath: s.opts.ConfigPath,
		TokenStore: s.cfg.TokenStore, Node: "none", Limits: s.limits,
		BodyCap: s.bodyCap}
	switch {
	case s.cfg.LNC != nil:
		c.Node, c.NodeHost = "lnc", s.cfg.LNC.MailboxAddr()
	case s.cfg.Lnd.Host != "":
		c.Node, c.NodeHost = "lnd", s.cfg.Lnd.Host
	}
	return nil, &Settings{Config: c}, nil
}

// DiscoverArgs name the origin to read.
type DiscoverArgs struct {
	URL string `json:"url" jsonschema:"the origin or any URL of it"`
}

// Discovery is discover's result: the origin's manifest as `l402
// discover --json` reads it (fetch.Discover), or why there is none.
type Discovery struct {
	URL        string          `json:"url" jsonschema:"the manifest's URL"`
	Origin     string          `json:"origin"`
	Published  bool            `json:"published" jsonschema:"the origin publishes a free manifest there"`
	StatusCode int             `json:"status_code"`
	Manifest   *fetch.Manifest `json:"manifest,omitempty" jsonschema:"the manifest: provider, services, their resources and prices in msat, caveats"`
	Warnings   []string        `json:"warnings,omitempty"`
	Reason     string          `json:"reason,omitempty" jsonschema:"why none is published"`
}

// discover reads an origin's discovery manifest with fetch.Discover,
// never paying: none published is a result, a document that is not a
// manifest a tool error (invalid_discovery).
func (s *Server) discover(ctx context.Context, _ *sdk.CallToolRequest,
	in DiscoverArgs) (*sdk.CallToolResult, *Discovery, error) {

	d, err := fetch.Discover(ctx, fetch.DiscoverOptions{URL: in.URL,
		Timeout: s.opts.Timeout, Insecure: s.opts.Insecure,
		CACert: s.opts.CACert, Log: s.opts.Log})
	out := &Discovery{URL: d.URL, Origin: d.Origin,
		StatusCode: d.StatusCode, Warnings: d.Warnings}
	switch {
	case errors.Is(err, fetch.ErrNoManifest):
		out.Reason = err.Error()
		return nil, out, nil
	case err != nil:
		return nil, nil, plainError(err)
	}
	out.Published, out.Manifest = true, &d.Manifest
	return nil, out, nil
}
