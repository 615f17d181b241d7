package serve

import (
	"context"
	"encoding/hex"
	"net/http"

	"github.com/l402/l402/internal/fault"
)

// MeterBackend is what the meter stage (meter.go) asks about a metered
// service: the built-in meter (a service's meter block, meter_builtin.go,
// balances in serve's database) or an external price server speaking
// Aperture's extended pricesrpc (dynamicprice.metered, meter_pricer.go).
// A service is metered by exactly one of them.
//
// A bundle is bought once and drawn down per request. Its life, in the
// order the stage calls the methods:
//
//  1. Quote prices the next bundle for an unpaid request (the 402's
//     price);
//  2. Book books the bundle under each key the 402 minted (its L402 token
//     ID, and the payment hash of a Payment charge offer in the same
//     402), before the 402 is sent: a 402 whose booking failed is never
//     sent, since its payment would buy nothing;
//  3. Authorize admits each paid request against its key's balance with
//     a reservation, or refuses it with the price of the next bundle (the
//     stage then answers with a fresh 402 at that price); the first
//     admission of a booked key is its activation (the credential proves
//     the payment);
//  4. Settle debits the usage the response reported and releases the
//     reservation, exactly once per admitted request, whatever became of
//     the response (complete, abandoned, a backend error).
//
// A Payment session is its own balance, in serve's session store: for a
// request drawn on a session, QuoteSession prices the request (the draw
// the session pays before the request is proxied) and SettleSession
// returns what it really cost, from the response's tail; the stage then
// refunds the difference to the session, or draws the rest.
//
// Business refusals are not errors: an error is a backend that cannot
// answer, and the stage answers 503 (never lets the request through
// unmetered). Every method may be called concurrently, by several
// replicas at once for the built-in meter.
type MeterBackend interface {
	// Quote returns the price in sats of one bundle for req (the model
	// its body names, say). It must be above zero: a metered service is
	// never free. An error that wraps ErrMeterRequest refuses the
	// request itself (400: a model the seller does not sell); any other
	// is a backend that cannot answer.
	Quote(ctx context.Context, req *MeterRequest) (int64, error)

	// Book books a bundle of priceSat, quoted for req, under key, as a
	// 402 is minted; the stage calls it once for each key of the 402.
	// Booking one key twice is not an error and books nothing more.
	Book(ctx context.Context, req *MeterRequest, key MeterKey,
		priceSat int64) error

	// Authorize admits req against key's balance, holding a reservation
	// (the request's max_tokens, else an estimate) that concurrent
	// requests cannot also be admitted against. A key that is unknown,
	// exhausted or short of the reservation is refused, with the price
	// of the next bundle when the backend knows it (0: the stage calls
	// Quote). An error that wraps ErrMeterRequest refuses the request
	// itself (400: a reservation no bundle could hold).
	Authorize(ctx context.Context, req *MeterRequest, key MeterKey) (
		Admission, error)

	// Settle debits what the response cost, from res (the usage object
	// its tail carries), releases the admission's reservation, and
	// returns the balance after. The rules every backend keeps: a
	// response of no bytes costs nothing; one that carries no usage (an
	// abandoned stream, a compressed tail) settles at the reservation,
	// never at zero; the debit rounds up. It runs after the response,
	// with a context that the client going away does not cancel.
	Settle(ctx context.Context, req *MeterRequest, key MeterKey,
		a Admission, res *MeterResponse) (Settlement, error)

	// QuoteSession prices one request drawn on a Payment session: the
	// estimate the session pays before the request is proxied, and the
	// unit price of a session challenge. An error that wraps
	// ErrMeterRequest refuses the request (400).
	QuoteSession(ctx context.Context, req *MeterRequest) (SessionQuote,
		error)

	// SettleSession returns what a request drawn on session really cost,
	// in sats, from res; estimateSat is what the session paid before it
	// was proxied (QuoteSession's price). A response that carries no
	// usage costs the estimate; one of no bytes costs nothing.
	SettleSession(ctx context.Context, req *MeterRequest, session [32]byte,
		estimateSat int64, res *MeterResponse) (int64, error)

	// Close releases the backend's connections, after a drain.
	Close() error
}

// ErrMeterRequest is wrapped by a MeterBackend's Quote or QuoteSession when
// the request itself cannot be metered (it names a model the seller does
// not sell, or its body is not one the meter reads): the stage answers 400
// with the error's text.
var ErrMeterRequest = fault.New("meter_request",
	"the request cannot be metered")

// MeterKeyKind is what names a balance.
type MeterKeyKind uint8

const (
	// MeterToken keys a bundle by the ID of the L402 token that bought
	// it (the 32 random bytes of the macaroon's identifier).
	MeterToken MeterKeyKind = iota + 1

	// MeterPayment keys a bundle by the payment hash of the Payment
	// charge that bought it (the sha256 of the credential's preimage).
	MeterPayment

	// MeterSession keys a request drawn on a Payment session by the
	// session's ID; the session's own balance pays.
	MeterSession
)

