package status

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons/macaroontest"
	"github.com/l402/l402/tokens"
)

// world is a buyer's fetch.yaml, the files it names, and an in-memory
// node standing for its lnd.
type world struct {
	dir, config, store, macaroon string
	node                         *lightning.MemoryNode
}

// newWorld writes a fetch.yaml paying through lnd with a macaroon of the
// role (none: no macaroonpath) and the extra lines, and a tls.cert.
func newWorld(t *testing.T, role, extra string, caveats ...string) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{dir: dir, config: filepath.Join(dir, "fetch.yaml"),
		store: filepath.Join(dir, "tokens.db")}
	net := lightning.NewMemoryNetwork()
	node, err := net.NewNode("alice", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	w.node = node
	yaml := "lnd:\n  host: 127.0.0.1:10009\n  tlscertpath: tls.cert\n"
	if role != "" {
		w.macaroon = filepath.Join(dir, role+".macaroon")
		if err := os.WriteFile(w.macaroon, macaroontest.MintRole(t, role,
			caveats...), 0o600); err != nil {
			t.Fatal(err)
		}
		yaml += "  macaroonpath: " + w.macaroon + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.cert"), []byte("pem"),
		0o600); err != nil {
		t.Fatal(err)
	}
	yaml += extra + "tokenstore: " + w.store + "\n"
	if err := os.WriteFile(w.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// options runs the status against the world's config and node.
func (w *world) options() Options {
	return Options{ConfigPath: w.config,
		Node: func(fetch.Config, io.Writer) (lightning.Node, error) {
			return w.node, nil
		}}
}

// pay records a payment of sat at origin, at.
func (w *world) pay(t *testing.T, n byte, origin string, sat int64,
	at time.Time) {

	t.Helper()
	ctx := context.Background()
	s, err := tokens.Open(ctx, w.store)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pre := l402.Preimage{n}
	mac, _ := l402.Mint(make([]byte, 32), l402.NewIdentifier(pre.Hash(),
		l402.TokenID{n}))
	raw, _ := mac.MarshalBinary()
	if err := s.AddPending(ctx, tokens.Pending{PaymentHash: pre.Hash(),
		Origin: origin, Macaroon: raw, Invoice: "lnbcrt1x",
		AmountMsat: sat * 1000, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompletePending(ctx, pre.Hash(), pre, 1000,
		at); err != nil {
		t.Fatal(err)
	}
}

// TestStatusPayOnly: setup's pay-only macaroon pays; it may not list
// channels, so the liquidity is ChannelBalance's; the budget has what the
// last 24 hours spent, in all and per origin; the tokens are counted and
// the files named.
func TestStatusPayOnly(t *testing.T) {
	w := newWorld(t, "pay-only", "maxcost: 100\nmaxtotal: 1000\n"+
		"maxperorigin: 500\n")
	now := time.Now()
	w.pay(t, 1, "https://a.example:443", 30, now.Add(-time.Hour))
	w.pay(t, 2, "https://b.example:443", 40, now.Add(-48*time.Hour))
	w.node.Deny("ListChannels") // as lnd would: the role lacks it

	r, err := Run(context.Background(), w.options())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Usable || len(r.Problems) != 0 || len(r.Warnings) != 0 ||
		r.Node.Type != "lnd" || r.Node.Address != "127.0.0.1:10009" ||
		!r.Node.Reachable || r.Node.Alias != "alice" ||
		r.Node.Network != "regtest" || !r.Node.Synced ||
		r.Node.Pubkey != w.node.Pubkey() {
		t.Fatalf("report %+v", r)
	}
	m := r.Macaroon
	if m.Path != w.macaroon || m.Role != "pay-only" || m.Kind != "pay-only" ||
		!m.Pay || m.ListChannels || !m.ChannelBalance || m.Expired ||
		len(m.Permissions) != 6 || m.Error != "" {
		t.Fatalf("macaroon %+v", m)
	}
	l := r.Liquidity
	if !l.Known || l.Source != "ChannelBalance" ||
		l.OutboundSat != lightning.DefaultMemoryChannel.LocalBalanceSat ||
		!strings.Contains(l.Reason, "ListChannels") {
		t.Fatalf("liquidity %+v", l)
	}
	b := r.Budget
	if b.MaxCostSat != 100 || b.MaxTotalSat != 1000 ||
		b.MaxPerOriginSat != 500 || b.MaxFeeSat != fetch.DefaultMaxFeeSat ||
		b.SpentSat != 31 || *b.LeftSat != 969 || len(b.Origins) != 1 ||
		b.Origins[0].Origin != "https://a.example:443" ||
		b.Origins[0].SpentSat != 31 || *b.Origins[0].LeftSat != 469 {
		t.Fatalf("budget %+v", b)
	}
	if r.Tokens != (TokenCount{Store: w.store, Exists: true, Tokens: 2,
		Active: 2, Payments: 2}) {
		t.Fatalf("tokens %+v", r.Tokens)
	}
	want := []File{{"fetch.yaml", w.config, true},
		{"macaroon", w.macaroon, true},
		{"tls.cert", filepath.Join(w.dir, "tls.cert"), true},
		{"token store", w.store, true}}
	if len(r.Files) != len(want) {
		t.Fatalf("files %+v", r.Files)
	}
	for i := range want {
		if r.Files[i] != want[i] {
			t.Fatalf("file %d: %+v, want %+v", i, r.Files[i], want[i])
		}
	}

	var out bytes.Buffer
	if err := r.WriteHuman(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"node      lnd at 127.0.0.1:10009: alice",
		"macaroon  " + w.macaroon + ": pay-only (l402 role pay-only), may pay",
		"outbound  10000000 sat in the open channels (ChannelBalance",
		"budget    100 sat a call (fee up to 10 sat); 24 hours: 1000 sat " +
			"cap, 31 spent, 969 left; 500 sat per origin",
		"https://a.example:443: 31 sat in 24 hours, 469 sat left",
		"tokens    2 (2 active, 0 expired), 0 pending, 2 payment(s)",
		"files     fetch.yaml " + w.config, "usable    yes"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the human report lacks %q:\n%s", s, out.String())
		}
	}
}

// TestStatusListsChannels: a macaroon that may list channels gets the
// active channels' spendable balance above their reserves.
func TestStatusListsChannels(t *testing.T) {
	w := newWorld(t, "read-only", "")
	w.node.SetChannels([]lightning.Channel{
		{ChanID: 1, Active: true, LocalBalanceSat: 50_000,
			LocalReserveSat: 1000},
		{ChanID: 2, Active: true, LocalBalanceSat: 20_000,
			LocalReserveSat: 1000},
		{ChanID: 3, Active: false, LocalBalanceSat: 90_000},
	})
	r, err := Run(context.Background(), w.options())
	// A read-only macaroon may not pay.
	if !errors.Is(err, ErrNodeUnusable) || r.Usable ||
		!strings.Contains(r.Problems[0], "may not pay (other)") {
		t.Fatalf("read-only: %+v %v", r, err)
	}
	l := r.Liquidity
	if !l.Known || l.Source != "ListChannels" || l.OutboundSat != 68_000 ||
		l.LargestChannelSat != 49_000 || l.Channels != 3 ||
		l.ActiveChannels != 2 {
		t.Fatalf("liquidity %+v", l)
	}
}

// TestStatusLiquidityFallsBack: with permissions l402 cannot read (LNC's,
// or no macaroonpath), ListChannels is tried, then ChannelBalance; when
// the node refuses both the liquidity is unknown with the reason, which
// does not make the node unusable.
func TestStatusLiquidityFallsBack(t *testing.T) {
	w := newWorld(t, "", "")
	w.node.Deny("ListChannels")
	r, err := Run(context.Background(), w.options())
	if err != nil || r.Macaroon.Kind != "unknown" ||
		!strings.Contains(r.Macaroon.Error, "no macaroonpath") ||
		r.Liquidity.Source != "ChannelBalance" || !r.Liquidity.Known {
		t.Fatalf("one refused: %+v %v", r, err)
	}
	w.node.Deny("ChannelBalance")
	r, err = Run(context.Background(), w.options())
	if err != nil || !r.Usable || r.Liquidity.Known ||
		!strings.Contains(r.Liquidity.Reason, "ListChannels and "+
			"ChannelBalance") {
		t.Fatalf("both refused: %+v %v", r, err)
	}
}

// TestStatusUnusable: no node, a node that does not answer, a macaroon
// that may not pay or has expired, no channel or none active: each is
// ErrNodeUnusable with a report whose problems say why.
func TestStatusUnusable(t *testing.T) {
	tests := []struct {
		name  string
		world func(t *testing.T) (*world, Options)
		words string
	}{
		{"no node", func(t *testing.T) (*world, Options) {
			w := newWorld(t, "pay-only", "")
			os.WriteFile(w.config, []byte("tokenstore: "+w.store+"\n"), 0o600)
			o := w.options()
			o.Node = nil
			return w, o
		}, "no Lightning node is configured"},
		{"not answering", func(t *testing.T) (*world, Options) {
			w := newWorld(t, "pay-only", "")
			o := w.options()
			o.Node = nil // Config.Node: the tls.cert is not PEM
			return w, o
		}, "does not answer"},
		{"invoice-only", func(t *testing.T) (*world, Options) {
			w := newWorld(t, "invoice-only", "")
			return w, w.options()
		}, "may not pay (invoice-only)"},
		{"expired", func(t *testing.T) (*world, Options) {
			w := newWorld(t, "pay-only", "",
				"time-before 2020-01-01T00:00:00Z")
			return w, w.options()
		}, "expired at 2020-01-01T00:00:00Z"},
		{"no channel", func(t *testing.T) (*world, Options) {
			w := newWorld(t, "", "")
			w.node.SetChannels(nil)
			return w, w.options()
		}, "no channel"},
		{"none active", func(t *testing.T) (*world, Options) {
			w := newWorld(t, "", "")
			w.node.SetChannels([]lightning.Channel{{ChanID: 1,
				LocalBalanceSat: 5000}})
			return w, w.options()
		}, "no channel is active"},
		{"empty channels by balance", func(t *testing.T) (*world, Options) {
			w := newWorld(t, "pay-only", "")
			w.node.SetChannels([]lightning.Channel{{ChanID: 1,
				Active: true}})
			return w, w.options()
		}, "no channel has outbound liquidity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, o := tc.world(t)
			r, err := Run(context.Background(), o)
			if !errors.Is(err, ErrNodeUnusable) || r.Usable ||
				!strings.Contains(err.Error(), tc.words) ||
				len(r.Problems) == 0 {
				t.Fatalf("got %+v %v, want %q", r, err, tc.words)
			}
		})
	}
}

// TestStatusNodeError: a node that fails names lnd's cause.
func TestStatusNodeError(t *testing.T) {
	w := newWorld(t, "pay-only", "")
	w.node.Deny("Info")
	r, err := Run(context.Background(), w.options())
	if !errors.Is(err, ErrNodeUnusable) || r.Node.Reachable ||
		r.Node.Code != "macaroon_permission" || r.Liquidity.Known {
		t.Fatalf("%+v %v", r.Node, err)
	}
}

// TestStatusWarnings: what does not stop a payment but deserves a look —
// a node not synced, a macaroon that may do more than pay, liquidity
// below the per-call cap, the 24-hour cap spent.
func TestStatusWarnings(t *testing.T) {
	w := newWorld(t, "l402-both", "maxcost: 100\nmaxtotal: 50\n")
	w.pay(t, 1, "https://a.example:443", 49, time.Now())
	w.node.SetSynced(false)
	w.node.SetChannels([]lightning.Channel{{ChanID: 1, Active: true,
		LocalBalanceSat: 60}})
	r, err := Run(context.Background(), w.options())
	if err != nil || !r.Usable || len(r.Warnings) != 4 {
		t.Fatalf("%+v %v", r.Warnings, err)
	}
	for i, s := range []string{"not synced", "more than pay (other)",
		"24-hour cap of 50 sat is spent", "60 sat, is below the per-call"} {
		if !strings.Contains(r.Warnings[i], s) {
			t.Errorf("warning %d: %q, want %q", i, r.Warnings[i], s)
		}
	}
}

// TestStatusCapsAndStore: caps given over fetch.yaml's are the ones
// reported; a store not made yet is not made; a bad fetch.yaml is its own
// error, not an unusable node.
func TestStatusCapsAndStore(t *testing.T) {
	w := newWorld(t, "pay-only", "maxtotal: 1000\n")
	total, cost := int64(0), int64(5)
	o := w.options()
	o.MaxTotalSat, o.MaxCostSat = &total, &cost
	r, err := Run(context.Background(), o)
	if err != nil || r.Budget.MaxTotalSat != 0 || r.Budget.LeftSat != nil ||
		r.Budget.MaxCostSat != 5 || r.Tokens.Exists || r.Tokens.Tokens != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := os.Stat(w.store); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("status made the store: %v", err)
	}

	os.WriteFile(w.config, []byte("maxcost: lots\n"), 0o600)
	if _, err := Run(context.Background(), w.options()); !errors.Is(err,
		config.ErrBad) || errors.Is(err, ErrNodeUnusable) {
		t.Fatalf("a bad fetch.yaml: %v", err)
	}
}
