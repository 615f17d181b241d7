package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// DefaultForgetWait is how long ForgetPending waits for a payment in
// flight to end before it leaves it pending.
const DefaultForgetWait = 5 * time.Second

// ForgetReport says what became of a pending payment that ForgetPending
// settled; its JSON field names are stable for agents.
type ForgetReport struct {
	PaymentHash string `json:"payment_hash"`
	Origin      string `json:"origin"`
	AmountSat   int64  `json:"amount_sat"`

	// Outcome is "forgotten" (the node says it failed, or has no record
	// of it: nothing was paid) or "completed" (the node says it
	// succeeded: it is now in the ledger and, for L402, the origin's
	// token; a Payment charge's credential is not sent by any run).
	Outcome string `json:"outcome"`

	// NodeStatus is what the node said: "not_found", "failed" or
	// "succeeded"; FailureReason is lnd's reason for a failed one.
	NodeStatus    string `json:"node_status"`
	FailureReason string `json:"failure_reason,omitempty"`

	// FeeSat is the fee a completed payment cost.
	FeeSat int64 `json:"fee_sat"`
}

// ForgetOptions are what `l402 tokens forget` asks: the pending payment
// and the store it is in, the fetch.yaml whose node is asked about it.
type ForgetOptions struct {
	// ConfigPath is fetch.yaml; "" is the default one.
	ConfigPath string

	Store *tokens.Store
	Hash  l402.Hash

	// Wait is how long a payment in flight is waited for; zero is
	// DefaultForgetWait.
	Wait time.Duration

	// Log receives each step; nil is silent.
	Log io.Writer

	// Node connects to the config's paying node; nil is Config.Node.
	Node func(cfg Config, log io.Writer) (lightning.Node, error)
}

// Forget settles one pending payment with the node of fetch.yaml, as
// ForgetPending does.
func Forget(ctx context.Context, opts ForgetOptions) (ForgetReport, error) {
	cfg, err := RunOptions{ConfigPath: opts.ConfigPath}.config()
	if err != nil {
		return ForgetReport{}, err
	}
	// The pending payment is looked up before any node is dialed.
	if _, err := opts.Store.PendingPayment(ctx, opts.Hash); err != nil {
		return ForgetReport{}, err
	}
	node, err := RunOptions{Node: opts.Node, Log: opts.Log}.node(cfg)
	if err != nil {
		return ForgetReport{}, err
	}
	if node != nil {
		defer node.Close()
	}
	c := &Client{Node: node, Store: opts.Store, Log: opts.Log}
	return c.ForgetPending(ctx, opts.Hash, opts.Wait)
}

// ForgetPending asks the node what became of the pending payment of hash
// and settles it: forgotten when the node says it failed or has no record
// of it, turned into the token when it succeeded. One in flight (waited
// for up to wait) or one the node cannot be asked about stays pending,
// with ErrStillPending. It holds the origin's lock, so that it never
// forgets a payment another fetch is making.
func (c *Client) ForgetPending(ctx context.Context, hash l402.Hash,
	wait time.Duration) (ForgetReport, error) {

	if wait <= 0 {
		wait = DefaultForgetWait
	}
	p, err := c.Store.PendingPayment(ctx, hash)
	if err != nil {
		return ForgetReport{}, err
	}
	if c.Node == nil {
		return ForgetReport{}, fmt.Errorf("only the node that made the "+
			"pending payment %s can say what became of it: %w", hash,
			ErrNoNode)
	}

	unlock, err := c.Store.LockOrigin(ctx, p.Origin)
	if err != nil {
		return ForgetReport{}, err
	}
	defer unlock()
	// Another fetch may have settled it while this waited for the lock.
	if p, err = c.Store.PendingPayment(ctx, hash); err != nil {
		return ForgetReport{}, fmt.Errorf("%w (another l402 process "+
			"settled it)", err)
	}
	rep := ForgetReport{PaymentHash: hash.String(), Origin: p.Origin,
		AmountSat: tokens.MsatToSat(p.AmountMsat)}

	c.logf("asking the node what became of the pending payment %s for %s",
		hash, p.Origin)
	tctx, cancel := context.WithTimeout(ctx, wait)
	pay, err := c.Node.TrackPayment(tctx, hash)
	cancel()

	switch {
	case errors.Is(err, lightning.ErrPaymentNotFound):
		rep.Outcome, rep.NodeStatus = "forgotten", "not_found"

	case err != nil:
		return rep, ErrStillPending.Mark(fmt.Errorf("unable to ask the "+
			"node about the pending payment %s, which stays pending: %w",
			hash, err))

	case pay.Status == lightning.PaymentFailed:
		rep.Outcome, rep.NodeStatus = "forgotten", "failed"
		rep.FailureReason = pay.FailureReason

	case pay.Status == lightning.PaymentSucceeded:
		if _, err := c.Store.CompletePending(ctx, hash, pay.Preimage,
			pay.FeeMsat, c.now()); err != nil {
			return rep, err
		}
		rep.Outcome, rep.NodeStatus = "completed", "succeeded"
		rep.FeeSat = tokens.MsatToSat(pay.FeeMsat)
		if p.Scheme == tokens.SchemePayment {
			// A charge buys one request, which no run will now send.
			c.logf("the node paid it: the Payment charge for %s is in "+
				"the ledger, and its credential is not sent", p.Origin)
			return rep, nil
		}
		c.logf("the node paid it: the token for %s is stored", p.Origin)
		return rep, nil

	default:
		return rep, ErrStillPending.Mark(fmt.Errorf("the node says the "+
			"payment %s for %s is %s: it may still settle, so it stays "+
			"pending; run again later (a fetch of %s resumes it too)",
			hash, p.Origin, pay.Status, p.Origin))
	}

	if err := c.Store.DropPending(ctx, hash); err != nil {
		return rep, err
	}
	c.logf("forgot the pending payment %s: the node says %s", hash,
		rep.NodeStatus)
	return rep, nil
}
