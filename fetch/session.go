package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/tokens"
)

// ErrNoReturnInvoice: a session was asked for and the paying node cannot
// make the amountless invoice its refund is paid to (a pay-only
// macaroon): nothing was paid.
var ErrNoReturnInvoice = fault.New("no_return_invoice", "the paying "+
	"node cannot make a session's return invoice")

// ReturnInvoiceExpiry is how long a session's return invoice stays
// payable: the refund of a close (or of the server's idle timeout) must
// find it open.
const ReturnInvoiceExpiry = 30 * 24 * time.Hour

// SessionResult is what --json says of the origin's session after a
// fetch: its id (the deposit's payment hash, not a secret), its state,
// the balance as fetch reckons it, the price of a request and every
// deposit paid into it; and what this fetch did with it.
type SessionResult struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	BalanceSat int64  `json:"balance_sat"`
	PriceSat   int64  `json:"price_sat"`
	DepositSat int64  `json:"deposit_sat"`

	// Opened, ToppedUp: this fetch paid the deposit that opened the
	// session, or a top-up.
	Opened   bool `json:"opened,omitempty"`
	ToppedUp bool `json:"topped_up,omitempty"`
}

// sessionResult reports the origin's stored session in res.
func (c *Client) sessionResult(ctx context.Context, origin string,
	res *Result) {

	s, err := c.Store.Session(ctx, origin)
	if err != nil {
		return
	}
	r := &SessionResult{ID: s.ID.String(), State: s.State,
		BalanceSat: s.BalanceSat, PriceSat: s.PriceSat,
		DepositSat: s.DepositSat}
	if res.Session != nil {
		r.Opened, r.ToppedUp = res.Session.Opened, res.Session.ToppedUp
	}
	res.Session = r
}

// offersSession says whether a 402 carries a lightning session challenge.
func offersSession(h http.Header) bool {
	chs, _ := mpp.ParseChallenges(h.Values("WWW-Authenticate"))
	for _, ch := range chs {
		if ch.Method == mpp.MethodLightning &&
			ch.Intent == mpp.IntentSession {
			return true
		}
	}
	return false
}

// freshSessionChallenge returns the first lightning session challenge of
// a 402, and false when it has none.
func freshSessionChallenge(h http.Header) (mpp.Challenge, bool) {
	chs, _ := mpp.ParseChallenges(h.Values("WWW-Authenticate"))
	for _, ch := range chs {
		if ch.Method == mpp.MethodLightning &&
			ch.Intent == mpp.IntentSession {
			return ch, true
		}
	}
	return mpp.Challenge{}, false
}

// vetSessionChallenge checks the first lightning session challenge of a
// 402 as a charge's (mpp.VetSession, then the deposit invoice exactly as
// an L402 one, held against the request): the deposit is the price, and
// must be within --max-cost.
func vetSessionChallenge(h http.Header, network string, maxCostSat int64,
	maxExpiry time.Duration, now time.Time) (offer, error) {

	ch, ok := freshSessionChallenge(h)
	if !ok {
		return offer{}, refused(ErrInvalidChallenge, "the server's 402 "+
			"offers no lightning session Payment challenge")
	}
	o, err := mpp.VetSession(ch, 1<<62, now)
	if err != nil {
		return offer{}, refused(ErrInvalidChallenge, "refusing the "+
			"Payment session challenge: %v", err)
	}
	inv, err := vetInvoice(o.Request.DepositInvoice, network, func(
		inv lightning.PayReq) error {

		err := o.CheckInvoice(inv.PaymentHash, inv.AmountMsat)
		if errors.Is(err, mpp.ErrHashMismatch) ||
			errors.Is(err, mpp.ErrRequestMismatch) {
			return refused(ErrInvalidInvoice, "refusing to pay the "+
				"deposit: %v", err)
		}
		return err
	}, maxCostSat, maxExpiry, now)
	if err != nil && inv == (lightning.PayReq{}) {
		return offer{}, err
	}
	return offer{scheme: SchemePayment, session: &o, invoice: inv}, err
}

