package fetch

import (
	"context"
	"encoding/json"
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
// records the payment as pending, pays, and retries the request: with
// the token it stores (L402), or once with the paid charge's credential
// (Payment). sent is the credential the 402 answered, if any; resp is the
// 402.
func (c *Client) buy(ctx context.Context, opts Options, origin string,
	sent credential, resp *http.Response, res *Result) (*http.Response,
	error) {

	o, err := c.vet(ctx, opts, resp.Header, res)
	if err != nil {
		return nil, err
	}
	// A charge pays for the request that got the 402.
	target := chargeTarget(opts, resp)

	unlock, err := c.Store.LockOrigin(ctx, origin)
	if err != nil {
		return nil, err
	}
	defer unlock()

	// While this process waited for the lock another one may have left
	// a payment pending, or bought a token: use theirs before paying.
	pc, err := c.resumeLocked(ctx, origin, opts)
	if err != nil {
		return nil, err
	}
	if pc != nil {
		if resp, ok, err := c.tryResumedCharge(ctx, target, *pc,
			res); err != nil || ok {
			return resp, err
		}
	}
	if o.session != nil {
		// One session per origin: one another process opened (or one
		// a refusal left stored) is not replaced by paying again.
		if _, err := c.Store.Session(ctx, origin); err == nil {
			return nil, ErrTokenRefused.Mark(fmt.Errorf("%s has a "+
				"stored session that did not pay for this request; it is "+
				"kept (l402 tokens list): close it with l402 tokens close "+
				"%s before opening another", origin, origin))
		} else if !errors.Is(err, tokens.ErrNotFound) {
			return nil, err
		}
	} else if resp, ok, err := c.tryNewerToken(ctx, opts, origin,
		sent); err != nil || ok {
		return resp, err
	}

	// The lock may have taken a while: the invoice, and a charge's
	// challenge, must still be good.
	if c.now().After(o.invoice.ExpiresAt()) {
		return nil, refused(ErrInvalidInvoice, "the invoice expired at %s "+
			"while another l402 process held the lock",
			o.invoice.ExpiresAt().UTC().Format(time.RFC3339))
	}
	if o.scheme == SchemePayment && !o.expires().IsZero() &&
		!c.now().Before(o.expires()) {
		return nil, refused(ErrInvalidChallenge, "the Payment challenge "+
			"expired at %s while another l402 process held the lock",
			o.paymentChallenge().Expires)
	}

	var ret string
	if o.session != nil {
		// The refund's invoice is made before anything is paid.
		if ret, err = c.returnInvoice(ctx, origin); err != nil {
			return nil, err
		}
	}
	if err := c.recordPendingReturn(ctx, opts, origin, o, ret); err != nil {
		return nil, err
	}
	p, err := c.pay(ctx, opts, origin, o)
	if err != nil {
		return nil, err
	}
	if o.session != nil {
		return c.openSession(ctx, target, origin, o, p, res)
	}
	if o.scheme == SchemePayment {
		pc, err := c.completeCharge(ctx, origin, o, p, res)
		if err != nil {
			return nil, err
		}
		return c.retryWithCharge(ctx, target, pc, res)
	}
	if err := c.storeToken(ctx, origin, o, p, res); err != nil {
		return nil, err
	}
	return c.retryWithToken(ctx, opts, origin)
}

// vet checks the challenge of a 402 against the options and reports its
// price in res. A preview ends here with errPreview, even above the cost
// cap (the caller decides); a challenge that may be paid needs a node.
func (c *Client) vet(ctx context.Context, opts Options, h http.Header,
	res *Result) (offer, error) {

	res.StatusCode = http.StatusPaymentRequired
	// Without a node the challenge is still vetted, for the invoice's
	// own network, so that a preview or a refusal needs no node.
	network, err := c.nodeNetwork(ctx)
	if err != nil && !errors.Is(err, ErrNoNode) && !opts.NoPay {
		return offer{}, paymentFailed(fmt.Errorf("unable to reach the "+
			"paying node: %w", err))
	}
	if err != nil {
		network = ""
	}

	o, err := c.vetOffer(h, opts.PreferScheme, opts.Session, network,
		opts.MaxCostSat,
		opts.MaxInvoiceExpiry, c.now())
	if o.invoice.AmountMsat > 0 {
		res.InvoiceAmountSat = o.amountSat()
		res.MaxCostSats = opts.MaxCostSat
	}
	if o.bolt11() != "" {
		res.Invoice = o.bolt11()
		res.PaymentHash = o.invoice.PaymentHash.String()
		res.PaymentScheme = o.scheme.Name()
	}
	if opts.NoPay {
		// A preview shows the price even when it is above the cost
		// cap: the caller decides. Other refusals stand.
		if err == nil || errors.Is(err, ErrOverBudget) {
			return offer{}, errPreview
		}
	}
	if err != nil {
		return offer{}, err
	}
	if c.Node == nil {
		return offer{}, ErrNoNode
	}
	return o, nil
}

// recordPending records the payment of o as pending, within the spending
// caps, before anything is paid: a run killed after this point leaves a
// record the next run resumes instead of paying again.
func (c *Client) recordPending(ctx context.Context, opts Options,
	origin string, o offer) error {

	return c.recordPendingReturn(ctx, opts, origin, o, "")
}

// recordPendingReturn is recordPending with a session open's return
// invoice, kept with the pending deposit.
func (c *Client) recordPendingReturn(ctx context.Context, opts Options,
	origin string, o offer, returnInvoice string) error {

	release, err := c.checkBudget(ctx, opts, origin, o)
	if err != nil {
		return err
	}
	defer release()

	p := tokens.Pending{
		PaymentHash: o.invoice.PaymentHash,
		Origin:      origin,
		Scheme:      string(o.scheme),
		Invoice:     o.bolt11(),
		AmountMsat:  o.invoice.AmountMsat,
		MaxFeeMsat:  opts.MaxFeeSat * 1000,
		CreatedAt:   c.now(),
		Kind:        o.kind,

		ReturnInvoice: returnInvoice,
	}
	if o.session != nil && o.kind == "" {
		p.URL = opts.URL
	}
	if o.scheme == SchemePayment {
		// The challenge, to be echoed in the credential by whichever
		// run finds the payment settled.
		ch, err := json.Marshal(o.paymentChallenge())
		if err != nil {
			return err
		}
		p.Challenge = string(ch)
	} else if p.Macaroon, err = o.challenge.Macaroon.MarshalBinary(); err != nil {
		return err
	}
	return c.Store.AddPending(ctx, p)
}

// pay pays the recorded invoice of o. A payment lnd already has (paid or
// in flight) is tracked, not made again; a failed one, or one the node
// refused before starting it, is forgotten; one whose outcome is not
// known stays pending for the next run.
func (c *Client) pay(ctx context.Context, opts Options, origin string,
	o offer) (lightning.Payment, error) {

	hash := o.invoice.PaymentHash
	c.logf("paying %s (max fee %d sat) for %s", formatMsat(
		o.invoice.AmountMsat), opts.MaxFeeSat, origin)
	p, err := c.Node.Pay(ctx, lightning.PayRequest{
		PaymentRequest: o.bolt11(),
		MaxFeeSat:      opts.MaxFeeSat,
		Timeout:        opts.PaymentTimeout,
	})
	if errors.Is(err, lightning.ErrAlreadyPaid) ||
		errors.Is(err, lightning.ErrPaymentInFlight) {
		p, err = c.Node.TrackPayment(ctx, hash)
	}
	switch {
	case errors.Is(err, lightning.ErrPaymentNotStarted):
		if derr := c.Store.DropPending(ctx, hash); derr != nil {
			return p, derr
		}
		return p, paymentFailed(fmt.Errorf("%w; nothing was paid and "+
			"nothing stays pending", err))

	case errors.Is(err, lightning.ErrPaymentFailed):
		if derr := c.Store.DropPending(ctx, hash); derr != nil {
			return p, derr
		}
		return p, paymentFailed(err)

	case err != nil || p.Status != lightning.PaymentSucceeded:
		if err == nil {
			err = fmt.Errorf("payment is %s", p.Status)
		}
		return p, paymentFailed(fmt.Errorf("%w; it stays recorded as "+
			"pending, and the next fetch for %s resumes it instead of "+
			"paying again", err, origin))
	}
	return p, nil
}

// storeToken turns the pending payment of o, now settled, into the
// origin's token and the ledger's entry, and reports it in res.
func (c *Client) storeToken(ctx context.Context, origin string, o offer,
	p lightning.Payment, res *Result) error {

	if _, err := c.Store.CompletePending(ctx, o.invoice.PaymentHash,
		p.Preimage, p.FeeMsat, c.now()); err != nil {
		return err
	}
	res.L402Paid = true
	res.L402AmountSat = o.amountSat()
	res.L402FeeSat = tokens.MsatToSat(p.FeeMsat)
	res.PaymentScheme = SchemeL402.Name()
	c.logf("paid; token stored for %s", origin)
	return nil
}

// completeCharge turns the pending charge of o, now settled, into the
// ledger's entry (a charge is no token), reports it in res, and returns
// its credential, to be sent once.
func (c *Client) completeCharge(ctx context.Context, origin string,
	o offer, p lightning.Payment, res *Result) (paidCharge, error) {

	if _, err := c.Store.CompletePending(ctx, o.invoice.PaymentHash,
		p.Preimage, p.FeeMsat, c.now()); err != nil {
		return paidCharge{}, err
	}
	res.L402Paid = true
	res.L402AmountSat = o.amountSat()
	res.L402FeeSat = tokens.MsatToSat(p.FeeMsat)
	res.PaymentScheme = SchemePayment.Name()
	c.logf("paid the Payment charge for %s; sending its credential once",
		origin)
	return newPaidCharge(o.charge, p.Preimage)
}

// retryWithToken sends the request again with the token just bought. A
// 402 to it is an error; the token is kept.
func (c *Client) retryWithToken(ctx context.Context, opts Options,
	origin string) (*http.Response, error) {

	auth, err := c.originAuth(ctx, origin)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, opts, tokenCredential(auth))
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
func (c *Client) tryNewerToken(ctx context.Context, opts Options,
	origin string, sent credential) (*http.Response, bool, error) {

	auth, err := c.originAuth(ctx, origin)
	if err != nil || auth == "" || auth == sent.value {
		return nil, false, err
	}

	c.logf("using the token another l402 process bought for %s", origin)
	resp, err := c.send(ctx, opts, tokenCredential(auth))
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusPaymentRequired {
		resp.Body.Close()
		return nil, false, nil
	}
	return resp, true, nil
}

// tryResumedCharge sends the request with the charge a pending payment
// turned out to have paid (an earlier run's), once. ok reports whether
// the response is final; a 402 means the server did not take it, and the
// charge is spent all the same.
func (c *Client) tryResumedCharge(ctx context.Context, opts Options,
	pc paidCharge, res *Result) (*http.Response, bool, error) {

	c.logf("sending the Payment charge %s an earlier run paid", pc.hash)
	resp, err := c.sendCharge(ctx, opts, pc, res)
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusPaymentRequired {
		resp.Body.Close()
		c.logf("the server did not take the Payment charge %s; it is "+
			"not sent again", pc.hash)
		return nil, false, nil
	}
	return resp, true, nil
}
