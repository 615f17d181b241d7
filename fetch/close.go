package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/tokens"
)

// CloseReport is what `l402 tokens close` says of a session it closed;
// its JSON field names are stable for agents. RefundSat and RefundStatus
// are the server's word (its close answer); the refund is paid to the
// session's return invoice, on the buyer's node, whose payment hash is
// ReturnPaymentHash.
type CloseReport struct {
	Origin            string `json:"origin"`
	SessionID         string `json:"session_id"`
	Status            string `json:"status"`
	RefundSat         int64  `json:"refund_sat"`
	RefundStatus      string `json:"refund_status"`
	ReturnPaymentHash string `json:"return_payment_hash,omitempty"`

	// BalanceSat is the balance fetch reckoned before the close.
	BalanceSat int64 `json:"balance_sat"`
}

// CloseSession closes the origin's stored session at the server (a close
// credential, sent to the URL the session was opened for, which serve
// answers itself) and forgets it: the refund the server reports paid is
// a ledger row of kind refund, which no cap counts. A session the server
// no longer has (closed idle, say) is forgotten too, with status
// "gone". A stored challenge past its expiry is replaced by the fresh
// one of a 402 first; the close is sent once more at most.
func (c *Client) CloseSession(ctx context.Context, origin string) (
	CloseReport, error) {

	unlock, err := c.Store.LockOrigin(ctx, origin)
	if err != nil {
		return CloseReport{}, err
	}
	defer unlock()
	s, err := c.Store.Session(ctx, origin)
	if err != nil {
		return CloseReport{}, err
	}
	rep := CloseReport{Origin: origin, SessionID: s.ID.String(),
		BalanceSat: s.BalanceSat}
	opts := Options{URL: s.URL, NoRedirects: true}
	// A deposit whose outcome is not known may yet pay the server, and
	// a paid top-up not yet sent is not in the server's balance: closed
	// first, either would be lost (the refund counts neither).
	if pend, err := c.Store.PendingFor(ctx, origin); err != nil {
		return rep, err
	} else if len(pend) > 0 {
		return rep, ErrStillPending.Mark(fmt.Errorf("a payment for %s is "+
			"pending (%s); l402 fetch of the origin settles it, then close "+
			"the session", origin, pend[0].PaymentHash))
	}
	if s.TopUp != nil {
		if err := c.sendHeldTopUp(ctx, opts, origin, &s); err != nil {
			return rep, err
		}
		rep.BalanceSat = s.BalanceSat
	}
	if nets, err := lightning.InvoiceNetworks(s.ReturnInvoice); err == nil {
		if inv, err := lightning.DecodeInvoice(s.ReturnInvoice,
			nets[0]); err == nil {
			rep.ReturnPaymentHash = inv.PaymentHash.String()
		}
	}

	for attempt := 0; attempt < 2; attempt++ {
		cred, err := c.closeCred(s)
		if err != nil {
			return rep, err
		}
		resp, err := c.send(ctx, opts, cred)
		if err != nil {
			return rep, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, otherPaywallMax))
		resp.Body.Close()
		c.logf("%s answered %s to the close", origin, resp.Status)

		switch {
		case resp.StatusCode == http.StatusOK && cred.value != "":
			return c.closed(ctx, s, rep, resp, body)

		case resp.StatusCode == http.StatusPaymentRequired:
			cond := mpp.ProblemCondition(body)
			if cond == mpp.ErrUnknownSession || cond == mpp.ErrSessionClosed {
				rep.Status, rep.RefundStatus = "gone", "unknown"
				c.logf("%s no longer has the session %s (%v); forgetting it",
					origin, s.ID, cond)
				return rep, c.Store.CloseSession(ctx, origin, s.ID,
					tokens.Refund{}, c.now())
			}
			fresh, ok := freshSessionChallenge(resp.Header)
			if !ok {
				break
			}
			b, err := json.Marshal(fresh)
			if err != nil {
				return rep, err
			}
			s.Challenge = string(b)
			if err := c.Store.SetSessionChallenge(ctx, origin, s.ID,
				s.Challenge, c.now()); err != nil {
				return rep, err
			}
			continue
		}
		return rep, ErrTokenRefused.Mark(fmt.Errorf("%s answered %s to "+
			"the close of the session %s; it stays stored", origin,
			resp.Status, s.ID))
	}
	return rep, ErrTokenRefused.Mark(fmt.Errorf("%s did not take the close "+
		"of the session %s with a fresh challenge; it stays stored",
		origin, s.ID))
}

