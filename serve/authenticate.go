package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/l402/l402/internal/l402"
)

// authStage decides how a request may pass: free (authentication
// disabled or off for the service, a whitelisted path), paid (a scheme
// verified its credential against the service, the capabilities its
// capabilityrules require and, when dynamically priced, its path and
// query), a freebie, or unpaid (no credential, or a refused one). A
// credential refused for lack of a capability gets 403: a new token of
// the service would lack it too.
type authStage struct {
	chained

	// schemes are each route's, asked in order; disabled
	// (authenticator.disable) lets every request through without asking.
	schemes  [][]Scheme
	disabled bool

	freebies []*freebies // by route index; nil without "auth: freebie"
	log      *slog.Logger
	metrics  *Metrics
}

// newAuthStage builds the freebie counters of cfg's services and refuses
// capabilityrules that no token could be held to.
func newAuthStage(cfg *Config, schemes [][]Scheme, disabled bool,
	log *slog.Logger, m *Metrics) (*authStage, error) {

	s := &authStage{schemes: schemes, disabled: disabled, log: log,
		metrics: m}
	for _, sc := range cfg.Services {
		if len(sc.CapabilityRules) > 0 && len(sc.CapabilityList()) == 0 {
			return nil, fmt.Errorf("service %q: capabilityrules need "+
				"capabilities: a token without a capabilities caveat "+
				"may do everything", sc.Name)
		}
		var fb *freebies
		if sc.Auth.Freebies > 0 {
			fb = newFreebies(sc.Auth.Freebies)
		}
		s.freebies = append(s.freebies, fb)
	}
	return s, nil
}

// serve implements stage.
func (s *authStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	sc := f.route.cfg
	switch {
	case s.disabled:
		f.pass(free, "auth_disabled")
	case sc.Auth.Off:
		f.pass(free, "auth_off")
	case anyMatch(sc.AuthWhitelistPaths, r.URL.Path):
		f.pass(free, "whitelist")
	default:
		if !s.authenticate(w, r, f) {
			return
		}
	}
	s.next.serve(w, r, f)
}

// authenticate verifies the request's credential, or counts a freebie.
// It returns false when it answered the request itself.
func (s *authStage) authenticate(w http.ResponseWriter, r *http.Request,
	f *flow) bool {

	sc := f.route.cfg
	target := l402.Target{Service: sc.Name,
		Capabilities: sc.requiredCapabilities(r)}
	// A dynamically priced token is bound to its request's path; a
	// metered one buys a bundle for the whole service.
	if sc.DynamicPrice.Enabled && !sc.metered() {
		target.Resource = resourceOf(r.URL)
	}
	g, scheme, err := s.verify(r, s.schemes[f.route.index], target)
	switch {
	case err == nil:
		f.access, f.grant, f.scheme = paid, g, scheme
		return true
	case errors.Is(err, ErrNoCredential):
	default:
		reason := refused(s.metrics, s.log, sc.Name, scheme, err)
		f.refusal = err
		switch {
		case reason == "capability":
			answer(w, r, http.StatusForbidden, grpcPermissionDenied,
				"the token lacks a capability this request needs")
			return false
		case reason == "unavailable" && !sc.shadow():
			// The buyer may have paid: a 402 would have it pay again.
			s.log.Warn("unable to verify a credential", "service",
				sc.Name, "err", err)
			answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
				"unable to verify the credential now; try again")
			return false
		}
	}

	if fb := s.freebies[f.route.index]; fb != nil && fb.take(f.clientKey()) {
		f.pass(freebie, "freebie")
	}
	return true
}

// refused counts and logs a refused credential, and returns the reason.
func refused(m *Metrics, log *slog.Logger, service string, scheme Scheme,
	err error) string {

	reason := rejectReason(err)
	log.Debug("credential refused", "service", service, "scheme",
		schemeNames[scheme.kind()], "reason", err)
	m.rejected.WithLabelValues(service, reason).Inc()
	m.credentials.WithLabelValues(service, schemeNames[scheme.kind()],
		reason).Inc()
	return reason
}

// verify asks each of the route's schemes in turn: the first that finds a
// credential of its own decides.
func (s *authStage) verify(r *http.Request, schemes []Scheme,
	t l402.Target) (Grant, Scheme, error) {

	for _, scheme := range schemes {
		g, err := scheme.Authenticate(r.Context(), r.Header, t)
		if !errors.Is(err, ErrNoCredential) {
			return g, scheme, err
		}
	}
	return Grant{}, nil, ErrNoCredential
}

// requiredCapabilities returns the capabilities the service's
// capabilityrules require of the request.
func (s *ServiceConfig) requiredCapabilities(r *http.Request) []string {
	var caps []string
	for _, rule := range s.CapabilityRules {
		// HEAD runs the GET handler in most backends.
		if rule.matches(r.Method, r.URL.Path) || (r.Method ==
			http.MethodHead && rule.matches(http.MethodGet, r.URL.Path)) {
			caps = append(caps, rule.Capabilities...)
		}
	}
	return caps
}
