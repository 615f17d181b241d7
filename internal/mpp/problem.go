package mpp

import (
	"encoding/json"
	"errors"
	"net/http"
)

// ProblemContentType is the media type of an RFC 9457 problem body.
const ProblemContentType = "application/problem+json"

// ProblemBase is the base of the scheme's problem type URIs
// (draft-httpauth-payment-01, as Aperture v0.5.0 uses it).
const ProblemBase = "https://paymentauth.org/problems/"

// Problem is an RFC 9457 problem details body, with the scheme's
// challengeId member.
type Problem struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Status      int    `json:"status"`
	Detail      string `json:"detail,omitempty"`
	ChallengeID string `json:"challengeId,omitempty"`
}

// PaymentRequired returns the body of a 402 that asks for payment.
func PaymentRequired(detail string) Problem {
	return Problem{Type: ProblemBase + "payment-required",
		Title: "Payment Required", Status: http.StatusPaymentRequired,
		Detail: detail}
}

// problems maps each refusal to its draft-httpauth-payment-01 problem
// type: every one is a 402 with a fresh challenge, except an unsupported
// method or intent (400). The first match wins: a refusal that wraps two
// conditions gets the first one's type.
var problems = []struct {
	err    error
	slug   string
	title  string
	status int
}{
	{ErrMalformed, "malformed-credential", "Malformed Payment Credential",
		http.StatusPaymentRequired},
	{ErrUnsupported, "method-unsupported", "Payment Method Unsupported",
		http.StatusBadRequest},
	{ErrWrongRealm, "invalid-challenge", "Invalid Payment Challenge",
		http.StatusPaymentRequired},
	{ErrTampered, "invalid-challenge", "Invalid Payment Challenge",
		http.StatusPaymentRequired},
	{ErrReused, "invalid-challenge", "Invalid Payment Challenge",
		http.StatusPaymentRequired},
	{ErrExpired, "payment-expired", "Payment Expired",
		http.StatusPaymentRequired},
	{ErrBadPreimage, "verification-failed", "Payment Verification Failed",
		http.StatusPaymentRequired},
	{ErrWrongResource, "invalid-challenge", "Invalid Payment Challenge",
		http.StatusPaymentRequired},

	// The session's conditions have draft-lightning-session-00's types,
	// under its lightning/ path.
	{ErrInsufficient, "lightning/insufficient-balance",
		"Insufficient Balance", http.StatusPaymentRequired},
	{ErrUnknownSession, "lightning/session-not-found",
		"Session Not Found", http.StatusPaymentRequired},
	{ErrSessionClosed, "lightning/session-closed", "Session Closed",
		http.StatusPaymentRequired},
	{ErrBadReturnInvoice, "lightning/invalid-return-invoice",
		"Invalid Return Invoice", http.StatusPaymentRequired},
}

// ProblemFor returns the problem body for a refused credential. Its detail
// is the refusal's sentinel text, never err's own text, which may carry
// what the client sent. An error of no refusal is a verification failure.
func ProblemFor(err error) Problem {
	for _, p := range problems {
		if errors.Is(err, p.err) {
			return Problem{Type: ProblemBase + p.slug, Title: p.title,
				Status: p.status, Detail: p.err.Error()}
		}
	}
	return Problem{Type: ProblemBase + "verification-failed",
		Title:  "Payment Verification Failed",
		Status: http.StatusPaymentRequired}
}

// JSON returns the body.
func (p Problem) JSON() []byte {
	b, _ := json.Marshal(p)
	return b
}
