package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
)

// Pricer prices a request for a dynamically priced service, in sats;
// zero means the request is free.
type Pricer interface {
	Price(ctx context.Context, r *http.Request) (int64, error)
	Close() error
}

// HandlerOptions are a Handler's collaborators besides its config.
type HandlerOptions struct {
	Log     *slog.Logger
	Metrics *Metrics

	// DialPricer connects to a service's price server; required when a
	// service sets dynamicprice.
	DialPricer func(DynamicPriceConfig) (Pricer, error)
}

// route is one configured service, ready to serve.
type route struct {
	cfg      ServiceConfig
	offer    Offer
	proxy    *httputil.ReverseProxy
	limiters []*limiter
	freebies *freebies
	pricer   Pricer
}

// Handler routes requests to services and guards them with L402: match,
// whitelist, verify, challenge, proxy.
type Handler struct {
	routes  []*route
	auth    *Authenticator
	log     *slog.Logger
	metrics *Metrics
	filter  *clientFilter

	// challenges limits the challenges per client IP; nil when disabled.
	challenges *limiter

	// now is the authenticator's clock, or the wall clock without one.
	now func() time.Time
}

// NewHandler builds the routes of cfg. A nil auth (authenticator.disable)
// lets every request through without payment.
func NewHandler(cfg *Config, auth *Authenticator, opts HandlerOptions) (
	*Handler, error) {

	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	filter, err := newClientFilter(cfg)
	if err != nil {
		return nil, err
	}
	h := &Handler{auth: auth, log: log, metrics: opts.Metrics,
		filter: filter}
	if h.metrics == nil {
		h.metrics = NewMetrics()
	}
	h.now = time.Now
	if auth != nil {
		h.now = auth.now
	}
	if !cfg.ChallengeLimit.Disable {
		h.challenges = newLimiter(cfg.ChallengeLimit.rule())
	}
	for _, sc := range cfg.Services {
		rt, err := h.newRoute(sc, opts)
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("service %q: %w", sc.Name, err)
		}
		h.routes = append(h.routes, rt)
	}
	return h, nil
}

// newRoute builds one service's route.
func (h *Handler) newRoute(sc ServiceConfig, opts HandlerOptions) (*route,
	error) {

	proxy, err := h.newProxy(sc)
	if err != nil {
		return nil, err
	}
	if len(sc.CapabilityRules) > 0 && len(sc.CapabilityList()) == 0 {
		return nil, errors.New("capabilityrules need capabilities: a " +
			"token without a capabilities caveat may do everything")
	}
	for cond := range sc.Constraints {
		if strings.HasSuffix(cond, l402.CondResourceSuffix) {
			return nil, fmt.Errorf("constraints: %q is a condition serve "+
				"sets itself", cond)
		}
	}
	rt := &route{
		cfg:   sc,
		proxy: proxy,
		offer: Offer{
			Service:      sc.Name,
			PriceSat:     sc.Price,
			Capabilities: sc.CapabilityList(),
			Timeout:      time.Duration(sc.Timeout) * time.Second,
			Constraints:  sc.Constraints,
		},
	}
	for _, r := range sc.RateLimits {
		rt.limiters = append(rt.limiters, newLimiter(r))
	}
	if sc.Auth.Freebies > 0 {
		rt.freebies = newFreebies(sc.Auth.Freebies)
	}
	if sc.DynamicPrice.Enabled {
		if opts.DialPricer == nil {
			return nil, errors.New("dynamicprice needs a price server " +
				"client")
		}
		if rt.pricer, err = opts.DialPricer(sc.DynamicPrice); err != nil {
			return nil, fmt.Errorf("dynamicprice: %w", err)
		}
	}
	return rt, nil
}

// Close releases the price server connections. In-flight requests that
// still use them fail with a clear error, so call it after a drain.
func (h *Handler) Close() {
	for _, rt := range h.routes {
		if rt.pricer != nil {
			rt.pricer.Close()
		}
	}
}

// startKey carries the time a request was handed to the backend.
type startKey struct{}

