package serve

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/l402/l402/internal/lightning"
)

// HandlerOptions are a Handler's collaborators besides its config.
type HandlerOptions struct {
	Log     *slog.Logger
	Metrics *Metrics

	// DialPricer connects to a service's price server; required when a
	// service sets dynamicprice.
	DialPricer func(DynamicPriceConfig) (Pricer, error)

	// revoked refuses the tokens the admin API revoked, paid counts the
	// paid requests and shadow the would-be challenges of shadow mode for
	// its statistics; nil without a database.
	revoked *revocations
	paid    *paidCounter
	shadow  *shadowCounter

	// node is what the node said of itself, for the discovery manifest.
	node lightning.Info

	// Meter keeps the built-in meter's bundles (a service's meter
	// block): serve's database. DialMeter connects to the price server
	// of a service whose dynamicprice is metered (meter_pricer.go).
	Meter     MeterStore
	DialMeter func(ServiceConfig) (MeterBackend, error)

	// Payment is what the Payment scheme needs; required with
	// authenticator.enablempp (a config that enables it without a store
	// that can hold its single-use claims is refused).
	Payment *PaymentOptions
}

// Handler routes requests to services and guards them with L402 and the
// Payment scheme. It is a
// chain of stages, each built once from the config and each in its own
// file, handing what it learned to the next in a per-request flow:
//
//	filter (filter.go)        client address, blocklist, canonical paths
//	manifest (manifest.go)    unless discovery: false, the discovery
//	                          manifest at /.well-known/l402.json
//	cors (cors.go)            with cors on: preflights, the headers that
//	                          let a page read the answer
//	match (match.go)          the service, by host and path
//	authenticate (authenticate.go)  free, paid (a Scheme verified it),
//	                          freebie or unpaid; 403 for a capability
//	limit (limit.go)          the service's ratelimits, per token or client
//	challenge (challenge.go)  a credential's commit (a charge's claim, a
//	                          session's draw); unpaid: 401, challenge
//	                          limit, price, and a challenge of every
//	                          Scheme of the service
//	meter (meter.go)          metered services: a paid request's
//	                          balance, its reservation and settlement
//	proxy (proxy.go)          metrics, the credential the backend sees,
//	                          the reverse proxy
type Handler struct {
	first     stage
	filter    *clientFilter
	challenge *challengeStage

	// payment is the Payment scheme, nil when off: the pruner closes its
	// idle sessions.
	payment *paymentScheme
}

// NewHandler builds the chain for cfg. A nil auth (authenticator.disable)
// lets every request through without payment.
func NewHandler(cfg *Config, auth *Authenticator, opts HandlerOptions) (
	*Handler, error) {

	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	now := time.Now
	if auth != nil {
		now = auth.now
	}
	schemes, byRoute, err := newSchemes(cfg, auth, opts, now)
	if err != nil {
		return nil, err
	}
	var payment *paymentScheme
	for _, sc := range schemes {
		if p, ok := sc.(*paymentScheme); ok {
			payment = p
		}
	}

	clients, err := newClientFilter(cfg)
	if err != nil {
		return nil, err
	}
	authn, err := newAuthStage(cfg, byRoute, auth == nil, opts.Log,
		opts.Metrics)
	if err != nil {
		return nil, err
	}
	proxy, err := newProxyStage(cfg, schemes, opts.Log, opts.Metrics,
		opts.paid)
	if err != nil {
		return nil, err
	}
	// Last: they connect to the price servers.
	challenge, err := newChallengeStage(cfg, byRoute, opts, now)
	if err != nil {
		return nil, err
	}
	meter, err := newMeterStage(cfg, challenge, auth != nil, payment, opts,
		now)
	if err != nil {
		challenge.close()
		return nil, err
	}

	stages := []linker{&filterStage{clients: clients}}
	if m := newManifestStage(cfg, opts.node); m != nil {
		stages = append(stages, m)
	}
	if cors := newCORSStage(cfg.CORS); cors != nil {
		stages = append(stages, cors)
	}
	stages = append(stages, newMatchStage(cfg), authn,
		newLimitStage(cfg, now, opts.Metrics), challenge)
	if meter != nil {
		stages = append(stages, meter)
	}
	first := link(proxy, stages...)
	return &Handler{first: first, filter: clients, challenge: challenge,
		payment: payment}, nil
}

// newSchemes builds the schemes serve speaks, in the order their
// challenges go out (L402, then the Payment scheme with enablempp), and
// each route's: those its authscheme names. Every scheme strips its
// credentials from any service's requests.
func newSchemes(cfg *Config, auth *Authenticator, opts HandlerOptions,
	now func() time.Time) (all []Scheme, byRoute [][]Scheme, err error) {

	l402 := l402Scheme{auth: auth, revoked: opts.revoked}
	all = []Scheme{l402}
	var payment *paymentScheme
	if cfg.Authenticator.MPP.EnableMPP && auth != nil {
		payment, err = newPaymentScheme(cfg, opts.Payment, now, opts.Log,
			opts.Metrics)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, payment)
	}
	for _, sc := range cfg.Services {
		withL402, withPayment := sc.schemes(cfg.Authenticator.MPP)
		var rs []Scheme
		if withL402 {
			rs = append(rs, l402)
		}
		if withPayment && payment != nil {
			rs = append(rs, payment)
		}
		byRoute = append(byRoute, rs)
	}
	return all, byRoute, nil
}

// ServeHTTP implements http.Handler: the request goes down the chain.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.first.serve(w, r, &flow{})
}

// Close releases the price server connections. In-flight requests that
// still use them fail with a clear error, so call it after a drain.
func (h *Handler) Close() {
	h.challenge.close()
}