// returnInvoice makes the amountless invoice of the buyer's node a
// session's refund is paid to, before anything is paid: a node that
// cannot make one (a pay-only macaroon) fails the fetch with nothing
// paid.
func (c *Client) returnInvoice(ctx context.Context, origin string) (string,
	error) {

	inv, err := c.Node.AddInvoice(ctx, lightning.InvoiceRequest{
		Memo:   "l402 session refund from " + origin,
		Expiry: ReturnInvoiceExpiry})
	if err != nil {
		return "", ErrNoReturnInvoice.Mark(fmt.Errorf("unable to make "+
			"the session's return invoice on the paying node (its "+
			"macaroon needs invoices:write: the l402-both or "+
			"buyer-sessions role, docs/bake.md); nothing was paid: %w",
			err))
	}
	return inv.PaymentRequest, nil
}

// openSession turns the paid deposit of o (pending, now settled) into the
// origin's session and sends the request with its open credential. A 402
// to it leaves the session stored, opening: a later fetch tries it with
// a bearer credential, and `l402 tokens close` can close it.
func (c *Client) openSession(ctx context.Context, target Options,
	origin string, o offer, p lightning.Payment, res *Result) (
	*http.Response, error) {

	if _, err := c.Store.CompletePending(ctx, o.invoice.PaymentHash,
		p.Preimage, p.FeeMsat, c.now()); err != nil {
		return nil, err
	}
	res.L402Paid = true
	res.L402AmountSat = o.amountSat()
	res.L402FeeSat = tokens.MsatToSat(p.FeeMsat)
	res.PaymentScheme = SchemePayment.Name()
	res.Session = &SessionResult{Opened: true}
	c.logf("paid the Payment session deposit for %s; opening the session",
		origin)
	s, err := c.Store.Session(ctx, origin)
	if err != nil {
		return nil, err
	}
	resp, err := c.sendSession(ctx, target, origin, &s, res)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusPaymentRequired {
		resp.Body.Close()
		return nil, ErrTokenRefused.Mark(fmt.Errorf("the server answered "+
			"402 to the open of the session it was just paid (session %s, "+
			"in the ledger); it stays stored: the next fetch of %s tries "+
			"it again, and l402 tokens close %s closes it", s.ID, origin,
			origin))
	}
	return resp, nil
}

// sessionCred returns the credential a request of the session goes with:
// the open while the server has not accepted it, else a bearer echoing
// the stored challenge; none when that challenge has expired (the 402
// then brings a fresh one).
func (c *Client) sessionCred(s tokens.Session) (credential, string,
	error) {

	var ch mpp.Challenge
	if err := json.Unmarshal([]byte(s.Challenge), &ch); err != nil {
		return credential{}, "", fmt.Errorf("the stored session "+
			"challenge for %s is damaged: %w", s.Origin, err)
	}
	if at, ok, err := ch.ExpiresAt(); err != nil || (ok &&
		!c.now().Before(at)) {
		return credential{}, "", nil
	}
	action := mpp.ActionBearer
	var (
		cred mpp.Credential
		err  error
	)
	if s.State == tokens.SessionOpening {
		action = mpp.ActionOpen
		cred, err = mpp.OpenCredential(ch, s.Preimage, s.ReturnInvoice)
	} else {
		cred, err = mpp.BearerCredential(ch, s.Preimage)
	}
	if err != nil {
		return credential{}, "", err
	}
	auth, err := cred.Authorization()
	if err != nil {
		return credential{}, "", err
	}
	// An open is claimed once at the server: like a charge, it follows
	// no redirect. A bearer pays each request it is sent with.
	return credential{field: cred.Field(), value: auth,
		charge: action == mpp.ActionOpen}, action, nil
}

// sendSession sends the request with the session's credential and, on an
// answer other than 402, records the draw (an open accepted, or a bearer
// served). A 402 is returned to the caller.
func (c *Client) sendSession(ctx context.Context, opts Options,
	origin string, s *tokens.Session, res *Result) (*http.Response, error) {

	cred, action, err := c.sessionCred(*s)
	if err != nil {
		return nil, err
	}
	res.PaymentScheme = SchemePayment.Name()
	if action == "" {
		c.logf("the stored session challenge for %s has expired; asking "+
			"for a fresh one", origin)
	} else {
		c.logf("sending the session %s (%s) to %s", s.ID, action, origin)
	}
	resp, err := c.send(ctx, opts, cred)
	if err != nil {
		return nil, err
	}
	c.logf("%s answered %s to the session", origin, resp.Status)
	if resp.StatusCode == http.StatusPaymentRequired || action == "" {
		return resp, nil
	}
	if action == mpp.ActionOpen {
		err = c.Store.SessionOpened(ctx, origin, s.ID, c.now())
	} else {
		err = c.Store.SessionDrawn(ctx, origin, s.ID, "", c.now())
	}
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if v := resp.Header.Get(mpp.HeaderReceipt); v != "" {
		if r, err := mpp.ParseReceipt(v); err == nil {
			res.PaymentReceipt = &r
		}
	}
	return resp, nil
}

