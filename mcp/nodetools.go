package mcp

import (
	"context"
	"errors"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/status"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// NodeStatus is node_status' result: `l402 status --json`'s report
// (status.Run), with lnget's ln_status fields flat beside it.
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
	BalanceSat    int64  `json:"balance_sat" jsonschema:"lnget's: the outbound liquidity (liquidity.outbound_sat), 0 when unknown"`

	status.Report
}

// nodeStatus is node_status and ln_status: `l402 status` on the node
// fetch pays with, under the caps the server keeps to. A node that cannot
// pay is a status (usable false, with the problems), not a tool error.
func (s *Server) nodeStatus(ctx context.Context, _ *sdk.CallToolRequest,
	_ NoArgs) (*sdk.CallToolResult, *NodeStatus, error) {

	l := s.limits
	rep, err := status.Run(ctx, status.Options{ConfigPath: s.opts.ConfigPath,
		MaxCostSat: &l.MaxCostSat, MaxFeeSat: &l.MaxFeeSat,
		MaxTotalSat: &l.MaxTotalSat, MaxPerOriginSat: &l.MaxPerOriginSat,
		Node: s.opts.Node, Log: s.opts.Log})
	if err != nil && !errors.Is(err, status.ErrNodeUnusable) {
		return nil, nil, plainError(err)
	}
	n := rep.Node
	out := &NodeStatus{Type: n.Type, Connected: n.Reachable,
		NodePubkey: n.Pubkey, Alias: n.Alias, Network: n.Network,
		SyncedToChain: n.Synced, BlockHeight: n.BlockHeight,
		Version: n.Version, Error: n.Error,
		BalanceSat: rep.Liquidity.OutboundSat, Report: rep}
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
