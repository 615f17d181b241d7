package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
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

// Discovery is what an origin publishes at /.well-known/l402.json.
type Discovery struct {
	URL         string `json:"url" jsonschema:"the document's URL"`
	Published   bool   `json:"published" jsonschema:"the origin serves a JSON document there"`
	StatusCode  int    `json:"status_code"`
	ContentType string `json:"content_type,omitempty"`
	Document    any    `json:"document,omitempty" jsonschema:"the document, parsed"`
}

// discoveryPath is where a seller may describe what it sells.
const discoveryPath = "/.well-known/l402.json"

// defaultPort is each scheme's port.
var defaultPort = map[string]string{"https": "443", "http": "80"}

// discover reads an origin's discovery document, never paying: a
// document behind a paywall is not published.
func (s *Server) discover(ctx context.Context, _ *sdk.CallToolRequest,
	in DiscoverArgs) (*sdk.CallToolResult, *Discovery, error) {

	origin, err := tokens.ParseOrigin(in.URL)
	if err != nil {
		return nil, nil, plainError(ErrBadOptions.Mark(err))
	}
	// The origin names its port always; the document's URL leaves the
	// scheme's default out, as a browser would send Host.
	u, _ := url.Parse(origin)
	if port := defaultPort[u.Scheme]; port == u.Port() {
		u.Host = strings.TrimSuffix(u.Host, ":"+port)
	}
	u.Path = discoveryPath
	out := &Discovery{URL: u.String()}

	c := call{limits: s.limits, maxCost: s.limits.MaxCostSat}
	opts := s.runOptions(c, out.URL)
	opts.NoPay, opts.AllowHTTPError = true, true
	opts.Output = fetch.Output{Capture: true, CaptureMax: fetch.JSONBodyMax}
	res, err := fetch.Run(ctx, opts)
	if err != nil {
		return nil, nil, plainError(err)
	}
	out.StatusCode, out.ContentType = res.StatusCode, res.ContentType
	if res.StatusCode != http.StatusOK {
		return nil, out, nil
	}
	if res.BodyTruncated || json.Unmarshal(res.Body, &out.Document) != nil {
		return nil, nil, plainError(ErrBadDiscovery.Mark(fmt.Errorf(
			"%s is not a JSON document of at most %d bytes", out.URL,
			fetch.JSONBodyMax)))
	}
	out.Published = true
	return nil, out, nil
}