// sessionRequest sends the request with the origin's stored session: a
// held top-up first, then the open or a bearer credential. A 402 it can
// answer is answered once each: with a fresh session challenge (the
// stored one expired, or the server no longer takes it), and, when the
// balance is short and the fetch asked for sessions, one top-up within
// the caps. The 402 it cannot answer is returned with its body read: the
// caller buys it as any 402 (the session, gone at the server, is
// forgotten first).
func (c *Client) sessionRequest(ctx context.Context, opts Options,
	origin string, s tokens.Session, res *Result) (*http.Response, []byte,
	error) {

	if s.TopUp != nil {
		if err := c.sendHeldTopUp(ctx, opts, origin, &s); err != nil {
			return nil, nil, err
		}
	}
	var retried, toppedUp bool
	for {
		resp, err := c.sendSession(ctx, opts, origin, &s, res)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode != http.StatusPaymentRequired {
			return resp, nil, nil
		}
		body := readPaywallBody(resp)
		resp.Body.Close()
		cond := mpp.ProblemCondition(body)
		fresh, ok := freshSessionChallenge(resp.Header)
		if ok {
			if b, err := json.Marshal(fresh); err == nil {
				s.Challenge = string(b)
				if err := c.Store.SetSessionChallenge(ctx, origin, s.ID,
					s.Challenge, c.now()); err != nil {
					return nil, nil, err
				}
			}
		}

		switch {
		case errors.Is(cond, mpp.ErrUnknownSession),
			errors.Is(cond, mpp.ErrSessionClosed):
			c.logf("%s no longer has the session %s (%v); forgetting it",
				origin, s.ID, cond)
			if err := c.Store.CloseSession(ctx, origin, s.ID,
				tokens.Refund{}, c.now()); err != nil {
				return nil, nil, err
			}
			res.Session = nil
			return resp, body, nil

		case errors.Is(cond, mpp.ErrInsufficient) && opts.Session &&
			!toppedUp && ok:
			toppedUp = true
			if err := c.Store.SessionShort(ctx, origin, s.ID,
				c.now()); err != nil {
				return nil, nil, err
			}
			if err := c.topUp(ctx, opts, origin, &s, resp.Header,
				res); err != nil {
				return nil, nil, err
			}
			continue

		case errors.Is(cond, mpp.ErrInsufficient):
			c.logf("the session %s for %s is spent; l402 fetch --session "+
				"tops it up", s.ID, origin)
			if err := c.Store.SessionShort(ctx, origin, s.ID,
				c.now()); err != nil {
				return nil, nil, err
			}
			return resp, body, nil

		case ok && !retried:
			// The stored challenge expired or the server no longer
			// takes it (an open it already accepted, say): once more,
			// with the fresh one, as a bearer.
			retried = true
			if s.State == tokens.SessionOpening {
				s.State = tokens.SessionOpen
			}
			continue
		}
		return resp, body, nil
	}
}