// MeterKey names the balance a metered request draws on.
type MeterKey struct {
	Kind MeterKeyKind
	ID   [32]byte
}

// IsZero reports whether k names no balance.
func (k MeterKey) IsZero() bool { return k.Kind == 0 }

// Hex is the key's ID in lower-case hex: what Aperture's pricesrpc calls
// the token_id of an L402 token (and of a charge, its payment hash).
func (k MeterKey) Hex() string { return hex.EncodeToString(k.ID[:]) }

// String is the key with its kind, as serve's database and logs name it:
// "token:<hex>", "payment:<hex>" or "session:<hex>".
func (k MeterKey) String() string {
	switch k.Kind {
	case MeterToken:
		return "token:" + k.Hex()
	case MeterPayment:
		return "payment:" + k.Hex()
	case MeterSession:
		return "session:" + k.Hex()
	}
	return ""
}

// MeterBodyBytes is how many leading bytes of a request body an external
// price server is sent (Aperture's prefix, internal/prices.MaxBodyBytes).
// The meter itself reads the model and the output bound from the whole
// body (up to MeterMaxBodyBytes): a key the backend reads must not hide
// beyond what the meter read.
const MeterBodyBytes = 64 << 10

// MeterMaxBodyBytes bounds a metered request's body, which is read whole
// before the request is admitted (and then proxied as it came): a larger
// one cannot be metered (400).
const MeterMaxBodyBytes = 4 << 20

// MeterRequest is what a backend sees of a metered request.
type MeterRequest struct {
	// Service is the name of the service the request is for.
	Service string

	// HTTP is the request. Its Body replays Body before the rest: the
	// backend must not read it.
	HTTP *http.Request

	// Body is at most MeterBodyBytes of the request body, and
	// Truncated says whether there was more.
	Body      []byte
	Truncated bool

	// Model and MaxTokens are what the body names ("" and 0 when it
	// names none, or is not JSON), read once by the stage.
	Model     string
	MaxTokens int64
}

// Admission is a backend's answer to Authorize.
type Admission struct {
	// Allowed admits the request.
	Allowed bool

	// Reservation is what the admission holds, in the backend's units
	// (msat for the built-in meter, Aperture's reserved_estimate for a
	// price server); Settle gets it back to release exactly that.
	Reservation int64

	// RemainingMsat is the key's balance in msat as the request is
	// admitted (or refused), before its own reservation and not counting
	// what requests in flight will draw; it is the L402-Balance-Remaining
	// header of the response. RemainingKnown is false when the backend
	// cannot tell (the header is then left out).
	RemainingMsat  int64
	RemainingKnown bool

	// NextPriceSat is, on a refusal, the price of the next bundle (0:
	// the stage asks Quote); Reason says why, for the logs.
	NextPriceSat int64
	Reason       string

	// ref is what the built-in meter needs to find the reservation
	// again, and activated says that this was the bundle's first
	// admission (for the metrics).
	ref       int64
	activated bool
}

// Settlement is what Settle did.
type Settlement struct {
	// DebitedMsat is what the request cost the balance; UnbilledMsat
	// what it cost beyond what the balance still held (the balance never
	// goes below zero).
	DebitedMsat  int64
	UnbilledMsat int64

	// Tokens is the usage the response reported (0 when it reported
	// none), for the metrics.
	Tokens int64

	// RemainingMsat is the balance after; RemainingKnown as in
	// Admission.
	RemainingMsat  int64
	RemainingKnown bool
}

// SessionQuote is a backend's price of one request drawn on a session.
type SessionQuote struct {
	// UnitPriceSat is the request's price, above zero.
	UnitPriceSat int64

	// DepositSat, when above zero, is the deposit a session challenge
	// asks; zero leaves it at the unit price times
	// authenticator.sessiondepositmultiplier.
	DepositSat int64
}

// MeterResponse is what the proxy saw of a metered response.
type MeterResponse struct {
	// Status is the status code sent (0: none was, the backend never
	// answered).
	Status int

	// ContentType and ContentEncoding are the response's header values.
	ContentType     string
	ContentEncoding string

	// Tail is the last dynamicprice.usagetailbytes bytes of the body
	// (16 KiB unless set, at most 1 MiB), and Bytes how many bytes the
	// body had in all.
	Tail  []byte
	Bytes int64

	// Complete says that the backend's body was read to its end and
	// every byte of it was written to the client; false for a stream the
	// client abandoned or the backend broke off.
	Complete bool
}

// Usage tail sizes: dynamicprice.usagetailbytes's default and cap.
const (
	DefaultUsageTailBytes = 16 << 10
	MaxUsageTailBytes     = 1 << 20
)

// HeaderBalanceRemaining is the response header of every response on a
// metered service that knows its key's balance: the balance in msat, as
// the request was admitted (docs/metering.md). Aperture sends no such
// header.
const HeaderBalanceRemaining = "L402-Balance-Remaining"
