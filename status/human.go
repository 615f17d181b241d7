package status

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// JSON returns what `l402 status --json` prints: the report.
func (r Report) JSON() any { return r }

// WriteHuman prints the report for people, one aspect a line: the node,
// the macaroon, the liquidity, the budget, the tokens, the files, then
// whether the node can pay and the warnings.
func (r Report) WriteHuman(w io.Writer) error {
	tw := &lines{w: w}
	tw.row("node", r.nodeText())
	if r.Macaroon != nil {
		tw.row("macaroon", r.macaroonText())
	}
	tw.row("outbound", r.liquidityText())
	tw.row("budget", r.budgetText())
	for _, o := range r.Budget.Origins {
		left := ""
		if o.LeftSat != nil {
			left = fmt.Sprintf(", %d sat left of maxperorigin", *o.LeftSat)
		}
		tw.row("", fmt.Sprintf("%s: %d sat in 24 hours%s", o.Origin,
			o.SpentSat, left))
	}
	tw.row("tokens", r.tokensText())
	for i, f := range r.Files {
		label := ""
		if i == 0 {
			label = "files"
		}
		state := ""
		if !f.Exists {
			state = " (none)"
		}
		tw.row(label, fmt.Sprintf("%s %s%s", f.Kind, f.Path, state))
	}
	if r.Usable {
		tw.row("usable", "yes: the node can pay")
	} else {
		tw.row("usable", "no: "+strings.Join(r.Problems, "; "))
	}
	for _, warning := range r.Warnings {
		tw.row("warning", warning)
	}
	return tw.err
}

// nodeText describes the node.
func (r Report) nodeText() string {
	n := r.Node
	if n.Type == "none" {
		return "none configured"
	}
	where := fmt.Sprintf("%s at %s", n.Type, n.Address)
	if n.Type == "lnc" {
		where = "LNC via " + n.Address
	}
	if !n.Reachable {
		return where + ": " + n.Error
	}
	synced := "synced"
	if !n.Synced {
		synced = "not synced"
	}
	return fmt.Sprintf("%s: %s (%s), %s, %s to block %d, %s", where,
		n.Alias, short(n.Pubkey), n.Network, synced, n.BlockHeight,
		n.Version)
}

// macaroonText describes the macaroon.
func (r Report) macaroonText() string {
	m := r.Macaroon
	path := m.Path
	if path == "" {
		path = "LNC session"
	}
	if m.Kind == "unknown" {
		return path + ": permissions unknown: " + m.Error
	}
	s := fmt.Sprintf("%s: %s", path, m.Kind)
	if m.Role != "" {
		s += " (l402 role " + m.Role + ")"
	}
	if m.Pay {
		s += ", may pay"
	} else {
		s += ", may not pay"
	}
	switch {
	case m.Expired:
		s += ", expired " + m.ExpiresAt.Format(time.RFC3339)
	case m.ExpiresAt != nil:
		s += ", expires " + m.ExpiresAt.Format(time.RFC3339)
	}
	return s
}

// liquidityText describes the outbound liquidity.
func (r Report) liquidityText() string {
	l := r.Liquidity
	switch {
	case !l.Known:
		return "unknown: " + l.Reason
	case l.Source == "ListChannels":
		return fmt.Sprintf("%d sat can be sent (the most through one "+
			"channel %d sat), %d of %d channel(s) active", l.OutboundSat,
			l.LargestChannelSat, l.ActiveChannels, l.Channels)
	}
	return fmt.Sprintf("%d sat in the open channels (ChannelBalance: %s)",
		l.OutboundSat, l.Reason)
}

// budgetText describes the caps and the last 24 hours.
func (r Report) budgetText() string {
	b := r.Budget
	s := fmt.Sprintf("%d sat a call (fee up to %d sat)", b.MaxCostSat,
		b.MaxFeeSat)
	if b.LeftSat != nil {
		s += fmt.Sprintf("; 24 hours: %d sat cap, %d spent, %d left",
			b.MaxTotalSat, b.SpentSat, *b.LeftSat)
	} else {
		s += fmt.Sprintf("; 24 hours: no cap, %d sat spent", b.SpentSat)
	}
	if b.MaxPerOriginSat > 0 {
		s += fmt.Sprintf("; %d sat per origin", b.MaxPerOriginSat)
	}
	return s
}

// tokensText counts the tokens.
func (r Report) tokensText() string {
	t := r.Tokens
	if !t.Exists {
		return "none yet (no token store)"
	}
	return fmt.Sprintf("%d (%d active, %d expired), %d pending, %d "+
		"payment(s) in the ledger", t.Tokens, t.Active, t.Expired,
		t.Pending, t.Payments)
}

// short returns a public key's first and last characters.
func short(pubkey string) string {
	if len(pubkey) <= 16 {
		return pubkey
	}
	return pubkey[:8] + "..." + pubkey[len(pubkey)-8:]
}

// lines writes label/value lines, remembering the first error.
type lines struct {
	w   io.Writer
	err error
}

// row writes one labelled line.
func (l *lines) row(label, value string) {
	if l.err == nil {
		_, l.err = fmt.Fprintf(l.w, "%-9s %s\n", label, value)
	}
}