// newProxy builds the reverse proxy to a service's backend.
func (h *Handler) newProxy(sc ServiceConfig) (*httputil.ReverseProxy,
	error) {

	scheme := sc.Protocol
	if scheme == "" {
		scheme = "http"
	}
	target := &url.URL{Scheme: scheme, Host: sc.Address,
		Path: sc.Rewrite.Prefix}
	transport, err := newTransport(sc)
	if err != nil {
		return nil, err
	}

	headers := sc.Headers
	name := sc.Name
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			for k, v := range headers {
				pr.Out.Header.Set(k, v)
			}
		},
		Transport: transport,
		ModifyResponse: func(res *http.Response) error {
			if start, ok := res.Request.Context().Value(startKey{}).(time.Time); ok {
				h.metrics.observeUpstream(name, res.StatusCode,
					time.Since(start))
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request,
			err error) {
			h.metrics.observeUpstream(name, 0, 0)
			if errors.Is(err, context.Canceled) {
				return
			}
			h.log.Warn("backend unreachable", "service", name, "err", err)
			answer(w, r, http.StatusBadGateway, grpcUnavailable,
				"the backend of service "+name+" is unreachable")
		},
	}, nil
}

// observe records the time since the request was handed to the proxy.
func (h *Handler) observe(r *http.Request, service string, code int) {
	if start, ok := r.Context().Value(startKey{}).(time.Time); ok {
		h.metrics.observeUpstream(service, code, time.Since(start))
	}
}

// newTransport returns the round tripper to a backend. An https backend
// is verified (tlscertpath adds a CA) and speaks HTTP/2 when it offers it;
// a plain http backend gets HTTP/1.1, and gRPC calls to it go over h2c
// (HTTP/2 without TLS, prior knowledge), as gRPC servers expect.
func newTransport(sc ServiceConfig) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	if sc.TLSCertPath != "" {
		pem, err := os.ReadFile(sc.TLSCertPath)
		if err != nil {
			return nil, fmt.Errorf("tlscertpath: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tlscertpath %s holds no PEM certificate",
				sc.TLSCertPath)
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool,
			MinVersion: tls.VersionTLS12}
	}
	if sc.Protocol == "https" {
		return base, nil
	}

	h2c := base.Clone()
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	return grpcSplit{h1: base, h2c: h2c}, nil
}

