package fetch

import (
	"context"
	"time"
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
