package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// errPreview ends a --no-pay fetch at the challenge.
var errPreview = errors.New("preview")

// buy answers a 402: it vets the challenge, takes the origin's lock,
// records the payment as pending, pays, stores the token and retries the
// request with it. sentAuth is the credential the 402 answered, if any.
func (c *Client) buy(ctx context.Context, opts Options, origin,
	sentAuth string, h http.Header, res *Result) (*http.Response, error) {

	res.StatusCode = http.StatusPaymentRequired
	// Without a node the challenge is still vetted, for the invoice's
	// own network, so that a preview or a refusal needs no node.
	network, err := c.nodeNetwork(ctx)
	if err != nil && !errors.Is(err, ErrNoNode) && !opts.NoPay {
		return nil, paymentFailed(fmt.Errorf("unable to reach the paying "+
			"node: %w", err))
	}
	if err != nil {
		network = ""
	}

	o, err := vetChallenge(h, network, opts.MaxCostSat, c.now())
	if o.invoice.AmountMsat > 0 {
		res.InvoiceAmountSat = o.amountSat()
		res.MaxCostSats = opts.MaxCostSat
	}
	if o.challenge.Invoice != "" {
		res.Invoice = o.challenge.Invoice
		res.PaymentHash = o.invoice.PaymentHash.String()
	}
	if opts.NoPay {
		// A preview shows the price even when it is above --max-cost:
		// the caller decides. Other refusals stand.
		if err == nil || errors.Is(err, ErrOverBudget) {
			return nil, errPreview
		}
	}
	if err != nil {
		return nil, err
	}
	if c.Node == nil {
		return nil, ErrNoNode
	}

	unlock, err := c.Store.LockOrigin(ctx, origin)
	if err != nil {
		return nil, err
	}
	defer unlock()

	// While this process waited for the lock another one may have left
	// a payment pending, or bought a token: use theirs before paying.
	if err := c.resumeLocked(ctx, origin, opts); err != nil {
		return nil, err
	}
	if resp, ok, err := c.tryNewerToken(ctx, opts, origin, sentAuth); err != nil ||
		ok {
		return resp, err
	}

	// The lock may have taken a while: the invoice must still be good.
	if c.now().After(o.invoice.ExpiresAt()) {
		return nil, refused(ErrInvalidInvoice, "the invoice expired at %s "+
			"while another l402 process held the lock",
			o.invoice.ExpiresAt().UTC().Format(time.RFC3339))
	}

	release, err := c.checkBudget(ctx, opts, origin, o)
	if err != nil {
		return nil, err
	}
	mac, err := o.challenge.Macaroon.MarshalBinary()
	if err != nil {
		release()
		return nil, err
	}
	hash := o.invoice.PaymentHash
	err = c.Store.AddPending(ctx, tokens.Pending{
		PaymentHash: hash,
		Origin:      origin,
		Macaroon:    mac,
		Invoice:     o.challenge.Invoice,
		AmountMsat:  o.invoice.AmountMsat,
		MaxFeeMsat:  opts.MaxFeeSat * 1000,
		CreatedAt:   c.now(),
	})
	release()
	if err != nil {
		return nil, err
	}

	c.logf("paying %s (max fee %d sat) for %s", formatMsat(
		o.invoice.AmountMsat), opts.MaxFeeSat, origin)
	p, err := c.Node.Pay(ctx, lightning.PayRequest{
		PaymentRequest: o.challenge.Invoice,
		MaxFeeSat:      opts.MaxFeeSat,
		Timeout:        opts.PaymentTimeout,
	})
	if errors.Is(err, lightning.ErrAlreadyPaid) ||
		errors.Is(err, lightning.ErrPaymentInFlight) {
		p, err = c.Node.TrackPayment(ctx, hash)
	}
	switch {
	case errors.Is(err, lightning.ErrPaymentFailed):
		if derr := c.Store.DropPending(ctx, hash); derr != nil {
			return nil, derr
		}
		return nil, paymentFailed(err)

	case err != nil || p.Status != lightning.PaymentSucceeded:
		if err == nil {
			err = fmt.Errorf("payment is %s", p.Status)
		}
		return nil, paymentFailed(fmt.Errorf("%w; it stays recorded as "+
			"pending, and the next fetch for %s resumes it instead of "+
			"paying again", err, origin))
	}

	if _, err := c.Store.CompletePending(ctx, hash, p.Preimage, p.FeeMsat,
		c.now()); err != nil {
		return nil, err
	}
	res.L402Paid = true
	res.L402AmountSat = o.amountSat()
	res.L402FeeSat = tokens.MsatToSat(p.FeeMsat)
	c.logf("paid; token stored for %s", origin)

	auth, err := c.originAuth(ctx, origin)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, opts, auth)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusPaymentRequired {
		resp.Body.Close()
		return nil, ErrTokenRefused.Mark(errors.New("the server " +
			"answered 402 to the token it just sold; the token is kept " +
			"(l402 tokens show)"))
	}
	return resp, nil
}

