package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
)

// challengeStage first commits a paid request's credential when it has
// something left to do (the Payment scheme's claim of a charge, a
// session's draw: after the rate limits, so that a refused request spends
// nothing); one the store refuses is unpaid from then on. It prices an
// unpaid request and answers it with a challenge of every scheme of its
// service: 402 for HTTP (with an RFC 9457 problem body when the service
// offers the Payment scheme), a trailers-only gRPC status 13 for gRPC.
// Before a challenge costs an invoice, it answers 401 on the service's
// authskipinvoicecreationpaths, 414 when a dynamically priced request's
// path and query are too long to bind a token to, and refuses clients
// over the challenge limit; a dynamic price of zero lets the request
// through for free (Aperture's rule). Free and paid requests pass
// untouched.
type challengeStage struct {
	chained
	schemes [][]Scheme // by route index
	payment []bool     // by route index: the route offers the Payment scheme
	offers  []Offer    // by route index: the fixed price and caveats
	pricers []Pricer   // by route index; nil for a fixed price

	// meters are the metered services' meters (meter.go), by route
	// index (nil: not metered), and sessions says which routes offer
	// Payment sessions, whose unit price a meter quotes.
	meters   []MeterBackend
	sessions []bool

	// limit bounds the challenges per client; nil when disabled.
	limit *limiter

	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics

	// shadowed counts shadow mode's would-be challenges for the admin
	// API's statistics; nil without a database.
	shadowed *shadowCounter
}