// grpcSplit sends gRPC calls over h2c and everything else over HTTP/1.1.
type grpcSplit struct {
	h1, h2c http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (g grpcSplit) RoundTrip(r *http.Request) (*http.Response, error) {
	if isGRPC(r) {
		return g.h2c.RoundTrip(r)
	}
	return g.h1.RoundTrip(r)
}

// match returns the first service whose host and path regexps match.
func (h *Handler) match(r *http.Request) *route {
	host := normalHost(r.Host)
	for _, rt := range h.routes {
		if !rt.cfg.HostRegexp.MatchString(host) {
			continue
		}
		if rt.cfg.PathRegexp.Regexp != nil &&
			!rt.cfg.PathRegexp.MatchString(r.URL.Path) {
			continue
		}
		return rt
	}
	return nil
}

// anyMatch reports whether path matches one of the regexps.
func anyMatch(res []Regexp, path string) bool {
	for _, re := range res {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// isGRPC reports whether the request is a gRPC call.
func isGRPC(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// gRPC status codes serve answers with.
const (
	grpcInternal         = 13
	grpcResourcesExhaust = 8
	grpcPermissionDenied = 7
	grpcUnauthenticated  = 16
	grpcUnavailable      = 14
	grpcInvalidArgument  = 3
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := h.filter.clientIP(r)
	ipKey := "ip:" + clientKey(ip)
	if h.filter.blocks(ip) {
		answer(w, r, http.StatusForbidden, grpcPermissionDenied, "forbidden")
		return
	}
	if why := nonCanonicalPath(r.URL); why != "" {
		// Regexps (whitelist, capability rules, prices) see the path
		// as sent, while many backends clean it first: /free/../paid
		// must not pass as /free/.
		answer(w, r, http.StatusBadRequest, grpcInvalidArgument,
			"the request path "+why)
		return
	}
	rt := h.match(r)
	if rt == nil {
		http.Error(w, "no service at this address", http.StatusNotFound)
		return
	}

	switch {
	case h.auth == nil:
		h.free(w, r, rt, ipKey, "auth_disabled")
		return
	case rt.cfg.Auth.Off:
		h.free(w, r, rt, ipKey, "auth_off")
		return
	case anyMatch(rt.cfg.AuthWhitelistPaths, r.URL.Path):
		h.free(w, r, rt, ipKey, "whitelist")
		return
	}

	target := l402.Target{Service: rt.cfg.Name,
		Capabilities: rt.cfg.requiredCapabilities(r)}
	if rt.pricer != nil {
		target.Resource = resourceOf(r.URL)
	}
	cred, id, err := h.auth.Check(r.Context(), r.Header, target)
	switch {
	case err == nil:
		if h.limited(w, r, rt, "token:"+id.TokenID.String()) {
			return
		}
		h.metrics.accepted.WithLabelValues(rt.cfg.Name).Inc()
		// The backend gets the one credential that was verified, in
		// the Authorization form, and no other copy. A request that
		// sent only that form (all its copies agree) is left as it is.
		if !rt.cfg.StripCredential && hasHexCredential(r.Header) {
			stripCredential(r.Header)
			if v, err := cred.Authorization(); err == nil {
				r.Header.Add("Authorization", v)
			}
		}
		h.forward(w, r, rt)
		return
	case errors.Is(err, l402.ErrNoCredential):
	default:
		reason := rejectReason(err)
		h.log.Debug("token refused", "service", rt.cfg.Name, "reason", err)
		h.metrics.rejected.WithLabelValues(rt.cfg.Name, reason).Inc()
		if reason == "capability" {
			// A new token of this service would lack it too.
			answer(w, r, http.StatusForbidden, grpcPermissionDenied,
				"the token lacks a capability this request needs")
			return
		}
	}
	h.unpaid(w, r, rt, ip)
}

// unpaid serves a request without a valid token: a freebie, a 401 on
// skip-invoice paths, a free pass at a zero dynamic price, or a challenge.
func (h *Handler) unpaid(w http.ResponseWriter, r *http.Request, rt *route,
	ip net.IP) {

	ipKey := "ip:" + clientKey(ip)
	if rt.freebies != nil && rt.freebies.take(clientKey(ip)) {
		h.free(w, r, rt, ipKey, "freebie")
		return
	}
	if h.limited(w, r, rt, ipKey) {
		return
	}
	if anyMatch(rt.cfg.AuthSkipInvoiceCreationPaths, r.URL.Path) {
		answer(w, r, http.StatusUnauthorized, grpcUnauthenticated,
			"unauthorized")
		return
	}

	// Every challenge costs an invoice and a row: a client that asks for
	// too many waits.
	if h.challenges != nil {
		if ok, wait := h.challenges.allow(clientKey(ip), h.now()); !ok {
			h.metrics.limited.WithLabelValues(rt.cfg.Name, "challenge").Inc()
			h.refuse(w, r, wait)
			return
		}
	}
	offer := rt.offer
	if rt.pricer != nil {
		price, err := rt.pricer.Price(r.Context(), r)
		if err != nil {
			h.log.Error("unable to price the request", "service",
				rt.cfg.Name, "err", err)
			answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
				"unable to price the request")
			return
		}
		if price == 0 {
			// Aperture's rule: a zero price means free access.
			h.forwardFree(w, r, rt, "zero_price")
			return
		}
		offer.PriceSat, offer.Resource = price, resourceOf(r.URL)
	}

	h.challenge(w, r, rt, offer)
}

// free forwards a request that needs no token, within the rate limits.
func (h *Handler) free(w http.ResponseWriter, r *http.Request, rt *route,
	ipKey, reason string) {

	if h.limited(w, r, rt, ipKey) {
		return
	}
	h.forwardFree(w, r, rt, reason)
}

// forwardFree counts and forwards a request that needs no token.
func (h *Handler) forwardFree(w http.ResponseWriter, r *http.Request,
	rt *route, reason string) {

	h.metrics.free.WithLabelValues(rt.cfg.Name, reason).Inc()
	h.forward(w, r, rt)
}

// forward proxies the request to the service's backend.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request,
	rt *route) {

	if rt.cfg.StripCredential {
		stripCredential(r.Header)
	}
	r = r.WithContext(context.WithValue(r.Context(), startKey{},
		time.Now()))
	rt.proxy.ServeHTTP(w, r)
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

// challenge answers with a fresh token and invoice: 402 for HTTP, a
// trailers-only gRPC status 13 for gRPC.
func (h *Handler) challenge(w http.ResponseWriter, r *http.Request,
	rt *route, offer Offer) {

	values, err := h.auth.Challenge(r.Context(), offer)
	if err != nil {
		h.log.Error("unable to issue a challenge", "service", rt.cfg.Name,
			"err", err)
		h.metrics.challengeErrors.WithLabelValues(rt.cfg.Name).Inc()
		answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
			"unable to issue a payment request")
		return
	}
	h.metrics.challenges.WithLabelValues(rt.cfg.Name).Inc()
	for _, v := range values {
		w.Header().Add("WWW-Authenticate", v)
	}

	if isGRPC(r) {
		writeGRPCStatus(w, grpcInternal, "payment required")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
}

// answer answers without a backend: an HTTP status, or for gRPC calls a
// trailers-only gRPC status.
func answer(w http.ResponseWriter, r *http.Request, code, grpcCode int,
	msg string) {

	if isGRPC(r) {
		writeGRPCStatus(w, grpcCode, msg)
		return
	}
	http.Error(w, msg, code)
}

// limited applies every rate-limit rule of the route that matches the
// path, for key; all must allow the request. A refused request gets 429
// with Retry-After, or gRPC status 8.
func (h *Handler) limited(w http.ResponseWriter, r *http.Request, rt *route,
	key string) bool {

	now := h.now()
	var wait time.Duration
	refused := false
	for _, l := range rt.limiters {
		if l.rule.PathRegexp.Regexp != nil &&
			!l.rule.PathRegexp.MatchString(r.URL.Path) {
			continue
		}
		if ok, d := l.allow(key, now); !ok {
			refused = true
			wait = max(wait, d)
		}
	}
	if !refused {
		return false
	}
	h.metrics.limited.WithLabelValues(rt.cfg.Name, "rule").Inc()
	h.refuse(w, r, wait)
	return true
}

// refuse answers a request over a limit: 429 with Retry-After, or gRPC
// status 8.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request,
	wait time.Duration) {

	secs := int64(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	if isGRPC(r) {
		writeGRPCStatus(w, grpcResourcesExhaust, "rate limit exceeded")
		return
	}
	http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
}

// writeGRPCStatus answers a gRPC call trailers-only: HTTP 200 with the
// status in the headers and no body.
func writeGRPCStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Grpc-Status", strconv.Itoa(code))
	w.Header().Set("Grpc-Message", msg)
	w.WriteHeader(http.StatusOK)
}

// stripCredential removes the L402 credential before the request goes to
// the backend; other Authorization schemes are the backend's and stay.
func stripCredential(h http.Header) {
	var keep []string
	for _, v := range h.Values("Authorization") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		s := strings.ToUpper(scheme)
		if s != l402.SchemeL402 && s != l402.SchemeLSAT {
			keep = append(keep, v)
		}
	}
	h.Del("Authorization")
	for _, v := range keep {
		h.Add("Authorization", v)
	}
	h.Del(l402.HeaderGrpcMacaroon)
	h.Del(l402.HeaderMacaroon)
}

// nonCanonicalPath says why a request path is refused, or "" when it is
// canonical: absolute, already clean (no "." or ".." segments, no empty
// segments; a trailing slash is fine), and without escaped slashes, dots
// or backslashes that a backend could decode into one of those.
func nonCanonicalPath(u *url.URL) string {
	p := u.Path
	if p == "" || p[0] != '/' {
		return "must start with /"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return "is not clean (no //, /./ or /../)"
	}
	if strings.ContainsRune(p, '\\') {
		return "may not contain a backslash"
	}
	raw := strings.ToLower(u.RawPath)
	for _, esc := range []string{"%2f", "%2e", "%5c"} {
		if strings.Contains(raw, esc) {
			return "may not escape /, . or \\"
		}
	}
	return ""
}

// resourceOf is what a dynamically priced token is bound to: the path,
// escaped as sent, and the query, both of which the price server sees.
func resourceOf(u *url.URL) string {
	if u.RawQuery == "" {
		return u.EscapedPath()
	}
	return u.EscapedPath() + "?" + u.RawQuery
}

// clientKey is the key a client is limited by: its IP address, or for
// IPv6 its /64, which one machine usually holds whole.
func clientKey(ip net.IP) string {
	if ip == nil {
		return "unknown"
	}
	if ip.To4() == nil && len(ip) == net.IPv6len {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// hasHexCredential reports whether the request carries the hex
// (Macaroon or Grpc-Metadata-Macaroon) form of a credential.
func hasHexCredential(h http.Header) bool {
	return len(h.Values(l402.HeaderMacaroon)) > 0 ||
		len(h.Values(l402.HeaderGrpcMacaroon)) > 0
}

// normalHost lower-cases a Host and drops a trailing dot from its name,
// so that hostregexp sees one spelling of each host.
func normalHost(h string) string {
	if !strings.ContainsAny(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
		!strings.HasSuffix(h, ".") && !strings.Contains(h, ".:") {
		return h // the usual case: nothing to change, nothing to allocate
	}
	h = strings.ToLower(h)
	name, port, err := net.SplitHostPort(h)
	if err != nil {
		return strings.TrimSuffix(h, ".")
	}
	return net.JoinHostPort(strings.TrimSuffix(name, "."), port)
}
