package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnddetect"
	"github.com/l402/l402/internal/macaroons"
)

// maxMacaroonFile bounds what is read of the macaroon file: lnd's are a
// few hundred bytes.
const maxMacaroonFile = 1 << 20

// checkNode fills in the node, its macaroon and its liquidity, and the
// problems that keep it from paying.
func (r *Report) checkNode(ctx context.Context, o Options, cfg fetch.Config,
	now time.Time) {
	r.Node.Type = "none"
	switch {
	case cfg.LNC != nil:
		r.Node.Type, r.Node.Address = "lnc", cfg.LNC.MailboxAddr()
		r.Macaroon = &Macaroon{Abilities: macaroons.Abilities{
			Kind: "unknown"}, Permissions: []string{},
			Error: "an LNC session's macaroon is Lightning Terminal's, " +
				"sent in the handshake: l402 does not see its permissions"}
	case cfg.Lnd.Host != "":
		r.Node.Type, r.Node.Address = "lnd", cfg.Lnd.Host
		r.Macaroon = readMacaroon(cfg.Lnd.MacaroonPath, now)
	}

	dial := o.Node
	if dial == nil {
		dial = func(cfg fetch.Config, log io.Writer) (lightning.Node, error) {
			return cfg.Node(log)
		}
	}
	node, err := dial(cfg, o.Log)
	switch {
	case err != nil:
		r.nodeFailed(err)
		return
	case node == nil:
		r.Node.Error, r.Node.Code = fetch.ErrNoNode.Error(), "no_node"
		r.Problems = append(r.Problems, fetch.ErrNoNode.Error())
		r.Liquidity.Reason = "no node"
		return
	}
	defer node.Close()

	info, err := node.Info(ctx)
	if err != nil {
		r.nodeFailed(err)
		return
	}
	r.Node.Reachable = true
	r.Node.Pubkey, r.Node.Alias, r.Node.Network = info.Pubkey, info.Alias,
		info.Network
	r.Node.Synced, r.Node.BlockHeight, r.Node.Version = info.Synced,
		info.BlockHeight, info.Version
	if !info.Synced {
		r.Warnings = append(r.Warnings, "the node is not synced to the "+
			"chain: it may refuse or misjudge payments until it is")
	}
	r.checkMacaroon()
	r.readLiquidity(ctx, node)
}

// nodeFailed records a node that could not be set up or did not answer,
// with lnd's cause when there is one.
func (r *Report) nodeFailed(err error) {
	if r.Node.Type == "lnd" && fault.Code(err) == "" {
		err = lnddetect.Explain(err)
	}
	r.Node.Error, r.Node.Code = err.Error(), fault.Code(err)
	r.Problems = append(r.Problems, fmt.Sprintf("the paying node does "+
		"not answer: %v", err))
	r.Liquidity.Reason = "the node does not answer"
}

// readMacaroon reads what the macaroon at path may do, without any node.
// A file that cannot be read or is not lnd's leaves its permissions
// unknown, with the reason; dialing the node reports the file itself.
func readMacaroon(path string, now time.Time) *Macaroon {
	m := &Macaroon{Path: path, Permissions: []string{},
		Abilities: macaroons.Abilities{Kind: "unknown"}}
	if path == "" {
		m.Error = "fetch.yaml's lnd section names no macaroonpath"
		return m
	}
	f, err := os.Open(path)
	if err != nil {
		m.Error = err.Error()
		return m
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMacaroonFile+1))
	if err == nil && len(b) > maxMacaroonFile {
		err = errors.New("over 1 MiB: not a macaroon")
	}
	if err != nil {
		m.Error = fmt.Sprintf("unable to read %s: %v", path, err)
		return m
	}
	info, err := macaroons.Inspect(b)
	if err != nil {
		m.Error = fmt.Sprintf("%s: %v", path, err)
		return m
	}
	m.ExpiresAt = info.ExpiresAt
	m.Expired = info.ExpiresAt != nil && !now.Before(*info.ExpiresAt)
	if info.PermissionsError != "" {
		m.Error = info.PermissionsError
		return m
	}
	m.Role = info.Role
	m.Abilities = macaroons.AbilitiesOf(info.Permissions)
	for _, p := range info.Permissions {
		m.Permissions = append(m.Permissions, p.String())
	}
	return m
}