// topUp pays a fresh session challenge's deposit into the session, under
// the origin's lock and within the caps, through the pending record and
// the ledger, then sends its topUp credential. Another process's top-up,
// done while this one waited for the lock, is used instead.
func (c *Client) topUp(ctx context.Context, opts Options, origin string,
	s *tokens.Session, h http.Header, res *Result) error {

	network, err := c.nodeNetwork(ctx)
	if err != nil {
		return paymentFailed(fmt.Errorf("unable to reach the paying "+
			"node: %w", err))
	}
	o, err := vetSessionChallenge(h, network, opts.MaxCostSat,
		opts.MaxInvoiceExpiry, c.now())
	if err != nil {
		return err
	}
	unlock, err := c.Store.LockOrigin(ctx, origin)
	if err != nil {
		return err
	}
	defer unlock()
	now, err := c.Store.Session(ctx, origin)
	if err != nil {
		return err
	}
	if now.ID != s.ID {
		return ErrTokenRefused.Mark(fmt.Errorf("the session of %s "+
			"changed while this fetch waited for the lock", origin))
	}
	if now.DepositSat != s.DepositSat || now.TopUp != nil {
		c.logf("another l402 process topped up the session %s", s.ID)
		*s = now
		if s.TopUp != nil {
			return c.sendHeldTopUp(ctx, opts, origin, s)
		}
		return nil
	}

	o.kind = tokens.KindTopUp
	if err := c.recordPending(ctx, opts, origin, o); err != nil {
		return err
	}
	p, err := c.pay(ctx, opts, origin, o)
	if err != nil {
		return err
	}
	if _, err := c.Store.CompletePending(ctx, o.invoice.PaymentHash,
		p.Preimage, p.FeeMsat, c.now()); err != nil {
		return err
	}
	res.L402Paid = true
	res.L402AmountSat += o.amountSat()
	res.L402FeeSat += tokens.MsatToSat(p.FeeMsat)
	res.PaymentScheme = SchemePayment.Name()
	if res.Session == nil {
		res.Session = &SessionResult{}
	}
	res.Session.ToppedUp = true
	c.logf("paid a top-up of %s into the session %s", formatMsat(
		o.invoice.AmountMsat), s.ID)
	if *s, err = c.Store.Session(ctx, origin); err != nil {
		return err
	}
	return c.sendHeldTopUp(ctx, opts, origin, s)
}

// sendHeldTopUp sends the session's paid top-up with its topUp
// credential (the server answers it itself; the backend sees nothing),
// and records the answer: accepted, its amount joins the balance;
// refused or expired, it is forgotten (it stays in the ledger). A
// network error keeps it for the next fetch: a top-up is claimed once at
// the server, so sending it again is safe.
func (c *Client) sendHeldTopUp(ctx context.Context, opts Options,
	origin string, s *tokens.Session) error {

	t := s.TopUp
	var ch mpp.Challenge
	if err := json.Unmarshal([]byte(t.Challenge), &ch); err != nil {
		return fmt.Errorf("the held top-up's challenge is damaged: %w", err)
	}
	if at, ok, _ := ch.ExpiresAt(); ok && !c.now().Before(at) {
		c.logf("the top-up %s was paid, and its challenge expired at %s "+
			"before the server took it: it is lost (in the ledger)",
			t.Hash, ch.Expires)
		return c.reloadSession(ctx, origin, s, c.Store.DropTopUp(ctx,
			origin, t.Hash, c.now()))
	}
	cred, err := mpp.TopUpCredential(ch, s.ID, t.Preimage)
	if err != nil {
		return err
	}
	auth, err := cred.Authorization()
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, opts, credential{field: cred.Field(),
		value: auth})
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, otherPaywallMax))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		c.logf("%s took the top-up of %d sat into the session %s", origin,
			t.AmountSat, s.ID)
		return c.reloadSession(ctx, origin, s, c.Store.SessionToppedUp(ctx,
			origin, t.Hash, c.now()))
	case errors.Is(mpp.ProblemCondition(body), mpp.ErrReused):
		// Claimed already: by this store's own earlier send, whose
		// answer was lost.
		c.logf("%s already took the top-up %s", origin, t.Hash)
		return c.reloadSession(ctx, origin, s, c.Store.SessionToppedUp(ctx,
			origin, t.Hash, c.now()))
	}
	c.logf("%s refused the top-up %s (%s): it is lost (in the ledger)",
		origin, t.Hash, resp.Status)
	if err := c.reloadSession(ctx, origin, s, c.Store.DropTopUp(ctx,
		origin, t.Hash, c.now())); err != nil {
		return err
	}
	return ErrTokenRefused.Mark(fmt.Errorf("the server answered %s to "+
		"the top-up it was just paid (payment hash %s, in the ledger)",
		resp.Status, t.Hash))
}

// reloadSession reads the origin's session into s after err, the result
// of a change to it, when that succeeded.
func (c *Client) reloadSession(ctx context.Context, origin string,
	s *tokens.Session, err error) error {

	if err != nil {
		return err
	}
	now, err := c.Store.Session(ctx, origin)
	if err != nil {
		return err
	}
	*s = now
	return nil
}
