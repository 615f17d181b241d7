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
)

// challengeStage prices an unpaid request and answers it with a
// challenge of every scheme: 402 for HTTP, a trailers-only gRPC status 13
// for gRPC. Before a challenge costs an invoice, it answers 401 on the
// service's authskipinvoicecreationpaths, 414 when a dynamically priced
// request's path and query are too long to bind a token to, and refuses
// clients over the challenge limit; a dynamic price of zero lets the
// request through for free (Aperture's rule). Free and paid requests
// pass untouched.
type challengeStage struct {
	chained
	schemes []Scheme
	offers  []Offer  // by route index: the fixed price and caveats
	pricers []Pricer // by route index; nil for a fixed price

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
func newChallengeStage(cfg *Config, schemes []Scheme, opts HandlerOptions,
	now func() time.Time) (*challengeStage, error) {

	s := &challengeStage{schemes: schemes, now: now, log: opts.Log,
		metrics: opts.Metrics, shadowed: opts.shadow}
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
		if !sc.DynamicPrice.Enabled {
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

// close releases the price server connections.
func (s *challengeStage) close() {
	for _, p := range s.pricers {
		if p != nil {
			p.Close()
		}
	}
}

// serve implements stage.
func (s *challengeStage) serve(w http.ResponseWriter, r *http.Request,
	f *flow) {

	if f.access != unpaid {
		s.next.serve(w, r, f)
		return
	}
	if f.route.cfg.shadow() {
		s.shadow(r, f)
		s.next.serve(w, r, f)
		return
	}
	if anyMatch(f.route.cfg.AuthSkipInvoiceCreationPaths, r.URL.Path) {
		answer(w, r, http.StatusUnauthorized, grpcUnauthenticated,
			"unauthorized")
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

	// Every challenge costs an invoice and a row: a client that asks for
	// too many waits.
	if s.limit != nil {
		if ok, wait := s.limit.allow(f.clientKey(), s.now()); !ok {
			s.metrics.limited.WithLabelValues(f.route.cfg.Name,
				"challenge").Inc()
			refuse(w, r, wait)
			return
		}
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

// challenge answers with a fresh token of every scheme for the offer.
func (s *challengeStage) challenge(w http.ResponseWriter, r *http.Request,
	f *flow, offer Offer) {

	values, err := s.challenges(r.Context(), offer)
	if err != nil {
		s.log.Error("unable to issue a challenge", "service",
			f.route.cfg.Name, "err", err)
		s.metrics.challengeErrors.WithLabelValues(f.route.cfg.Name).Inc()
		answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
			"unable to issue a payment request")
		return
	}
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
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
}

// challenges collects the WWW-Authenticate values of every scheme, in
// order; one scheme failing fails the challenge, so that a client never
// gets an offer it cannot use.
func (s *challengeStage) challenges(ctx context.Context, o Offer) ([]string,
	error) {

	var all []string
	for _, scheme := range s.schemes {
		values, err := scheme.Challenge(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, values...)
	}
	if len(all) == 0 {
		return nil, errors.New("no scheme offered a challenge")
	}
	return all, nil
}
