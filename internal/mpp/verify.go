package mpp

import (
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
)

// Verifier checks credentials against the challenges a server made: its
// realm, and the secret it binds challenge ids with (the same on every
// replica, kept in the store).
type Verifier struct {
	Secret []byte
	Realm  string
}

// ChargeGrant is what a verified charge credential proves: that the
// invoice with PaymentHash was paid for the challenge ChallengeID. The
// server must still claim PaymentHash, once and atomically, before it
// serves the request (a second claim is ErrReused); the claim need not be
// kept after Expires, when the challenge can no longer be presented.
type ChargeGrant struct {
	PaymentHash l402.Hash
	ChallengeID string
	Expires     time.Time
	AmountSat   int64
	Request     ChargeRequest

	// Opaque is the challenge's opaque data, for the server to check
	// what it bound there (the service the challenge was for).
	Opaque map[string]string
}

// Charge verifies a lightning charge credential at time now: the method
// and intent, the realm, the id binding (so that no echoed field was
// changed), the expiry (which every challenge of this server carries),
// and that the preimage, 64 lower-case hex characters, hashes to the
// request's payment hash. It makes no Lightning call: the preimage is the
// proof of payment.
func (v Verifier) Charge(c Credential, now time.Time) (ChargeGrant, error) {
	expires, err := v.challenge(c.Challenge, IntentCharge, now)
	if err != nil {
		return ChargeGrant{}, err
	}
	req, err := DecodeChargeRequest(c.Challenge.Request)
	if err != nil {
		return ChargeGrant{}, err
	}
	hash, ok, err := req.PaymentHash()
	if err != nil {
		return ChargeGrant{}, err
	}
	if !ok {
		return ChargeGrant{}, fmt.Errorf("%w: the request names no "+
			"payment hash", ErrMalformed)
	}
	opaque, err := DecodeOpaque(c.Challenge.Opaque)
	if err != nil {
		return ChargeGrant{}, err
	}

	p, err := c.ChargePayload()
	if err != nil {
		return ChargeGrant{}, err
	}
	if err := checkPreimage(p.Preimage, hash); err != nil {
		return ChargeGrant{}, err
	}
	amount, _ := req.AmountSat()
	return ChargeGrant{PaymentHash: hash, ChallengeID: c.Challenge.ID,
		Expires: expires, AmountSat: amount, Request: req,
		Opaque: opaque}, nil
}

// SessionGrant is what a verified session credential proves. For open
// and topUp the deposit invoice with DepositHash was paid: the server
// claims DepositHash once, like a charge, then opens the session (open:
// SessionID is DepositHash, refunds go to ReturnInvoice) or adds
// DepositSat to it (topUp). For bearer and close the holder knows the
// session's preimage: the server checks that the session is open, then
// draws UnitPriceSat from it (bearer) or closes it and refunds the rest
// (close).
type SessionGrant struct {
	Action       string
	SessionID    l402.Hash
	ChallengeID  string
	Expires      time.Time
	UnitPriceSat int64

	// DepositHash and DepositSat are the paid deposit of open and topUp.
	DepositHash l402.Hash
	DepositSat  int64

	// ReturnInvoice is open's invoice for the refund, to be checked by
	// the server (a BOLT11 invoice without an amount, on its network,
	// not expired).
	ReturnInvoice string

	Request SessionRequest
	Opaque  map[string]string
}

