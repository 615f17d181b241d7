package fetch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// resumePending settles the origin's pending payments, if any, under the
// origin's lock, and returns the Payment charge one of them paid, if any,
// for the fetch to send once.
func (c *Client) resumePending(ctx context.Context, origin string,
	opts Options) (*paidCharge, error) {

	if c.Store == nil {
		return nil, nil // a preview without a store has nothing pending
	}
	pend, err := c.Store.PendingFor(ctx, origin)
	if err != nil || len(pend) == 0 {
		return nil, err
	}
	unlock, err := c.Store.LockOrigin(ctx, origin)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return c.resumeLocked(ctx, origin, opts)
}

// resumeLocked asks the node what became of each pending payment of the
// origin: a settled one becomes the token (L402) or a charge whose
// credential is returned, to be sent once (Payment), a failed one is
// forgotten, a never-made one is paid again (forgotten when it, or its
// Payment challenge, has expired or the node refuses it at once), and
// one still in flight is waited for up to the payment timeout. A preview
// (NoPay) leaves a never-made one pending rather than pay it. The
// origin's lock must be held.
func (c *Client) resumeLocked(ctx context.Context, origin string,
	opts Options) (*paidCharge, error) {

	pend, err := c.Store.PendingFor(ctx, origin)
	if err != nil || len(pend) == 0 {
		return nil, err
	}
	if c.Node == nil {
		return nil, paymentFailed(fmt.Errorf("a payment for %s is pending "+
			"and only the node that made it can say what became of it: %w",
			origin, ErrNoNode))
	}
	c.contacted = true
	var charge *paidCharge
	for _, p := range pend {
		c.logf("resuming the pending payment %s for %s", p.PaymentHash,
			origin)
		tctx, cancel := context.WithTimeout(ctx, opts.PaymentTimeout)
		pay, err := c.Node.TrackPayment(tctx, p.PaymentHash)
		cancel()

		if errors.Is(err, lightning.ErrPaymentNotFound) {
			if opts.NoPay {
				// A preview never pays: the payment stays pending
				// for a run that may.
				continue
			}
			pay, err = c.payPendingAgain(ctx, p, opts)
		}

		switch {
		case errors.Is(err, errPendingExpired),
			errors.Is(err, lightning.ErrPaymentNotStarted):
			// Never started, and it can no longer be paid, or the
			// node refuses to: forget it.
			c.logf("forgetting the pending payment %s: %v", p.PaymentHash,
				err)
			err = c.Store.DropPending(ctx, p.PaymentHash)

		case err != nil:
			return nil, paymentFailed(fmt.Errorf("unable to learn what "+
				"became of the pending payment %s: %w", p.PaymentHash,
				err))

		case pay.Status == lightning.PaymentSucceeded:
			_, err = c.Store.CompletePending(ctx, p.PaymentHash,
				pay.Preimage, pay.FeeMsat, c.now())
			// A session's deposit became its session (or its held
			// top-up), which the fetch sends; a charge is sent once.
			if err == nil && p.Scheme == tokens.SchemePayment &&
				!tokens.IsSessionChallenge(p.Challenge) {
				charge = c.resumeCharge(p, pay.Preimage, charge)
			}

		case pay.Status == lightning.PaymentFailed:
			err = c.Store.DropPending(ctx, p.PaymentHash)

		default:
			return nil, paymentFailed(fmt.Errorf("the payment %s for %s "+
				"is still in flight; run again later to finish it",
				p.PaymentHash, origin))
		}
		if err != nil {
			return nil, err
		}
	}
	return charge, nil
}

// resumeCharge returns the charge a settled pending Payment payment paid,
// to be sent once by this fetch, unless its challenge has expired (the
// server would refuse it) or the fetch already has one to send (one
// request carries one charge). A charge left unsent is logged: it is in
// the ledger, and no run sends it.
func (c *Client) resumeCharge(p tokens.Pending, preimage l402.Preimage,
	have *paidCharge) *paidCharge {

	pc, err := resumedCharge(p.Challenge, preimage)
	switch {
	case err != nil:
		c.logf("the Payment charge %s was paid, but its credential "+
			"cannot be built: %v", p.PaymentHash, err)
	case pc.expired(c.now()):
		c.logf("the Payment charge %s was paid, and its challenge "+
			"expired at %s before its credential was sent: it is not sent",
			p.PaymentHash, pc.expires.UTC().Format(time.RFC3339))
	case have != nil:
		c.logf("the Payment charge %s was paid and is not sent: this "+
			"fetch sends the charge %s", p.PaymentHash, have.hash)
	default:
		return &pc
	}
	return have
}

// errPendingExpired says a pending payment was never made and its invoice
// has expired, so it can never be.
var errPendingExpired = errors.New("pending invoice expired unpaid")

// payPendingAgain pays a pending payment the node has no record of (a run
// killed before lnd took it, or lnd's records lost). Paying the same
// invoice again is safe: one payment hash is paid at most once. Once the
// invoice has expired it can no longer be paid, and errPendingExpired
// says so; a node that refuses it at once returns ErrPaymentNotStarted.
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
	if p.Scheme == tokens.SchemePayment {
		// A charge whose challenge has expired buys nothing: the
		// server would refuse its credential.
		if at := chargeExpiry(p.Challenge); !at.IsZero() &&
			!c.now().Before(at) {
			return lightning.Payment{}, errPendingExpired
		}
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