// tryNewerToken retries the request with the origin's stored token when it
// differs from the one the 402 answered: another process bought it. ok
// reports whether the response is final.
func (c *Client) tryNewerToken(ctx context.Context, opts Options, origin,
	sentAuth string) (*http.Response, bool, error) {

	auth, err := c.originAuth(ctx, origin)
	if err != nil || auth == "" || auth == sentAuth {
		return nil, false, err
	}

	c.logf("using the token another l402 process bought for %s", origin)
	resp, err := c.send(ctx, opts, auth)
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusPaymentRequired {
		resp.Body.Close()
		return nil, false, nil
	}
	return resp, true, nil
}

// resumePending settles the origin's pending payments, if any, under the
// origin's lock.
func (c *Client) resumePending(ctx context.Context, origin string,
	opts Options) error {

	pend, err := c.Store.PendingFor(ctx, origin)
	if err != nil || len(pend) == 0 {
		return err
	}
	unlock, err := c.Store.LockOrigin(ctx, origin)
	if err != nil {
		return err
	}
	defer unlock()
	return c.resumeLocked(ctx, origin, opts)
}

// resumeLocked asks the node what became of each pending payment of the
// origin: a settled one becomes the token, a failed or never-made one is
// forgotten, and one still in flight is waited for up to the payment
// timeout. The origin's lock must be held.
func (c *Client) resumeLocked(ctx context.Context, origin string,
	opts Options) error {

	pend, err := c.Store.PendingFor(ctx, origin)
	if err != nil || len(pend) == 0 {
		return err
	}
	if c.Node == nil {
		return paymentFailed(fmt.Errorf("a payment for %s is pending and "+
			"only the node that made it can say what became of it: %w",
			origin, ErrNoNode))
	}
	for _, p := range pend {
		c.logf("resuming the pending payment %s for %s", p.PaymentHash,
			origin)
		tctx, cancel := context.WithTimeout(ctx, opts.PaymentTimeout)
		pay, err := c.Node.TrackPayment(tctx, p.PaymentHash)
		cancel()

		if errors.Is(err, lightning.ErrPaymentNotFound) {
			pay, err = c.payPendingAgain(ctx, p, opts)
		}

		switch {
		case errors.Is(err, errPendingExpired):
			// Never started, and it can no longer be paid: forget it.
			err = c.Store.DropPending(ctx, p.PaymentHash)

		case err != nil:
			return paymentFailed(fmt.Errorf("unable to learn what "+
				"became of the pending payment %s: %w", p.PaymentHash,
				err))

		case pay.Status == lightning.PaymentSucceeded:
			_, err = c.Store.CompletePending(ctx, p.PaymentHash,
				pay.Preimage, pay.FeeMsat, c.now())

		case pay.Status == lightning.PaymentFailed:
			err = c.Store.DropPending(ctx, p.PaymentHash)

		default:
			return paymentFailed(fmt.Errorf("the payment %s for %s is "+
				"still in flight; run again later to finish it",
				p.PaymentHash, origin))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// budgetLock is the lock key that serialises budget checks across origins.
const budgetLock = "l402:budget"

// checkBudget refuses a purchase that would take the last 24 hours'
// spending over --max-total (all origins) or the per-origin cap, counting
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
		name   string
	}{
		{"", opts.MaxTotalSat, "--max-total"},
		{origin, opts.MaxOriginSat, "the per-origin cap"},
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
			return nil, refused(ErrOverBudget, "paying %s (plus up to %d "+
				"sat fee) would spend %s in 24 hours, over %s of %d sat",
				formatMsat(o.invoice.AmountMsat), opts.MaxFeeSat,
				formatMsat(spent+cost), cp.name, cp.capSat)
		}
	}
	return unlock, nil
}

// errPendingExpired says a pending payment was never made and its invoice
// has expired, so it can never be.
var errPendingExpired = errors.New("pending invoice expired unpaid")

// payPendingAgain pays a pending payment the node has no record of (a run
// killed before lnd took it, or lnd's records lost). Paying the same
// invoice again is safe: one payment hash is paid at most once. Once the
// invoice has expired it can no longer be paid, and errPendingExpired
// says so.
func (c *Client) payPendingAgain(ctx context.Context, p tokens.Pending,
	opts Options) (lightning.Payment, error) {

	network, err := c.nodeNetwork(ctx)
	if err != nil {
		return lightning.Payment{}, err
	}
	inv, err := lightning.DecodeInvoice(p.Invoice, network)
	if err != nil || !c.now().Before(inv.ExpiresAt()) {
		return lightning.Payment{}, errPendingExpired
	}

	c.logf("paying the pending invoice %s again: the node has no record "+
		"of it", p.PaymentHash)
	pay, err := c.Node.Pay(ctx, lightning.PayRequest{
		PaymentRequest: p.Invoice,
		MaxFeeSat:      p.MaxFeeMsat / 1000,
		Timeout:        opts.PaymentTimeout,
	})
	if errors.Is(err, lightning.ErrAlreadyPaid) ||
		errors.Is(err, lightning.ErrPaymentInFlight) {
		return c.Node.TrackPayment(ctx, p.PaymentHash)
	}
	if errors.Is(err, lightning.ErrPaymentFailed) {
		return pay, nil // the switch below forgets it
	}
	return pay, err
}
