package fetch

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/l402/l402/internal/fault"
)

// The conditions a fetch can end in. Callers branch on them with
// errors.Is; internal/cli maps them to exit codes.
var (
	// ErrBadOptions: the options themselves are wrong (a bad URL, a
	// negative cap, an unreadable body file).
	ErrBadOptions = fault.New("bad_arguments", "bad fetch options")

	// The reasons of a Refusal.
	ErrOverBudget          = fault.New("over_budget", "over budget")
	ErrInvalidChallenge    = fault.New("invalid_challenge", "invalid challenge")
	ErrInvalidInvoice      = fault.New("invalid_invoice", "invalid invoice")
	ErrRedirectedChallenge = fault.New("redirected_challenge",
		"challenge after a redirect")

	// ErrPaymentFailed: the payment failed, or its outcome is not
	// known yet (it stays pending and the next fetch resumes it).
	ErrPaymentFailed = fault.New("payment_failed", "payment failed")

	// ErrStillPending: `tokens forget` left a pending payment pending,
	// because the node says it is in flight or cannot be asked.
	ErrStillPending = fault.New("payment_pending", "payment still pending")

	// ErrNoNode: a payment is needed and no node is configured.
	ErrNoNode = fault.New("no_node", "no Lightning node is configured "+
		"to pay with: add an lnd section (host, tlscertpath, "+
		"macaroonpath) or an lnc section (docs/lnc.md) to fetch.yaml, "+
		"or run l402 setup --role buyer")

	// ErrNetwork: the request did not reach the server, or the body
	// was cut.
	ErrNetwork = fault.New("network_error", "network error")

	// ErrUnauthorized, ErrRateLimited and ErrHTTPStatus are final
	// statuses >= 400: 401, 429 and any other.
	ErrUnauthorized = fault.New("unauthorized", "unauthorized")
	ErrRateLimited  = fault.New("rate_limited", "rate limited")
	ErrHTTPStatus   = fault.New("http_error", "HTTP error")

	// ErrTokenRefused: the server refused the token it had just sold.
	ErrTokenRefused = fault.New("token_refused", "token refused")

	// ErrBadRange: a continued download got another range than asked.
	ErrBadRange = fault.New("bad_range", "bad range")

	// ErrTooManyRedirects: the server redirected more times than the
	// options follow.
	ErrTooManyRedirects = fault.New("too_many_redirects",
		"too many redirects")
)

// Refusal is a challenge fetch will not pay, with its reason: one of
// ErrOverBudget, ErrInvalidChallenge, ErrInvalidInvoice and
// ErrRedirectedChallenge. An over-budget refusal names the cap in Limit
// (LimitCost, LimitTotal or LimitOrigin), and an invoice payable for too
// long LimitInvoiceExpiry, so that a surface can tell its user which
// setting to raise (NameLimits).
type Refusal struct {
	Reason *fault.Error
	Limit  Limit
	Err    error

	// text writes the message with another name for Limit.
	text limitText
}

// Error implements error.
func (r *Refusal) Error() string { return r.Err.Error() }

// Unwrap returns the reason and the detail, so that errors.Is(err,
// ErrOverBudget) holds for an over-budget refusal.
func (r *Refusal) Unwrap() []error { return []error{r.Reason, r.Err} }

// refused returns a Refusal for reason.
func refused(reason *fault.Error, format string, args ...any) error {
	return &Refusal{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// overBudget returns an over-budget Refusal about the cap l, its message
// format with the cap's name in the first %s.
func overBudget(l Limit, format string, args ...any) error {
	return overLimit(ErrOverBudget, l, format, args...)
}

// overLimit returns a Refusal for reason about the limit l, its message
// format with the limit's name in the first %s.
func overLimit(reason *fault.Error, l Limit, format string,
	args ...any) error {

	text := textFor(format, args...)
	return &Refusal{Reason: reason, Limit: l,
		Err: errors.New(text(l.String())), text: text}
}

// paymentFailed marks err as a payment that did not go through.
func paymentFailed(err error) error { return ErrPaymentFailed.Mark(err) }

// networkError marks err as a request that did not reach the server.
func networkError(err error) error { return ErrNetwork.Mark(err) }

// badOptions marks err as wrong options.
func badOptions(err error) error { return ErrBadOptions.Mark(err) }

// httpError is a final status >= 400; 401 and 429 have their own
// conditions.
func httpError(resp *http.Response, snippet string) error {
	err := fmt.Errorf("server answered %s: %s", resp.Status, snippet)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return ErrUnauthorized.Mark(err)
	case http.StatusTooManyRequests:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			err = fmt.Errorf("%w (Retry-After: %s)", err, ra)
		}
		return ErrRateLimited.Mark(err)
	}
	return ErrHTTPStatus.Mark(err)
}