// closeCred returns the close credential of the session, echoing its
// stored challenge; none when that challenge has expired (the 402 then
// brings a fresh one).
func (c *Client) closeCred(s tokens.Session) (credential, error) {
	var ch mpp.Challenge
	if err := json.Unmarshal([]byte(s.Challenge), &ch); err != nil {
		return credential{}, fmt.Errorf("the stored session challenge for "+
			"%s is damaged: %w", s.Origin, err)
	}
	if at, ok, err := ch.ExpiresAt(); err != nil || (ok &&
		!c.now().Before(at)) {
		return credential{}, nil
	}
	cred, err := mpp.CloseCredential(ch, s.Preimage)
	if err != nil {
		return credential{}, err
	}
	auth, err := cred.Authorization()
	if err != nil {
		return credential{}, err
	}
	return credential{field: cred.Field(), value: auth, charge: true}, nil
}

// closed records the server's answer to a close: the session forgotten
// and, when the server says it refunded, the refund in the ledger.
func (c *Client) closed(ctx context.Context, s tokens.Session,
	rep CloseReport, resp *http.Response, body []byte) (CloseReport,
	error) {

	var reply mpp.CloseReply
	if err := json.Unmarshal(body, &reply); err != nil ||
		reply.Status != "closed" {
		return rep, ErrTokenRefused.Mark(fmt.Errorf("%s answered the close "+
			"of the session %s with %q, not a close; it stays stored",
			s.Origin, s.ID, truncateBody(body)))
	}
	rep.Status, rep.RefundSat = reply.Status, reply.RefundSats
	rep.RefundStatus = reply.RefundStatus
	if v := resp.Header.Get(mpp.HeaderReceipt); v != "" {
		if r, err := mpp.ParseReceipt(v); err == nil {
			c.logf("receipt: %s %s at %s, reference %s", r.Status,
				r.Method, r.Timestamp, r.Reference)
		}
	}
	var refund tokens.Refund
	if reply.RefundStatus == mpp.RefundSucceeded && reply.RefundSats > 0 {
		refund.AmountSat = reply.RefundSats
		if h, err := l402.ParseHash(rep.ReturnPaymentHash); err == nil {
			refund.PaymentHash = h
		}
	}
	c.logf("closed the session %s at %s: refund %d sat, %s", s.ID,
		s.Origin, reply.RefundSats, reply.RefundStatus)
	return rep, c.Store.CloseSession(ctx, s.Origin, s.ID, refund, c.now())
}

// truncateBody returns the start of a body, for a message.
func truncateBody(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

// CloseTimeout is the least time a close's answer is waited for: serve
// answers once it has paid the refund, which it gives a minute.
const CloseTimeout = 90 * time.Second

// CloseSession is `l402 tokens close ORIGIN` as a surface asks it: it
// closes the origin's session in store over a transport of o's TLS
// options (Insecure, CACert, Timeout). The paying node is not needed:
// the refund goes to the return invoice the open named.
func CloseSession(ctx context.Context, o RunOptions, store *tokens.Store,
	origin string) (CloseReport, error) {

	// serve answers a close once the refund is paid, which may take
	// its minute.
	timeout := max(or(o.Timeout, DefaultTimeout), CloseTimeout)
	transport, err := o.transport(timeout)
	if err != nil {
		return CloseReport{}, err
	}
	c := &Client{HTTP: &http.Client{Transport: transport}, Store: store,
		Log: o.Log}
	return c.CloseSession(ctx, origin)
}
