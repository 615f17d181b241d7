package fetch

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/tokens"
)

// Scheme is a payment scheme fetch pays a 402 with, by lnget's
// --prefer-scheme values: an L402 token, reused for the origin, or a
// Payment (MPP) charge, which buys one request.
type Scheme string

// The schemes fetch pays.
const (
	SchemeL402    Scheme = tokens.SchemeL402
	SchemePayment Scheme = tokens.SchemePayment
)

// ParseScheme reads a scheme preference without regard to case; "" is
// none (L402 when a 402 offers both).
func ParseScheme(s string) (Scheme, error) {
	switch sc := Scheme(strings.ToLower(strings.TrimSpace(s))); sc {
	case "", SchemeL402, SchemePayment:
		return sc, nil
	}
	return "", badOptions(fmt.Errorf("scheme %q is neither %s nor %s", s,
		SchemeL402, SchemePayment))
}

// Name returns the scheme as lnget's JSON writes payment_scheme: "L402"
// or "Payment".
func (s Scheme) Name() string {
	if s == SchemePayment {
		return mpp.Scheme
	}
	return "L402"
}

// offered says which schemes a 402 offers in a form fetch can pay: an L402
// (or LSAT) challenge that parses, a lightning charge Payment challenge
// that parses; and whether it carries Payment challenges at all.
type offered struct {
	l402, charge, payment bool
}

// offers reads the WWW-Authenticate fields of a 402.
func offers(h http.Header) offered {
	var o offered
	values := h.Values("WWW-Authenticate")
	if _, err := l402.ParseChallenges(values); err == nil {
		o.l402 = true
	}
	chs, err := mpp.ParseChallenges(values)
	o.payment = err == nil
	for _, ch := range chs {
		if ch.Method == mpp.MethodLightning &&
			ch.Intent == mpp.IntentCharge {
			o.charge = true
		}
	}
	return o
}

// choose picks the scheme to pay: the preferred one when the 402 offers
// it, else the one it offers, L402 when it offers both; a 402 that offers
// neither is judged as the kind of challenge it carries (its refusal
// then says what is wrong with it).
func (o offered) choose(prefer Scheme) Scheme {
	switch {
	case prefer == SchemePayment && o.charge:
		return SchemePayment
	case o.l402:
		return SchemeL402
	case o.charge, o.payment:
		return SchemePayment
	}
	return SchemeL402
}

// String names what a 402 offers, for the log.
func (o offered) String() string {
	switch {
	case o.l402 && o.charge:
		return "L402 and a Payment charge"
	case o.charge:
		return "a Payment charge"
	case o.l402:
		return "L402"
	}
	return "no challenge fetch can pay"
}

// vetOffer chooses the scheme of a 402 (see offered.choose) and vets its
// challenge: vetChallenge for L402, vetPaymentChallenge for a Payment
// charge. Only the chosen challenge is judged: a refusal stands, and is
// not answered by paying the other scheme.
//
// With session (--session), a 402 that offers a lightning session is
// answered by opening one: its deposit is the price judged.
func (c *Client) vetOffer(h http.Header, prefer Scheme, session bool,
	network string, maxCostSat int64, maxExpiry time.Duration,
	now time.Time) (offer, error) {

	if session && offersSession(h) {
		c.logf("the 402 offers a Payment session; judging its deposit")
		return vetSessionChallenge(h, network, maxCostSat, maxExpiry, now)
	}
	o := offers(h)
	scheme := o.choose(prefer)
	c.logf("the 402 offers %s; judging the %s challenge", o,
		scheme.Name())
	if scheme == SchemePayment {
		return vetPaymentChallenge(h, network, maxCostSat, maxExpiry, now)
	}
	return vetChallenge(h, network, maxCostSat, maxExpiry, now)
}
