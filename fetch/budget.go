package fetch

import (
	"context"
	"errors"
	"time"

	"github.com/l402/l402/tokens"
)

// budgetLock is the lock key that serialises budget checks across origins.
const budgetLock = "l402:budget"

// checkBudget refuses a purchase that would take the last 24 hours'
// spending over the total cap (all origins) or the per-origin cap, counting
// the price and the most the fee may be. With a cap set it returns
// holding the budget lock, which the caller releases once the payment is
// recorded as pending, so that concurrent buyers cannot both squeeze in.
func (c *Client) checkBudget(ctx context.Context, opts Options, origin string,
	o offer) (func(), error) {

	if opts.MaxTotalSat == 0 && opts.MaxOriginSat == 0 {
		return func() {}, nil
	}
	unlock, err := c.Store.LockOrigin(ctx, budgetLock)
	if err != nil {
		return nil, err
	}

	since := c.now().Add(-24 * time.Hour)
	cost := o.invoice.AmountMsat + opts.MaxFeeSat*1000
	caps := []struct {
		origin string
		capSat int64
		limit  Limit
	}{
		{"", opts.MaxTotalSat, LimitTotal},
		{origin, opts.MaxOriginSat, LimitOrigin},
	}
	for _, cp := range caps {
		if cp.capSat == 0 {
			continue
		}
		spent, err := c.Store.Spent(ctx, cp.origin, since)
		if err != nil {
			unlock()
			return nil, err
		}
		if spent+cost > cp.capSat*1000 {
			unlock()
			return nil, overBudget(cp.limit, "paying %[2]s (plus up to "+
				"%[3]d sat fee) would spend %[4]s in 24 hours, over %[1]s "+
				"of %[5]d sat", formatMsat(o.invoice.AmountMsat),
				opts.MaxFeeSat, formatMsat(spent+cost), cp.capSat)
		}
	}
	return unlock, nil
}

// Caps are the caps in force, in sats (the invoice expiry cap in
// seconds), with the JSON names of `fetch --json`'s limits; `l402
// status` reports the same. A cap of 0 is none.
type Caps struct {
	MaxCostSat              int64 `json:"max_cost_sat"`
	MaxFeeSat               int64 `json:"max_fee_sat"`
	MaxTotalSat             int64 `json:"max_total_sat"`
	MaxPerOriginSat         int64 `json:"max_per_origin_sat"`
	MaxInvoiceExpirySeconds int64 `json:"max_invoice_expiry_seconds"`
}

// Limits are the caps of a fetch and what is left of the 24-hour ones
// after it, in sats, as the JSON result shows them; the field names are
// stable for agents. A cap of 0 is none, and what is left of it is null.
type Limits struct {
	Caps

	// SpentSat is what the last 24 hours spent, all origins, pending
	// payments counted at their price and fee cap; LeftSat what the
	// total cap leaves. The Origin ones are the same for the URL's
	// origin and the per-origin cap.
	SpentSat       int64  `json:"spent_24h_sat"`
	LeftSat        *int64 `json:"left_24h_sat"`
	OriginSpentSat int64  `json:"origin_spent_24h_sat"`
	OriginLeftSat  *int64 `json:"origin_left_24h_sat"`
}

// limits reports the caps of opts and, from the store, what the last 24
// hours spent of them. Nil when the options or the URL are bad; the
// spending is left at 0 when the store cannot say (a preview without a
// store has spent nothing).
func (c *Client) limits(ctx context.Context, opts Options) *Limits {
	origin, err := prepare(&opts)
	if err != nil {
		return nil
	}
	l, _ := c.limitsAt(ctx, opts, origin)
	return &l
}

// SpendingLimits is Result.Limits without a fetch, for `l402 status`: the
// caps o's limits and fetch.yaml resolve to, as Run resolves them, and
// what the last 24 hours spent of them in store (nil: a store not made
// yet, which has spent nothing), all origins and, when origin is set,
// that origin.
func SpendingLimits(ctx context.Context, o RunOptions, cfg Config,
	store *tokens.Store, origin string, now time.Time) (Limits, error) {

	opts, err := o.options(cfg)
	if err != nil {
		return Limits{}, err
	}
	if opts.MaxInvoiceExpiry <= 0 {
		opts.MaxInvoiceExpiry = DefaultMaxInvoiceExpiry
	}
	c := &Client{Store: store, Now: func() time.Time { return now }}
	return c.limitsAt(ctx, opts, origin)
}

// limitsAt reports the caps of opts and what the last 24 hours spent of
// them at origin and in all; the error is the store's, whose spending is
// then left at 0.
func (c *Client) limitsAt(ctx context.Context, opts Options,
	origin string) (Limits, error) {

	l := Limits{Caps: Caps{
		MaxCostSat:              opts.MaxCostSat,
		MaxFeeSat:               opts.MaxFeeSat,
		MaxTotalSat:             opts.MaxTotalSat,
		MaxPerOriginSat:         opts.MaxOriginSat,
		MaxInvoiceExpirySeconds: int64(opts.MaxInvoiceExpiry / time.Second),
	}}
	var (
		total, atOrigin int64
		err, oErr       error
	)
	if c.Store != nil {
		since := c.now().Add(-24 * time.Hour)
		total, err = c.Store.Spent(ctx, "", since)
		if origin != "" {
			atOrigin, oErr = c.Store.Spent(ctx, origin, since)
		}
	}
	l.SpentSat, l.LeftSat = tokens.MsatToSat(total), left(opts.MaxTotalSat,
		total)
	l.OriginSpentSat, l.OriginLeftSat = tokens.MsatToSat(atOrigin),
		left(opts.MaxOriginSat, atOrigin)
	return l, errors.Join(err, oErr)
}

// left returns what a cap of capSat leaves after spentMsat, in whole
// sats, or nil when there is no cap.
func left(capSat, spentMsat int64) *int64 {
	if capSat == 0 {
		return nil
	}
	v := (capSat*1000 - spentMsat) / 1000
	if v < 0 {
		v = 0
	}
	return &v
}
