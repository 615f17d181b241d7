package fetch

import (
	"errors"
	"fmt"
	"strings"
)

// Limit names one of the limits a fetch keeps to. A message about a limit
// names it through its Limit, so that each surface can call it what its
// users set: the CLI its flag (--max-cost), an MCP tool its argument.
type Limit int

// The limits of a fetch.
const (
	LimitNone Limit = iota

	// LimitCost is the most to pay for one token.
	LimitCost

	// LimitFee is the most routing fee of one payment.
	LimitFee

	// LimitTotal caps the spending of any 24 hours, all origins.
	LimitTotal

	// LimitOrigin caps the spending of any 24 hours at one origin.
	LimitOrigin

	// LimitPaymentTimeout is how long a payment may take.
	LimitPaymentTimeout

	// LimitTimeout bounds connecting and waiting for response headers.
	LimitTimeout

	// LimitInvoiceExpiry is the longest an invoice may stay payable
	// from now: a seller's far expiry would keep a payment that is not
	// made pending, to be paid again, until then.
	LimitInvoiceExpiry
)

// String returns the limit's own name, the one a message uses when the
// surface gives none.
func (l Limit) String() string {
	switch l {
	case LimitCost:
		return "max cost"
	case LimitFee:
		return "max fee"
	case LimitTotal:
		return "max total"
	case LimitOrigin:
		return "the per-origin cap"
	case LimitPaymentTimeout:
		return "payment timeout"
	case LimitTimeout:
		return "timeout"
	case LimitInvoiceExpiry:
		return "max invoice expiry"
	}
	return "no limit"
}

// limitText is the text of an error about a limit, written for any name
// of the limit.
type limitText func(name string) string

// textFor returns a limitText that fills format's first %s with the
// limit's name and the rest with args.
func textFor(format string, args ...any) limitText {
	return func(name string) string {
		return fmt.Sprintf(format, append([]any{name}, args...)...)
	}
}

// BadLimit is a limit given a value it cannot have (a negative amount, a
// timeout that is not positive). errors.Is(err, ErrBadOptions) holds.
type BadLimit struct {
	Limit Limit
	text  limitText
}

// badLimit returns a BadLimit whose message is format with the limit's
// name in its first %s.
func badLimit(l Limit, format string, args ...any) error {
	return &BadLimit{Limit: l, text: textFor(format, args...)}
}

// Error implements error.
func (b *BadLimit) Error() string { return b.text(b.Limit.String()) }

// Unwrap returns ErrBadOptions, the condition.
func (b *BadLimit) Unwrap() error { return ErrBadOptions }

// limitError is an error whose message names a limit, and can be written
// with another name for it.
type limitError interface {
	error
	limit() Limit
	named(name string) string
}

// limit implements limitError.
func (b *BadLimit) limit() Limit { return b.Limit }

// named implements limitError.
func (b *BadLimit) named(name string) string { return b.text(name) }

// limit implements limitError.
func (r *Refusal) limit() Limit { return r.Limit }

// named implements limitError: a refusal about no limit has one text.
func (r *Refusal) named(name string) string {
	if r.text == nil {
		return r.Error()
	}
	return r.text(name)
}

// NameLimits returns err with the limit its message names, if any, called
// names[limit] instead of its own name: the CLI passes its flag names, so
// that "price 80 sat is above max cost 50 sat" reads "... above --max-cost
// 50 sat". A limit names leaves out keeps its own name. errors.Is,
// errors.As and the condition's code see through the result.
func NameLimits(err error, names map[Limit]string) error {
	var le limitError
	if !errors.As(err, &le) || names[le.limit()] == "" {
		return err
	}
	msg := strings.Replace(err.Error(), le.Error(),
		le.named(names[le.limit()]), 1)
	return &renamed{err: err, msg: msg}
}

// renamed is an error with another message, its chain unchanged.
type renamed struct {
	err error
	msg string
}

// Error implements error.
func (r *renamed) Error() string { return r.msg }

// Unwrap returns the error renamed.
func (r *renamed) Unwrap() error { return r.err }