// Session verifies a lightning session credential at time now: the
// challenge as for a charge, then the action's proof. open and topUp must
// echo a challenge with a deposit invoice and amount, and prove its
// payment (the preimage of the request's payment hash); bearer and close
// prove the session (sha256 of the preimage is the session id).
func (v Verifier) Session(c Credential, now time.Time) (SessionGrant,
	error) {

	expires, err := v.challenge(c.Challenge, IntentSession, now)
	if err != nil {
		return SessionGrant{}, err
	}
	req, err := DecodeSessionRequest(c.Challenge.Request)
	if err != nil {
		return SessionGrant{}, err
	}
	opaque, err := DecodeOpaque(c.Challenge.Opaque)
	if err != nil {
		return SessionGrant{}, err
	}
	p, err := c.SessionPayload()
	if err != nil {
		return SessionGrant{}, err
	}
	price, _ := ParseAmount(req.Amount)
	g := SessionGrant{Action: p.Action, ChallengeID: c.Challenge.ID,
		Expires: expires, UnitPriceSat: price, Request: req,
		Opaque: opaque}

	switch p.Action {
	case ActionOpen, ActionTopUp:
		if req.DepositInvoice == "" || req.DepositAmount == "" {
			return SessionGrant{}, fmt.Errorf("%w: %s needs a "+
				"challenge with a deposit invoice", ErrMalformed,
				p.Action)
		}
		g.DepositHash, _ = parseHash(req.PaymentHash)
		g.DepositSat, _ = ParseAmount(req.DepositAmount)
		preimage := p.Preimage
		if p.Action == ActionTopUp {
			preimage = p.TopUpPreimage
			if g.SessionID, err = parseHash(p.SessionID); err != nil {
				return SessionGrant{}, fmt.Errorf("sessionId: %w",
					err)
			}
		} else {
			g.SessionID = g.DepositHash
			g.ReturnInvoice = p.ReturnInvoice
			if g.ReturnInvoice == "" {
				return SessionGrant{}, fmt.Errorf("%w: open has "+
					"no returnInvoice", ErrMalformed)
			}
		}
		if err := checkPreimage(preimage, g.DepositHash); err != nil {
			return SessionGrant{}, err
		}

	case ActionBearer, ActionClose:
		if g.SessionID, err = parseHash(p.SessionID); err != nil {
			return SessionGrant{}, fmt.Errorf("sessionId: %w", err)
		}
		if err := checkPreimage(p.Preimage, g.SessionID); err != nil {
			return SessionGrant{}, err
		}

	default:
		return SessionGrant{}, fmt.Errorf("%w: session action %q",
			ErrUnsupported, truncate(p.Action))
	}
	return g, nil
}

// challenge checks the echoed challenge of a credential for intent:
// method and intent, realm, id binding, then expiry; it returns the
// expiry.
func (v Verifier) challenge(ch Challenge, intent string,
	now time.Time) (time.Time, error) {

	if ch.Method != MethodLightning || ch.Intent != intent {
		return time.Time{}, fmt.Errorf("%w: method %q intent %q, want "+
			"%s %s", ErrUnsupported, truncate(ch.Method),
			truncate(ch.Intent), MethodLightning, intent)
	}
	if ch.Realm != v.Realm {
		return time.Time{}, fmt.Errorf("%w: realm %q", ErrWrongRealm,
			truncate(ch.Realm))
	}
	if err := VerifyID(v.Secret, ch); err != nil {
		return time.Time{}, err
	}

	// Every challenge this server makes carries an expiry, which the id
	// binds: one without is not ours, and would be valid forever.
	expires, ok, err := ch.ExpiresAt()
	switch {
	case err != nil:
		return time.Time{}, err
	case !ok:
		return time.Time{}, fmt.Errorf("%w: the challenge has no "+
			"expiry", ErrTampered)
	case !now.Before(expires):
		return time.Time{}, fmt.Errorf("%w at %s", ErrExpired,
			ch.Expires)
	}
	return expires, nil
}

// checkPreimage checks that preimage, 64 lower-case hex characters,
// hashes to hash.
func checkPreimage(preimage string, hash l402.Hash) error {
	h, err := parseHash(preimage)
	if err != nil {
		return fmt.Errorf("preimage: %w", err)
	}
	if l402.Preimage(h).Hash() != hash {
		return fmt.Errorf("%w %s", ErrBadPreimage, hash)
	}
	return nil
}