// newChallengeStage builds the offers of cfg's services and connects to
// their price servers (last, so that a bad config opens no connection).
func newChallengeStage(cfg *Config, schemes [][]Scheme,
	opts HandlerOptions, now func() time.Time) (*challengeStage, error) {

	s := &challengeStage{schemes: schemes, now: now, log: opts.Log,
		metrics: opts.Metrics, shadowed: opts.shadow}
	for _, rs := range schemes {
		offers, sessions := false, false
		for _, sc := range rs {
			offers = offers || sc.kind() == kindPayment
			if p, ok := sc.(*paymentScheme); ok && p.sessions != nil {
				sessions = true
			}
		}
		s.payment = append(s.payment, offers)
		s.sessions = append(s.sessions, sessions)
	}
	s.meters = make([]MeterBackend, len(cfg.Services))
	if !cfg.ChallengeLimit.Disable {
		s.limit = newLimiter(cfg.ChallengeLimit.rule())
	}
	for _, sc := range cfg.Services {
		for cond := range sc.Constraints {
			if strings.HasSuffix(cond, l402.CondResourceSuffix) {
				return nil, fmt.Errorf("service %q: constraints: %q is a "+
					"condition serve sets itself", sc.Name, cond)
			}
		}
		s.offers = append(s.offers, Offer{
			Service:      sc.Name,
			PriceSat:     sc.Price,
			Capabilities: sc.CapabilityList(),
			Timeout:      time.Duration(sc.Timeout) * time.Second,
			Constraints:  sc.Constraints,
		})
	}
	if err := s.dialPricers(cfg, opts.DialPricer); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// dialPricers connects to the price server of every dynamically priced
// service.
func (s *challengeStage) dialPricers(cfg *Config,
	dial func(DynamicPriceConfig) (Pricer, error)) error {

	s.pricers = make([]Pricer, len(cfg.Services))
	for i, sc := range cfg.Services {
		// A metered service's price server is its meter's
		// (meter_pricer.go).
		if !sc.DynamicPrice.Enabled || sc.metered() {
			continue
		}
		if dial == nil {
			return fmt.Errorf("service %q: dynamicprice needs a price "+
				"server client", sc.Name)
		}
		p, err := dial(sc.DynamicPrice)
		if err != nil {
			return fmt.Errorf("service %q: dynamicprice: %w", sc.Name, err)
		}
		s.pricers[i] = p
	}
	return nil
}

// close releases the price server connections, the meters' too.
func (s *challengeStage) close() {
	for _, p := range s.pricers {
		if p != nil {
			p.Close()
		}
	}
	for _, m := range s.meters {
		if m != nil {
			m.Close()
		}
	}
}

// serve implements stage.
func (s *challengeStage) serve(w http.ResponseWriter, r *http.Request,
	f *flow) {

	// At a metered service a session's bearer pays its own quote,
	// which the meter stage draws.
	metered := s.meters[f.route.index] != nil
	if f.access == paid && f.grant.commit != nil &&
		!(metered && f.grant.drawAt != nil) && !s.commit(w, r, f) {
		return
	}
	if f.access != unpaid {
		s.next.serve(w, r, f)
		return
	}
	if f.route.cfg.shadow() {
		s.shadow(r, f)
		s.next.serve(w, r, f)
		return
	}
	if s.payment[f.route.index] && mpp.ProblemFor(f.refusal).Status ==
		http.StatusBadRequest && isPaymentCondition(f.refusal) {
		// A method or intent this server does not speak: a new
		// challenge would not help.
		s.problem(w, r, f, mpp.ProblemFor(f.refusal))
		return
	}
	if anyMatch(f.route.cfg.AuthSkipInvoiceCreationPaths, r.URL.Path) {
		answer(w, r, http.StatusUnauthorized, grpcUnauthenticated,
			"unauthorized")
		return
	}
	if metered {
		if s.limited(w, r, f) {
			return
		}
		s.meteredChallenge(w, r, f, 0)
		return
	}

	// A dynamically priced token is bound to the path and query, which
	// must fit its caveat: say so before the price server is asked.
	if s.pricers[f.route.index] != nil &&
		len(resourceOf(r.URL)) > l402.MaxResourceLen {
		answer(w, r, http.StatusRequestURITooLong, grpcInvalidArgument,
			fmt.Sprintf("the path and query are over %d bytes, the most "+
				"a dynamically priced token can be bound to",
				l402.MaxResourceLen))
		return
	}

	if s.limited(w, r, f) {
		return
	}
	offer, ok := s.price(w, r, f)
	switch {
	case !ok:
		return
	case offer.PriceSat == 0 && s.pricers[f.route.index] != nil:
		// Aperture's rule: a zero price from the price server means
		// free access. A fixed price is never free.
		f.pass(free, "zero_price")
		s.next.serve(w, r, f)
		return
	}
	s.challenge(w, r, f, offer)
}

// limited answers a client over the challenge limit (every challenge
// costs an invoice and a row: a client that asks for too many waits),
// and returns true when it did.
func (s *challengeStage) limited(w http.ResponseWriter, r *http.Request,
	f *flow) bool {

	if s.limit == nil {
		return false
	}
	ok, wait := s.limit.allow(f.clientKey(), s.now())
	if !ok {
		s.metrics.limited.WithLabelValues(f.route.cfg.Name,
			"challenge").Inc()
		refuse(w, r, wait)
	}
	return !ok
}

// price returns the offer for the request: the service's, with the price
// server's price and the request's resource when dynamically priced. It
// returns false when it answered the request itself (503: no price).
func (s *challengeStage) price(w http.ResponseWriter, r *http.Request,
	f *flow) (Offer, bool) {

	offer := s.offers[f.route.index]
	pricer := s.pricers[f.route.index]
	if pricer == nil {
		return offer, true
	}
	price, err := pricer.Price(r.Context(), r)
	if err != nil {
		s.log.Error("unable to price the request", "service",
			f.route.cfg.Name, "err", err)
		answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
			"unable to price the request")
		return offer, false
	}
	offer.PriceSat = price
	if price != 0 {
		offer.Resource = resourceOf(r.URL)
	}
	return offer, true
}

