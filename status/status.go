// Package status is `l402 status`: what an agent checks before it pays —
// the node fetch would pay with, its macaroon's role, the outbound
// liquidity, the budgets and what is left of them, the tokens, the files.
package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons"
	"github.com/l402/l402/tokens"
)

// ErrNodeUnusable: the node fetch would pay with cannot pay. Run returns
// it with the whole Report, whose Problems say why.
var ErrNodeUnusable = fault.New("node_unusable",
	"the paying node is not usable")

// Options are what `l402 status` (or mcp's node_status) is asked.
type Options struct {
	// ConfigPath is fetch.yaml; "" is the default one, which may be
	// missing.
	ConfigPath string

	// The caps over fetch.yaml's, as fetch.RunOptions takes them: mcp
	// passes the caps it keeps to. Nil is fetch.yaml's, else fetch's
	// default.
	MaxCostSat      *int64
	MaxFeeSat       *int64
	MaxTotalSat     *int64
	MaxPerOriginSat *int64

	// Node connects to fetch.yaml's paying node; nil is Config.Node.
	// Tests put an in-memory node here.
	Node func(cfg fetch.Config, log io.Writer) (lightning.Node, error)

	// Log receives the node's connection steps (LNC's); nil is silent.
	Log io.Writer

	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Report is the status; its JSON field names are stable for agents.
type Report struct {
	// Usable says the node can pay; when not, Problems say why and Run
	// returns ErrNodeUnusable.
	Usable   bool     `json:"usable"`
	Problems []string `json:"problems"`
	Warnings []string `json:"warnings"`

	Node      Node       `json:"node"`
	Macaroon  *Macaroon  `json:"macaroon"`
	Liquidity Liquidity  `json:"liquidity"`
	Budget    Budget     `json:"budget"`
	Tokens    TokenCount `json:"tokens"`
	Files     []File     `json:"files"`
}

// Node is the paying node and what it says of itself.
type Node struct {
	// Type is how fetch.yaml reaches it: lnd, lnc or none.
	Type string `json:"type"`

	// Address is lnd's host:port, or the LNC mailbox.
	Address string `json:"address,omitempty"`

	// Reachable says the node answered GetInfo.
	Reachable   bool   `json:"reachable"`
	Pubkey      string `json:"pubkey,omitempty"`
	Alias       string `json:"alias,omitempty"`
	Network     string `json:"network,omitempty"`
	Synced      bool   `json:"synced_to_chain"`
	BlockHeight uint32 `json:"block_height,omitempty"`
	Version     string `json:"version,omitempty"`

	// Error says why it did not answer, Code is the condition's code
	// (lnd's cause: lnd_unreachable, macaroon_permission, ...).
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// Macaroon is what the paying macaroon may do. For LNC the macaroon is
// Lightning Terminal's session's, which l402 does not see: Kind is
// unknown and Error says so.
type Macaroon struct {
	Path string `json:"path,omitempty"`

	// Role is the l402 role whose permissions these exactly are
	// (`l402 bake --list-roles`), if any.
	Role string `json:"role,omitempty"`
	macaroons.Abilities

	Permissions []string   `json:"permissions"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Expired     bool       `json:"expired"`

	// Error says why the permissions could not be read.
	Error string `json:"error,omitempty"`
}

// Liquidity is what the node can send now.
type Liquidity struct {
	// Known says OutboundSat was read; when not, Reason says why (a
	// pay-only macaroon may not list channels: then ChannelBalance,
	// which it may call, gives the total).
	Known bool `json:"known"`

	// Source is the call that read it: ListChannels (active channels,
	// the local balance above each one's reserve) or ChannelBalance
	// (the local balance of every open channel, active or not, reserves
	// included).
	Source string `json:"source,omitempty"`

	OutboundSat int64 `json:"outbound_sat"`

	// With ListChannels: the most one channel can send, and how many
	// channels there are and are active.
	LargestChannelSat int64 `json:"largest_channel_sat,omitempty"`
	Channels          int   `json:"channels,omitempty"`
	ActiveChannels    int   `json:"active_channels,omitempty"`

	Reason string `json:"reason,omitempty"`
}

// Budget is the caps in force and what the last 24 hours spent of them,
// with fetch's names (fetch.Limits, Result.Limits of `fetch --json`).
type Budget struct {
	fetch.Caps

	// SpentSat is what the last 24 hours spent, all origins, pending
	// payments at their price and fee cap; LeftSat is what the total
	// cap leaves of it, null with no cap.
	SpentSat int64  `json:"spent_24h_sat"`
	LeftSat  *int64 `json:"left_24h_sat"`

	// Origins are the origins paid in the last 24 hours, with what each
	// spent and, under maxperorigin, has left.
	Origins []OriginBudget `json:"origins"`
}

// OriginBudget is one origin's last 24 hours.
type OriginBudget struct {
	Origin   string `json:"origin"`
	SpentSat int64  `json:"spent_24h_sat"`
	LeftSat  *int64 `json:"left_24h_sat"`
}

// TokenCount counts the token store's contents.
type TokenCount struct {
	Store string `json:"store"`

	// Exists says the store has been made (by a first fetch); status
	// never makes one.
	Exists   bool `json:"exists"`
	Tokens   int  `json:"tokens"`
	Active   int  `json:"active"`
	Expired  int  `json:"expired"`
	Pending  int  `json:"pending"`
	Payments int  `json:"payments"`
}

// File is one file the status read or would read.
type File struct {
	// Kind is fetch.yaml, macaroon, tls.cert, lnc phrase, lnc session or
	// token store.
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
}

// Run reads fetch.yaml and reports on everything fetch would pay with. A
// node that cannot pay is a Report with Usable false and ErrNodeUnusable;
// a fetch.yaml that cannot be read, or a store that cannot, is the error
// alone.
func Run(ctx context.Context, o Options) (Report, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	path, explicit := o.ConfigPath, o.ConfigPath != ""
	if !explicit {
		var err error
		if path, err = fetch.DefaultConfigPath(); err != nil {
			return Report{}, err
		}
	}
	cfg, err := fetch.LoadConfig(path, explicit)
	if err != nil {
		return Report{}, err
	}
	r := Report{Problems: []string{}, Warnings: []string{}}
	r.Files = files(path, cfg)

	r.checkNode(ctx, o, cfg, now())
	if err := r.readStore(ctx, o, cfg, now()); err != nil {
		return Report{}, err
	}
	r.judge()
	if !r.Usable {
		return r, ErrNodeUnusable.Mark(errors.New(strings.Join(r.Problems,
			"; ")))
	}
	return r, nil
}

// files lists the files of the config at path: fetch.yaml, the node's,
// the token store.
func files(path string, cfg fetch.Config) []File {
	out := []File{{Kind: "fetch.yaml", Path: path}}
	switch {
	case cfg.LNC != nil:
		if cfg.LNC.PhraseFile != "" {
			out = append(out, File{Kind: "lnc phrase",
				Path: cfg.LNC.PhraseFile})
		}
		out = append(out, File{Kind: "lnc session", Path: cfg.LNC.SessionFile})
	case cfg.Lnd.Host != "":
		out = append(out, File{Kind: "macaroon", Path: cfg.Lnd.MacaroonPath},
			File{Kind: "tls.cert", Path: cfg.Lnd.TLSCertPath})
	}
	out = append(out, File{Kind: "token store", Path: cfg.TokenStore})
	for i := range out {
		if out[i].Path != "" {
			_, err := os.Stat(out[i].Path)
			out[i].Exists = err == nil
		}
	}
	return out
}

// readStore counts the tokens and reads the budget: the caps, the last
// 24 hours' spending, all origins and per origin. A store not made yet is
// not made: it holds nothing and has spent nothing.
func (r *Report) readStore(ctx context.Context, o Options, cfg fetch.Config,
	now time.Time) error {

	run := fetch.RunOptions{MaxCostSat: o.MaxCostSat, MaxFeeSat: o.MaxFeeSat,
		MaxTotalSat: o.MaxTotalSat, MaxPerOriginSat: o.MaxPerOriginSat}
	r.Tokens.Store = cfg.TokenStore

	var store *tokens.Store
	if _, err := os.Lstat(cfg.TokenStore); !errors.Is(err, fs.ErrNotExist) {
		s, err := tokens.Open(ctx, cfg.TokenStore)
		if err != nil {
			return err
		}
		defer s.Close()
		store = s
		r.Tokens.Exists = true
	}
	lim, err := fetch.SpendingLimits(ctx, run, cfg, store, "", now)
	if err != nil {
		return err
	}
	r.Budget = Budget{Caps: lim.Caps, SpentSat: lim.SpentSat,
		LeftSat: lim.LeftSat, Origins: []OriginBudget{}}
	if store == nil {
		return nil
	}

	views, err := store.Views(ctx, now)
	if err != nil {
		return err
	}
	for _, v := range views {
		switch {
		case v.State == "pending":
			r.Tokens.Pending++
		case v.Expired:
			r.Tokens.Tokens++
			r.Tokens.Expired++
		default:
			r.Tokens.Tokens++
			r.Tokens.Active++
		}
	}
	sp, err := store.Spending(ctx)
	if err != nil {
		return err
	}
	r.Tokens.Payments = sp.Payments

	// Every origin of the last 24 hours, with fetch's own count of it.
	recent, err := store.History(ctx, tokens.HistoryFilter{
		Since: now.Add(-24 * time.Hour)})
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range recent {
		if seen[e.Origin] {
			continue
		}
		seen[e.Origin] = true
		l, err := fetch.SpendingLimits(ctx, run, cfg, store, e.Origin, now)
		if err != nil {
			return err
		}
		r.Budget.Origins = append(r.Budget.Origins, OriginBudget{
			Origin: e.Origin, SpentSat: l.OriginSpentSat,
			LeftSat: l.OriginLeftSat})
	}
	sort.Slice(r.Budget.Origins, func(i, j int) bool {
		return r.Budget.Origins[i].Origin < r.Budget.Origins[j].Origin
	})
	return nil
}

// judge decides whether the node can pay, from what was found, and adds
// the warnings that do not stop a payment but may stop one of today's.
func (r *Report) judge() {
	b := r.Budget
	if b.LeftSat != nil && *b.LeftSat == 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the 24-hour cap "+
			"of %d sat is spent: fetch pays nothing more until older "+
			"payments leave the window", b.MaxTotalSat))
	}
	if r.Liquidity.Known && r.Liquidity.OutboundSat > 0 &&
		r.Liquidity.OutboundSat < b.MaxCostSat {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the outbound "+
			"liquidity, %d sat, is below the per-call cap of %d sat: a "+
			"price between them cannot be paid", r.Liquidity.OutboundSat,
			b.MaxCostSat))
	}
	r.Usable = len(r.Problems) == 0
}
