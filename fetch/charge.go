package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
)

// paidCharge is a Payment charge whose invoice is paid and whose
// credential has not been sent: it buys one request, and is sent once.
type paidCharge struct {
	cred    credential
	hash    l402.Hash
	expires time.Time // the challenge's; zero when it has none
}

// newPaidCharge builds the credential of a paid charge from the challenge
// it answers and the payment's preimage, which must be the request's.
func newPaidCharge(o mpp.Offer, preimage l402.Preimage) (paidCharge,
	error) {

	cred, err := o.Credential(preimage)
	if err != nil {
		return paidCharge{}, err
	}
	auth, err := cred.Authorization()
	if err != nil {
		return paidCharge{}, err
	}
	return paidCharge{cred: credential{field: cred.Field(), value: auth,
		charge: true}, hash: preimage.Hash(), expires: o.Expires}, nil
}

// resumedCharge builds the credential of a pending charge an earlier run
// paid, from the challenge recorded with it (its JSON).
func resumedCharge(challenge string, preimage l402.Preimage) (paidCharge,
	error) {

	var ch mpp.Challenge
	if err := json.Unmarshal([]byte(challenge), &ch); err != nil {
		return paidCharge{}, fmt.Errorf("the recorded Payment challenge "+
			"is damaged: %w", err)
	}
	return newPaidCharge(mpp.Offer{Challenge: ch,
		Expires: chargeExpiry(challenge)}, preimage)
}

// chargeExpiry returns when a recorded Payment challenge (its JSON)
// expires; zero when it has no expiry or does not decode.
func chargeExpiry(challenge string) time.Time {
	var ch mpp.Challenge
	if err := json.Unmarshal([]byte(challenge), &ch); err != nil {
		return time.Time{}
	}
	at, ok, err := ch.ExpiresAt()
	if err != nil || !ok {
		return time.Time{}
	}
	return at
}

// expired says whether the charge's challenge can no longer be presented.
func (pc paidCharge) expired(now time.Time) bool {
	return !pc.expires.IsZero() && !now.Before(pc.expires)
}

// chargeTarget returns the options of a charge's request: the request
// that got the 402, after any redirect (a charge pays for the resource
// that asked, and its credential follows no redirect), with the body only
// when the method is still the one asked for (a 303, or a 301 or 302 of a
// POST, turns it into a GET without a body).
func chargeTarget(opts Options, resp *http.Response) Options {
	if resp == nil || resp.Request == nil {
		return opts
	}
	method := opts.Method
	if method == "" {
		method = http.MethodGet
	}
	opts.URL = resp.Request.URL.String()
	if resp.Request.Method != method {
		opts.Method, opts.Body = resp.Request.Method, nil
	}
	return opts
}

// sendCharge sends the request with a paid charge's credential, once,
// and keeps the response's receipt in res. Nothing sends it again: a 429
// is not waited out, and a redirect goes without it.
func (c *Client) sendCharge(ctx context.Context, opts Options,
	pc paidCharge, res *Result) (*http.Response, error) {

	res.chargeSent = true
	res.PaymentScheme = SchemePayment.Name()
	resp, err := c.send(ctx, opts, pc.cred)
	if err != nil {
		return nil, err
	}
	c.logf("%s answered %s to the Payment credential", opts.URL,
		resp.Status)
	if resp.StatusCode != http.StatusPaymentRequired {
		c.keepReceipt(resp, pc, res)
	}
	return resp, nil
}

// retryWithCharge sends the request that got the 402 again with the
// charge just paid. A 402 to it is an error: the charge is spent, and
// never sent again.
func (c *Client) retryWithCharge(ctx context.Context, opts Options,
	pc paidCharge, res *Result) (*http.Response, error) {

	resp, err := c.sendCharge(ctx, opts, pc, res)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusPaymentRequired {
		resp.Body.Close()
		return nil, ErrTokenRefused.Mark(fmt.Errorf("the server "+
			"answered 402 to the Payment credential of the charge it "+
			"was just paid (payment hash %s, in the ledger); a charge "+
			"buys one request and is not sent again", pc.hash))
	}
	return resp, nil
}

// keepReceipt reads the Payment-Receipt of the response to a charge's
// credential (the first response, when redirects followed it) into res,
// and logs it. A missing or malformed receipt, or one for another
// payment, is logged and does not fail the fetch: the receipt is the
// server's word, the preimage is the proof.
func (c *Client) keepReceipt(resp *http.Response, pc paidCharge,
	res *Result) {

	first := resp
	for first.Request != nil && first.Request.Response != nil {
		first = first.Request.Response
	}
	v := first.Header.Get(mpp.HeaderReceipt)
	if v == "" {
		c.logf("no %s in the answer to the Payment credential",
			mpp.HeaderReceipt)
		return
	}
	r, err := mpp.ParseReceipt(v)
	if err != nil {
		c.logf("ignoring the %s: %v", mpp.HeaderReceipt, err)
		return
	}
	res.PaymentReceipt = &r
	c.logf("receipt: %s %s at %s, reference %s, challenge %s", r.Status,
		r.Method, r.Timestamp, r.Reference, r.ChallengeID)
	if r.Reference != pc.hash.String() {
		c.logf("the receipt's reference is not the payment hash %s",
			pc.hash)
	}
}

// answersCharge says whether resp answers a request that carried a
// Payment credential (the first request, when redirects followed): such
// a request is never sent again.
func answersCharge(resp *http.Response) bool {
	req := resp.Request
	for req != nil && req.Response != nil && req.Response.Request != nil {
		req = req.Response.Request
	}
	if req == nil {
		return false
	}
	for _, f := range []string{"Authorization",
		mpp.HeaderPaymentAuthorization} {
		for _, v := range req.Header.Values(f) {
			scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
			if strings.EqualFold(scheme, mpp.Scheme) {
				return true
			}
		}
	}
	return false
}