// commit does what a paid request's credential has left to do. A
// refusal (a charge already spent, a session short of the price) makes
// the request unpaid, to be challenged; a store that cannot answer gets
// 503, since it cannot tell a first presentation from a replay. It
// returns false when it answered the request itself.
func (s *challengeStage) commit(w http.ResponseWriter, r *http.Request,
	f *flow) bool {

	done, err := f.grant.commit(r.Context())
	f.receipt = done.receipt
	switch {
	case err == nil && done.reply != nil:
		s.reply(w, r, f, done.reply)
		return false
	case err == nil:
		return true
	case isPaymentCondition(err):
		refused(s.metrics, s.log, f.route.cfg.Name, f.scheme, err)
		f.access, f.refusal = unpaid, err
		return true
	}
	s.log.Error("unable to record a payment", "service", f.route.cfg.Name,
		"err", err)
	answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
		"unable to record the payment; try again")
	return false
}

// challenge answers with a fresh token of every scheme for the offer.
func (s *challengeStage) challenge(w http.ResponseWriter, r *http.Request,
	f *flow, offer Offer) {

	values, err := s.challenges(r.Context(), f, offer)
	if err != nil {
		s.log.Error("unable to issue a challenge", "service",
			f.route.cfg.Name, "err", err)
		s.metrics.challengeErrors.WithLabelValues(f.route.cfg.Name).Inc()
		answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
			"unable to issue a payment request")
		return
	}
	s.send(w, r, f, values)
}

// send answers with the challenges minted for the request.
func (s *challengeStage) send(w http.ResponseWriter, r *http.Request,
	f *flow, values []string) {

	s.metrics.challenges.WithLabelValues(f.route.cfg.Name).Inc()
	for _, v := range values {
		w.Header().Add("WWW-Authenticate", v)
	}
	// Each challenge is one client's invoice and macaroon: no cache may
	// keep it or hand it to another client (Aperture sends the same).
	w.Header().Set("Cache-Control", "no-store")

	if isGRPC(r) {
		writeGRPCStatus(w, grpcInternal, "payment required")
		return
	}
	if s.payment[f.route.index] {
		p := mpp.PaymentRequired("Payment required for access.")
		if isPaymentCondition(f.refusal) {
			p = mpp.ProblemFor(f.refusal)
		}
		s.problem(w, r, f, p)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
}

// reply answers a credential whose action was the whole request (a
// session's topUp or close) with its JSON body and receipt.
func (s *challengeStage) reply(w http.ResponseWriter, r *http.Request,
	f *flow, body []byte) {

	s.metrics.credentials.WithLabelValues(f.route.cfg.Name,
		schemeNames[f.scheme.kind()], "accepted").Inc()
	if f.receipt != "" {
		setReceipt(w.Header(), f.receipt)
	}
	if isGRPC(r) {
		writeGRPCStatus(w, 0, string(body))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// problem answers with an RFC 9457 problem body (for gRPC, its status),
// and the receipt of what a refused credential did all the same.
func (s *challengeStage) problem(w http.ResponseWriter, r *http.Request,
	f *flow, p mpp.Problem) {

	if f.receipt != "" {
		w.Header().Set(mpp.HeaderReceipt, f.receipt)
	}
	if isGRPC(r) {
		code := grpcInternal
		if p.Status == http.StatusBadRequest {
			code = grpcInvalidArgument
		}
		writeGRPCStatus(w, code, p.Title)
		return
	}
	w.Header().Set("Content-Type", mpp.ProblemContentType)
	w.WriteHeader(p.Status)
	w.Write(p.JSON())
}

// challenges collects the WWW-Authenticate values of every scheme of the
// request's service, in order; one scheme failing fails the challenge, so
// that a client never gets an offer it cannot use.
func (s *challengeStage) challenges(ctx context.Context, f *flow,
	o Offer) ([]string, error) {

	var all []string
	for _, scheme := range s.schemes[f.route.index] {
		values, err := scheme.Challenge(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, values...)
	}
	for _, scheme := range s.schemes[f.route.index] {
		s.metrics.challengesByScheme.WithLabelValues(f.route.cfg.Name,
			schemeNames[scheme.kind()]).Inc()
	}
	if len(all) == 0 {
		return nil, errors.New("no scheme offered a challenge")
	}
	return all, nil
}
