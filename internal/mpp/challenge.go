package mpp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/l402/l402/internal/httpauth"
)

const (
	// Scheme is the HTTP authentication scheme.
	Scheme = "Payment"

	// MethodLightning is the payment method of BOLT11 invoices
	// (draft-lightning-charge).
	MethodLightning = "lightning"

	// IntentCharge is a one-time payment for one request.
	IntentCharge = "charge"

	// IntentSession is a prepaid balance that requests draw down
	// (draft-lightning-session).
	IntentSession = "session"

	// CurrencySat is the one currency of the Lightning method.
	CurrencySat = "sat"

	// HeaderReceipt is the response header of a receipt.
	HeaderReceipt = "Payment-Receipt"

	// HeaderPaymentAuthorization is the field a challenge may select for
	// its credential with header="Payment-Authorization"
	// (draft-httpauth-payment-01) instead of Authorization.
	HeaderPaymentAuthorization = "Payment-Authorization"
)

// Challenge is one Payment challenge: the auth-params of a
// WWW-Authenticate field, and the same fields echoed in a credential's
// "challenge" object (the JSON names are the parameter names). Every value
// is kept exactly as it was on the wire, since the id binds those bytes.
type Challenge struct {
	// ID binds the other fields: ChallengeID computes it.
	ID string `json:"id"`

	// Realm is the protection space.
	Realm string `json:"realm"`

	// Method is the payment method, "lightning".
	Method string `json:"method"`

	// Intent is "charge" or "session".
	Intent string `json:"intent"`

	// Request is the base64url of the JCS JSON of a ChargeRequest or a
	// SessionRequest.
	Request string `json:"request"`

	// Description is for display only; the id does not bind it.
	Description string `json:"description,omitempty"`

	// Digest binds a request body (RFC 9530), when present.
	Digest string `json:"digest,omitempty"`

	// Opaque is the base64url of a JCS JSON object of strings that the
	// server defines and the client returns unchanged.
	Opaque string `json:"opaque,omitempty"`

	// Expires is when the challenge expires, in RFC 3339.
	Expires string `json:"expires,omitempty"`

	// Header, when set, is "Payment-Authorization": the field the
	// credential must be sent in (draft-httpauth-payment-01).
	Header string `json:"header,omitempty"`
}

// FormatExpires writes an expiry as the challenge's expires parameter:
// RFC 3339 in UTC, to the second.
func FormatExpires(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// ExpiresAt returns when the challenge expires, and false when it carries
// no expiry.
func (c Challenge) ExpiresAt() (time.Time, bool, error) {
	if c.Expires == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339, c.Expires)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: expires %q is not "+
			"RFC 3339", ErrMalformed, truncate(c.Expires))
	}
	return t, true, nil
}

// params returns the challenge's auth-params in the order they are
// written: the required ones as Aperture v0.5.0 orders them, then the
// optional ones that are set.
func (c Challenge) params() [][2]string {
	out := [][2]string{{"id", c.ID}, {"realm", c.Realm},
		{"method", c.Method}, {"intent", c.Intent},
		{"request", c.Request}}
	for _, p := range [][2]string{{"expires", c.Expires},
		{"digest", c.Digest}, {"description", c.Description},
		{"opaque", c.Opaque}, {"header", c.Header}} {
		if p[1] != "" {
			out = append(out, p)
		}
	}
	return out
}

// WWWAuthenticate returns the challenge as a WWW-Authenticate field value,
// every parameter a quoted-string:
// Payment id="..", realm="..", method="..", intent="..", request="..", ...
func (c Challenge) WWWAuthenticate() (string, error) {
	if err := c.complete(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(Scheme)
	for i, p := range c.params() {
		q, err := httpauth.Quote(p[1])
		if err != nil {
			return "", fmt.Errorf("%s: %w", p[0], err)
		}
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p[0])
		b.WriteByte('=')
		b.WriteString(q)
	}
	return b.String(), nil
}

// complete checks that the required parameters are there and that a
// header parameter selects the one field the draft allows.
func (c Challenge) complete() error {
	for _, p := range c.params()[:5] {
		if p[1] == "" {
			return fmt.Errorf("%w: no %s", ErrMalformed, p[0])
		}
	}
	if c.Header != "" && c.Header != HeaderPaymentAuthorization {
		return fmt.Errorf("%w: header %q is not %s", ErrUnsupported,
			truncate(c.Header), HeaderPaymentAuthorization)
	}
	return nil
}

// ParseChallenges finds every Payment challenge in the values of all the
// WWW-Authenticate fields of a response, in order, next to any L402 or
// other challenges: RFC 9110 auth-params, the scheme and the parameter
// names without regard to case, in any order, tokens or quoted-strings;
// unknown parameters are ignored. A challenge without one of id, realm,
// method, intent and request, with a repeated parameter, or with a header
// parameter other than Payment-Authorization is passed over. When none is
// usable the error (ErrNoChallenge) says why the first one was not.
func ParseChallenges(values []string) ([]Challenge, error) {
	var (
		out      []Challenge
		firstErr error
	)
	for _, ac := range httpauth.ParseChallenges(values) {
		if !strings.EqualFold(ac.Scheme, Scheme) {
			continue
		}
		c, err := challengeFrom(ac)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoChallenge, firstErr)
		}
		return nil, ErrNoChallenge
	}
	return out, nil
}

// challengeFrom builds a Challenge out of one parsed challenge.
func challengeFrom(ac httpauth.Challenge) (Challenge, error) {
	if ac.Err != nil {
		return Challenge{}, ac.Err
	}
	if ac.Params == nil {
		return Challenge{}, errors.New("a Payment challenge has " +
			"auth-params, not a token68")
	}
	p := ac.Params
	c := Challenge{
		ID: p["id"], Realm: p["realm"], Method: p["method"],
		Intent: p["intent"], Request: p["request"],
		Description: p["description"], Digest: p["digest"],
		Opaque: p["opaque"], Expires: p["expires"], Header: p["header"],
	}
	if _, ok := p["header"]; ok && c.Header == "" {
		return Challenge{}, fmt.Errorf("%w: empty header parameter",
			ErrUnsupported)
	}
	if err := c.complete(); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

// truncate shortens attacker-controlled text before it goes into an error
// message, so that a hostile header cannot flood the logs.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
