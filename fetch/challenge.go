package fetch

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/tokens"
)

// offer is a challenge that passed every check and may be paid: an L402
// one (its challenge), a Payment charge (its vetted charge) or a Payment
// session's deposit (session), and the invoice, decoded.
type offer struct {
	scheme    Scheme
	challenge l402.Challenge
	charge    mpp.Offer
	session   *mpp.SessionOffer
	invoice   lightning.PayReq

	// kind is the ledger's: tokens.KindTopUp for a session's top-up,
	// a purchase otherwise.
	kind string
}

// expires returns when a Payment offer's challenge expires (zero for
// L402, or a challenge without an expiry).
func (o offer) expires() time.Time {
	if o.session != nil {
		return o.session.Expires
	}
	return o.charge.Expires
}

// paymentChallenge returns a Payment offer's challenge.
func (o offer) paymentChallenge() mpp.Challenge {
	if o.session != nil {
		return o.session.Challenge
	}
	return o.charge.Challenge
}

// amountSat returns the invoice amount in whole sats, rounded up.
func (o offer) amountSat() int64 { return tokens.MsatToSat(o.invoice.AmountMsat) }

// bolt11 returns the invoice to pay, as the challenge carries it.
func (o offer) bolt11() string {
	if o.session != nil {
		return o.session.Request.DepositInvoice
	}
	if o.scheme == SchemePayment {
		return o.charge.Invoice
	}
	return o.challenge.Invoice
}

// vetChallenge picks the challenge of a 402 response and checks its
// invoice with a full BOLT11 decode: it must carry an amount, be for the
// node's network, not be expired, stay payable no longer than maxExpiry
// from now, commit to the macaroon's payment hash, and cost no more than
// maxCostSat.
func vetChallenge(h http.Header, network string, maxCostSat int64,
	maxExpiry time.Duration, now time.Time) (offer, error) {

	chs, err := l402.ParseChallenges(h.Values("WWW-Authenticate"))
	if err != nil {
		return offer{}, refused(ErrInvalidChallenge, "the server's 402 "+
			"carries no usable L402 challenge: %v", err)
	}

	// Prefer the L402 scheme; LSAT challenges carry the same token.
	ch := chs[0]
	for _, c := range chs {
		if c.Scheme == l402.SchemeL402 {
			ch = c
			break
		}
	}

	inv, err := vetInvoice(ch.Invoice, network, func(inv lightning.PayReq) error {
		if inv.PaymentHash != ch.Identifier.PaymentHash {
			return refused(ErrInvalidInvoice, "refusing to pay: the "+
				"invoice's payment hash %s is not the macaroon's %s",
				inv.PaymentHash, ch.Identifier.PaymentHash)
		}
		return nil
	}, maxCostSat, maxExpiry, now)
	if err != nil && inv == (lightning.PayReq{}) {
		// Not even decoded: there is no price to show.
		return offer{}, err
	}
	return offer{scheme: SchemeL402, challenge: ch, invoice: inv}, err
}

// vetInvoice checks a challenge's invoice with a full BOLT11 decode, for
// both schemes: it must carry an amount, be for the node's network (or,
// without a node, for its own), pass BOLT 11's reader rules, match what
// the challenge says of it (match: the macaroon's payment hash, or a
// Payment request's hash, amount and network), not be expired, stay
// payable no longer than maxExpiry from now, and cost no more than
// maxCostSat. The decoded invoice is returned with a refusal
// too, once it is decoded, so that a preview can show its price.
func vetInvoice(invoice, network string, match func(lightning.PayReq) error,
	maxCostSat int64, maxExpiry time.Duration, now time.Time) (lightning.PayReq, error) {

	// Without a node (a --no-pay preview) the invoice's own network is
	// the one it is decoded for.
	if network == "" {
		nets, err := lightning.InvoiceNetworks(invoice)
		if err != nil {
			return lightning.PayReq{}, refused(ErrInvalidInvoice,
				"refusing to pay the challenge's invoice: %v", err)
		}
		network = nets[0]
	}

	inv, err := lightning.DecodeInvoice(invoice, network)
	if err != nil {
		return lightning.PayReq{}, refused(ErrInvalidInvoice, "refusing "+
			"to pay the challenge's invoice: %v", err)
	}
	if err := checkReader(inv); err != nil {
		return inv, err
	}

	if inv.AmountMsat <= 0 {
		return inv, refused(ErrInvalidInvoice, "refusing to pay an "+
			"invoice without an amount: the price must be in the invoice")
	}
	if err := match(inv); err != nil {
		return inv, err
	}
	switch {
	case now.After(inv.ExpiresAt()):
		return inv, refused(ErrInvalidInvoice, "refusing to pay an "+
			"invoice that expired at %s", inv.ExpiresAt().UTC().Format(
			time.RFC3339))

	case inv.ExpiresAt().Sub(now) > maxExpiry:
		return inv, overLimit(ErrInvalidInvoice, LimitInvoiceExpiry,
			"refusing to pay an invoice payable until %[2]s, %[3]s from "+
				"now: over %[1]s %[4]s", inv.ExpiresAt().UTC().Format(
				time.RFC3339), formatDuration(inv.ExpiresAt().Sub(now)),
			formatDuration(maxExpiry))

	case inv.AmountMsat > maxCostSat*1000:
		return inv, overBudget(LimitCost, "price %[2]s is above %[1]s "+
			"%[3]d sat", formatMsat(inv.AmountMsat), maxCostSat)
	}
	return inv, nil
}

// checkReader refuses what BOLT 11 says a reader MUST fail and zpay32
// lets through: an unknown even (required) feature bit and a signature
// not in lower-S form; and an invoice without the payment secret (the s
// field) that a payment needs.
func checkReader(inv lightning.PayReq) error {
	switch {
	case inv.UnknownRequired != "":
		return refused(ErrInvalidInvoice, "refusing to pay an invoice "+
			"that sets unknown required feature %s (BOLT 11: an "+
			"unknown even feature bit fails the payment)",
			inv.UnknownRequired)

	case inv.HighS:
		return refused(ErrInvalidInvoice, "refusing to pay an invoice "+
			"whose signature is not in lower-S form (BOLT 11)")

	case !inv.PaymentSecret:
		return refused(ErrInvalidInvoice, "refusing to pay an invoice "+
			"without a payment secret (BOLT 11's s field)")
	}
	return nil
}

// formatMsat writes an amount in sats, with the msat when it has any.
func formatMsat(msat int64) string {
	if msat%1000 == 0 {
		return fmt.Sprintf("%d sat", msat/1000)
	}
	return fmt.Sprintf("%d.%03d sat", msat/1000, msat%1000)
}

// formatDuration writes a duration in whole seconds without its zero
// units: 25h, 1h30m, 90s stays 1m30s.
func formatDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