// checkMacaroon adds the macaroon's problems: one that may not pay, or
// has expired, makes the node unusable for fetch; one that may do more
// than pay is a warning.
func (r *Report) checkMacaroon() {
	m := r.Macaroon
	switch {
	case m == nil || m.Kind == "unknown":
		return
	case m.Expired:
		r.Problems = append(r.Problems, fmt.Sprintf("the macaroon %s "+
			"expired at %s: bake a new one (l402 bake pay-only)", m.Path,
			m.ExpiresAt.Format(time.RFC3339)))
	case !m.Pay:
		r.Problems = append(r.Problems, fmt.Sprintf("the macaroon %s "+
			"may not pay (%s): fetch needs GetInfo, SendPaymentV2 and "+
			"TrackPaymentV2; bake a pay-only one (l402 bake pay-only)",
			m.Path, m.Kind))
	case m.Kind != macaroons.KindPayOnly:
		r.Warnings = append(r.Warnings, fmt.Sprintf("the macaroon %s "+
			"may do more than pay (%s): a pay-only one is enough for "+
			"fetch (l402 bake pay-only)", m.Path, m.Kind))
	}
}

// readLiquidity reads the outbound liquidity: the active channels' local
// balance above their reserve (ListChannels), else the open channels'
// local balance (ChannelBalance, which l402's pay-only role may call).
// A macaroon that may call neither leaves it unknown, with the reason; no
// liquidity at all makes the node unusable.
func (r *Report) readLiquidity(ctx context.Context, node lightning.Node) {
	m := r.Macaroon
	known := m != nil && m.Kind != "unknown"
	l := &r.Liquidity

	var denied []string
	if !known || m.ListChannels {
		chs, err := node.ListChannels(ctx)
		switch {
		case err == nil:
			l.Known, l.Source = true, "ListChannels"
			l.Channels = len(chs)
			for _, c := range chs {
				if c.Active {
					l.ActiveChannels++
				}
				l.OutboundSat += c.SpendableSat()
				l.LargestChannelSat = max(l.LargestChannelSat,
					c.SpendableSat())
			}
			r.judgeLiquidity()
			return
		case errors.Is(err, lightning.ErrPermissionDenied):
			denied = append(denied, "ListChannels")
		default:
			l.Reason = fmt.Sprintf("ListChannels failed: %v", err)
			r.Warnings = append(r.Warnings, "the outbound liquidity is "+
				"unknown: "+l.Reason)
			return
		}
	} else {
		denied = append(denied, "ListChannels")
	}

	if !known || m.ChannelBalance {
		b, err := node.ChannelBalance(ctx)
		switch {
		case err == nil:
			l.Known, l.Source = true, "ChannelBalance"
			l.OutboundSat = b.LocalMsat / 1000
			l.Reason = "the macaroon may not call ListChannels: this is " +
				"the local balance of every open channel, active or not, " +
				"their reserves included"
			r.judgeLiquidity()
			return
		case errors.Is(err, lightning.ErrPermissionDenied):
			denied = append(denied, "ChannelBalance")
		default:
			l.Reason = fmt.Sprintf("ChannelBalance failed: %v", err)
			r.Warnings = append(r.Warnings, "the outbound liquidity is "+
				"unknown: "+l.Reason)
			return
		}
	} else {
		denied = append(denied, "ChannelBalance")
	}
	l.Reason = fmt.Sprintf("the macaroon may not call %s (lnd's "+
		"offchain:read, or their uri: permissions): the liquidity is "+
		"not known", joinAnd(denied))
}

// judgeLiquidity makes a node with nothing to send unusable.
func (r *Report) judgeLiquidity() {
	l := r.Liquidity
	switch {
	case l.OutboundSat > 0:
	case l.Source == "ListChannels" && l.Channels == 0:
		r.Problems = append(r.Problems, "the node has no channel: it "+
			"cannot pay; open one")
	case l.Source == "ListChannels" && l.ActiveChannels == 0:
		r.Problems = append(r.Problems, "no channel is active (their "+
			"peers are offline): the node cannot pay now")
	default:
		r.Problems = append(r.Problems, "no channel has outbound "+
			"liquidity: the node cannot pay")
	}
}

// joinAnd joins names with "and".
func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return fmt.Sprintf("%s and %s", names[0], names[1])
}
