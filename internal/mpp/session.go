package mpp

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
)

// SessionOffer is a session challenge a buyer has vetted: its decoded
// request, the unit price and the deposit to pay. The deposit invoice is
// vetted by the caller with a full BOLT11 decode, as a charge's, and
// then held against the offer with CheckInvoice.
type SessionOffer struct {
	Challenge Challenge
	Request   SessionRequest

	// PriceSat is the price of one request; DepositSat the deposit
	// invoice's amount, and PaymentHash its payment hash (the session
	// id, when the deposit opens a session).
	PriceSat    int64
	DepositSat  int64
	PaymentHash l402.Hash

	// Expires is the challenge's expiry; zero when it has none.
	Expires time.Time
}

// VetSession checks a Payment challenge a buyer might open or top up a
// session with at time now: the lightning method and the session intent,
// a request that decodes with a deposit invoice and amount, a unit price
// no higher than the deposit, an expiry (when present) still ahead, and
// a deposit no higher than maxSat.
func VetSession(ch Challenge, maxSat int64, now time.Time) (SessionOffer,
	error) {

	if ch.Method != MethodLightning || ch.Intent != IntentSession {
		return SessionOffer{}, fmt.Errorf("%w: method %q intent %q, "+
			"want %s %s", ErrUnsupported, truncate(ch.Method),
			truncate(ch.Intent), MethodLightning, IntentSession)
	}
	if err := ch.complete(); err != nil {
		return SessionOffer{}, err
	}
	req, err := DecodeSessionRequest(ch.Request)
	if err != nil {
		return SessionOffer{}, err
	}
	if req.DepositInvoice == "" || req.DepositAmount == "" {
		return SessionOffer{}, fmt.Errorf("%w: the session request has "+
			"no deposit invoice", ErrMalformed)
	}
	o := SessionOffer{Challenge: ch, Request: req}
	o.PriceSat, _ = ParseAmount(req.Amount)
	o.DepositSat, _ = ParseAmount(req.DepositAmount)
	o.PaymentHash, _ = parseHash(req.PaymentHash)
	if o.PriceSat > o.DepositSat {
		return SessionOffer{}, fmt.Errorf("%w: a request costs %d sat, "+
			"more than the deposit of %d sat", ErrRequestMismatch,
			o.PriceSat, o.DepositSat)
	}

	expires, ok, err := ch.ExpiresAt()
	if err != nil {
		return SessionOffer{}, err
	}
	if ok {
		o.Expires = expires
		if !now.Before(expires) {
			return o, fmt.Errorf("%w at %s", ErrExpired, ch.Expires)
		}
	}
	if o.DepositSat > maxSat {
		return o, fmt.Errorf("%w: a deposit of %d sat is above %d sat",
			ErrOverBudget, o.DepositSat, maxSat)
	}
	return o, nil
}

// CheckInvoice holds the decoded deposit invoice's payment hash and
// amount against the offer's request: the hash must be the request's
// (ErrHashMismatch), the amount exactly the deposit (ErrRequestMismatch).
func (o SessionOffer) CheckInvoice(hash l402.Hash, amountMsat int64) error {
	if hash != o.PaymentHash {
		return fmt.Errorf("%w: the deposit invoice's is %s, the "+
			"request's %s", ErrHashMismatch, hash, o.PaymentHash)
	}
	if amountMsat != o.DepositSat*1000 {
		return fmt.Errorf("%w: the deposit invoice asks %d msat, the "+
			"request %d sat", ErrRequestMismatch, amountMsat, o.DepositSat)
	}
	return nil
}

// OpenCredential returns the credential that opens a session with ch's
// paid deposit and names the buyer's amountless return invoice.
func OpenCredential(ch Challenge, deposit l402.Preimage,
	returnInvoice string) (Credential, error) {

	return NewCredential(ch, SessionPayload{Action: ActionOpen,
		Preimage: deposit.String(), ReturnInvoice: returnInvoice})
}

// BearerCredential returns the credential that pays a request from the
// session id (the hash of preimage), echoing any session challenge of the
// service.
func BearerCredential(ch Challenge, preimage l402.Preimage) (Credential,
	error) {

	return NewCredential(ch, SessionPayload{Action: ActionBearer,
		SessionID: preimage.Hash().String(), Preimage: preimage.String()})
}

// TopUpCredential returns the credential that adds ch's paid deposit
// (topUp) to the session id.
func TopUpCredential(ch Challenge, id l402.Hash,
	topUp l402.Preimage) (Credential, error) {

	return NewCredential(ch, SessionPayload{Action: ActionTopUp,
		SessionID: id.String(), TopUpPreimage: topUp.String()})
}

// CloseCredential returns the credential that closes the session of
// preimage, echoing any session challenge of the service.
func CloseCredential(ch Challenge, preimage l402.Preimage) (Credential,
	error) {

	return NewCredential(ch, SessionPayload{Action: ActionClose,
		SessionID: preimage.Hash().String(), Preimage: preimage.String()})
}

// ProblemCondition reads a problem body (RFC 9457) a server sent with a
// refusal and returns the condition its type names (ErrInsufficient for
// lightning/insufficient-balance, ...), or nil when the body is no
// problem of the Payment scheme's types. It is the buyer's reading of
// ProblemFor.
func ProblemCondition(body []byte) error {
	var p struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &p) != nil || p.Type == "" {
		return nil
	}
	for _, pr := range problems {
		if p.Type == ProblemBase+pr.slug {
			return pr.err
		}
	}
	return nil
}

// CloseReply is the body of a session close's answer
// (draft-lightning-session-00): {"status":"closed","refundSats":N,
// "refundStatus":"succeeded|failed|skipped"}.
type CloseReply struct {
	Status       string `json:"status"`
	RefundSats   int64  `json:"refundSats"`
	RefundStatus string `json:"refundStatus"`
}
