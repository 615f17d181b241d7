package mpp

import "github.com/l402/l402/internal/fault"

// The conditions of the Payment scheme. A server refuses a credential with
// one of the first seven, or one of the server's own below them
// (ProblemFor names the RFC 9457 body of each); a client refuses a
// challenge with the others, or with ErrExpired, ErrUnsupported or
// ErrMalformed. Errors wrap them, so that errors.Is
// tells them apart whatever the message says.
var (
	// ErrMalformed: a credential (or a challenge's request) that cannot
	// be decoded, or that lacks a required field.
	ErrMalformed = fault.New("payment_malformed",
		"malformed Payment credential")

	// ErrUnsupported: a method, intent or currency other than the
	// Lightning ones in sats.
	ErrUnsupported = fault.New("payment_unsupported",
		"unsupported Payment method, intent or currency")

	// ErrWrongRealm: a credential for a challenge of another realm.
	ErrWrongRealm = fault.New("payment_wrong_realm",
		"Payment credential for another realm")

	// ErrTampered: the challenge echoed in a credential is not one this
	// server made: its id is not the HMAC of its fields.
	ErrTampered = fault.New("payment_tampered",
		"Payment challenge was not issued by this server or was altered")

	// ErrExpired: the challenge has expired.
	ErrExpired = fault.New("payment_expired", "Payment challenge expired")

	// ErrBadPreimage: the preimage does not hash to the payment hash.
	ErrBadPreimage = fault.New("payment_bad_preimage",
		"preimage does not match the payment hash")

	// ErrReused: a charge that already bought a request. The package
	// cannot know it (the claim is the store's); the store returns it.
	ErrReused = fault.New("payment_reused", "Payment charge already used")

	// ErrWrongResource: a credential for a challenge the server made for
	// another service (or, dynamically priced, another path): the id
	// binds the resource in the challenge's opaque data.
	ErrWrongResource = fault.New("payment_wrong_resource",
		"Payment challenge for another service or resource")

	// ErrInsufficient: a session whose balance is below the price of the
	// request. The store returns it.
	ErrInsufficient = fault.New("payment_insufficient",
		"session balance below the price of the request")

	// ErrUnknownSession: a session id the server does not know. The
	// store returns it.
	ErrUnknownSession = fault.New("payment_session_unknown",
		"unknown Payment session")

	// ErrSessionClosed: a session that was closed, or expired idle. The
	// store returns it.
	ErrSessionClosed = fault.New("payment_session_closed",
		"Payment session closed or expired")

	// ErrBadReturnInvoice: an open whose return invoice the server could
	// not pay a refund to: not BOLT11 for its network, with an amount,
	// or expired.
	ErrBadReturnInvoice = fault.New("payment_bad_return_invoice",
		"unusable return invoice for the session's refund")

	// ErrNoChallenge: a response carries no usable Payment challenge.
	ErrNoChallenge = fault.New("payment_no_challenge",
		"no usable Payment challenge in WWW-Authenticate")

	// ErrHashMismatch: the invoice's payment hash is not the one the
	// challenge's request names.
	ErrHashMismatch = fault.New("payment_hash_mismatch",
		"invoice payment hash differs from the Payment request's")

	// ErrRequestMismatch: the invoice's amount or network is not the
	// one the challenge's request names.
	ErrRequestMismatch = fault.New("payment_request_mismatch",
		"invoice differs from the Payment request")

	// ErrOverBudget: the request's amount is above the buyer's cap.
	ErrOverBudget = fault.New("payment_over_budget",
		"Payment amount above the budget")
)
