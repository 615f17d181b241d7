package serve

import (
	"context"
	"errors"
	"net/http"

	"github.com/l402/l402/internal/l402"
)

// Scheme is one HTTP authentication scheme serve sells access with. The
// authenticate stage asks each scheme in turn to verify the request's
// credential, and the first that finds a credential of its own decides;
// the challenge stage asks every scheme for its challenge and sends them
// all, in the order of the schemes; the proxy stage asks every scheme to
// strip its credential when a service sets stripcredential.
//
// L402 (with its LSAT alias and the header-less gRPC form) is l402Scheme;
// the IETF "Payment" scheme (MPP) is paymentScheme, its charge and, with
// sessions, its session intent. NewHandler builds the list, and each
// service's authscheme picks from it. A scheme's credential errors wrap
// the conditions rejectReason knows (l402.ErrCapabilityNotAllowed gets a
// 403 rather than a new challenge), or they count as "malformed".
type Scheme interface {
	// Authenticate verifies the credential of this scheme that h
	// carries against the target (service, capabilities, resource). It
	// returns an error wrapping ErrNoCredential when h carries none of
	// this scheme's, so that the next scheme is asked. It runs on every
	// paid request: it must not call the node, and should not allocate
	// more than it has to.
	Authenticate(ctx context.Context, h http.Header, t l402.Target) (Grant,
		error)

	// Challenge returns the WWW-Authenticate values that offer a token
	// of this scheme for o (minting its invoice).
	Challenge(ctx context.Context, o Offer) ([]string, error)

	// StripCredential removes this scheme's credentials from h, leaving
	// the values of other schemes (the backend's own) in place.
	StripCredential(h http.Header)

	// kind names the scheme in the metrics.
	kind() schemeKind
}

// schemeKind is which scheme a Scheme is, for the metrics' scheme label.
type schemeKind uint8

const (
	kindL402 schemeKind = iota
	kindPayment
	numKinds
)

// schemeNames are the metrics' names of the kinds.
var schemeNames = [numKinds]string{"l402", "payment"}

// Grant is what a scheme learned from a valid credential.
type Grant struct {
	// Key names the paid token for the rate limits, with a prefix of
	// the scheme's ("token:<id>" for L402): a paid request is limited
	// per token, not per client address.
	Key string

	// Forward, when set, is the one Authorization value the backend
	// gets in place of every copy of the credential the client sent;
	// empty leaves the headers as they came.
	Forward string

	// commit, when set, is what the credential still has to do before
	// the request may pass: claim a charge once, draw on a session. The
	// challenge stage calls it, after the rate limits, so that a request
	// they refuse spends nothing. An error wraps the condition when the
	// request may not pass.
	commit func(ctx context.Context) (committed, error)

	// meter is the balance the credential draws on at a metered service
	// (meter.go): its L402 token's ID, its charge's payment hash, its
	// session's ID.
	meter MeterKey

	// drawAt, set for a session's bearer credential, draws price from
	// the session instead of the challenge's unit price, and returns the
	// balance left: at a metered service, the meter stage draws each
	// request's own quote with it (and commit is not called). drawn is
	// what an open's commit drew, and left the balance it left.
	drawAt func(ctx context.Context, price int64) (committed, int64, error)
	drawn  int64
	left   int64

	// drawMore, set for a session's open, draws price more from the
	// session its commit opened, and returns the balance left: at a
	// metered service the open's request pays its own quote, which may
	// be above the unit price its challenge (another request's) named.
	drawMore func(ctx context.Context, price int64) (int64, error)
}

// committed is what a grant's commit did.
type committed struct {
	// receipt is the Payment-Receipt value of the response.
	receipt string

	// reply, when set, is the JSON body serve answers with itself (200):
	// the credential's action was the whole request (a session's topUp
	// or close), which no backend sees.
	reply []byte
}

// ErrNoCredential is what a Scheme's Authenticate returns (wrapped or not)
// when a request carries no credential of that scheme.
var ErrNoCredential = errors.New("no credential of this scheme")
