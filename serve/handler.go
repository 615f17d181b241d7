package serve

import (
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
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
)

// route is one configured service, ready to serve.
type route struct {
	cfg      ServiceConfig
	offer    Offer
	proxy    *httputil.ReverseProxy
	limiters []*limiter
}

// Handler routes requests to services and guards them with L402: match,
// whitelist, verify, challenge, proxy.
type Handler struct {
	routes  []*route
	auth    *Authenticator
	log     *slog.Logger
	trusted []*net.IPNet
	blocked map[string]bool

	// challenges limits the challenges per client IP; nil when disabled.
	challenges *limiter
}

// NewHandler builds the routes of cfg. A service without a static price
// is refused until dynamic pricing lands.
func NewHandler(cfg *Config, auth *Authenticator, log *slog.Logger) (
	*Handler, error) {

	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Handler{auth: auth, log: log, blocked: map[string]bool{}}
	if !cfg.ChallengeLimit.Disable {
		h.challenges = newLimiter(cfg.ChallengeLimit.rule())
	}
	for _, cidr := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("trustedproxies: %w", err)
		}
		h.trusted = append(h.trusted, n)
	}
	for _, ip := range cfg.Blocklist {
		h.blocked[net.ParseIP(ip).String()] = true
	}
	for _, sc := range cfg.Services {
		if sc.DynamicPrice.Enabled {
			return nil, fmt.Errorf("service %q: dynamicprice is not "+
				"supported yet", sc.Name)
		}
		if sc.Price <= 0 {
			return nil, fmt.Errorf("service %q: price must be at least 1 "+
				"sat", sc.Name)
		}
		proxy, err := newProxy(sc)
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", sc.Name, err)
		}
		var limiters []*limiter
		for _, r := range sc.RateLimits {
			limiters = append(limiters, newLimiter(r))
		}
		h.routes = append(h.routes, &route{
			cfg:      sc,
			limiters: limiters,
			offer: Offer{
				Service:      sc.Name,
				PriceSat:     sc.Price,
				Capabilities: sc.CapabilityList(),
				Timeout:      time.Duration(sc.Timeout) * time.Second,
			},
			proxy: proxy,
		})
	}
	return h, nil
}

// newProxy builds the reverse proxy to a service's backend.
func newProxy(sc ServiceConfig) (*httputil.ReverseProxy, error) {
	scheme := sc.Protocol
	if scheme == "" {
		scheme = "http"
	}
	target := &url.URL{Scheme: scheme, Host: sc.Address}

	transport := http.DefaultTransport.(*http.Transport).Clone()
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
		transport.TLSClientConfig = &tls.Config{RootCAs: pool,
			MinVersion: tls.VersionTLS12}
	}

	headers := sc.Headers
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			for k, v := range headers {
				pr.Out.Header.Set(k, v)
			}
		},
		Transport: transport,
	}, nil
}

// match returns the first service whose host and path regexps match.
func (h *Handler) match(r *http.Request) *route {
	for _, rt := range h.routes {
		if !rt.cfg.HostRegexp.MatchString(r.Host) {
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

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r, h.trusted)
	if ip != nil && h.blocked[ip.String()] {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	rt := h.match(r)
	if rt == nil {
		http.Error(w, "no service at this address", http.StatusNotFound)
		return
	}

	if anyMatch(rt.cfg.AuthWhitelistPaths, r.URL.Path) {
		if h.limited(w, r, rt, "ip:"+ip.String()) {
			return
		}
		rt.proxy.ServeHTTP(w, r)
		return
	}

	id, err := h.auth.Verify(r.Context(), r.Header, rt.cfg.Name, nil)
	if err == nil {
		if h.limited(w, r, rt, "token:"+id.TokenID.String()) {
			return
		}

		// The credential is ours, not the backend's.
		stripCredential(r.Header)
		rt.proxy.ServeHTTP(w, r)
		return
	}
	if !errors.Is(err, l402.ErrNoCredential) {
		h.log.Info("token refused", "service", rt.cfg.Name, "reason", err)
	}
	if h.limited(w, r, rt, "ip:"+ip.String()) {
		return
	}

	if anyMatch(rt.cfg.AuthSkipInvoiceCreationPaths, r.URL.Path) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}

	// Every challenge costs an invoice and a row: a client that asks for
	// too many waits.
	if h.challenges != nil {
		if ok, wait := h.challenges.allow(ip.String(), h.auth.now()); !ok {
			h.refuse(w, r, wait)
			return
		}
	}
	h.challenge(w, r, rt)
}

// challenge answers with a fresh token and invoice: 402 for HTTP, a
// trailers-only gRPC status 13 for gRPC.
func (h *Handler) challenge(w http.ResponseWriter, r *http.Request,
	rt *route) {

	values, err := h.auth.Challenge(r.Context(), rt.offer)
	if err != nil {
		h.log.Error("unable to issue a challenge", "service", rt.cfg.Name,
			"err", err)
		http.Error(w, "unable to issue a payment request",
			http.StatusServiceUnavailable)
		return
	}
	for _, v := range values {
		w.Header().Add("WWW-Authenticate", v)
	}

	if isGRPC(r) {
		writeGRPCStatus(w, 13, "payment required")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
}

// limited applies every rate-limit rule of the route that matches the
// path, for key; all must allow the request. A refused request gets 429
// with Retry-After, or gRPC status 8.
func (h *Handler) limited(w http.ResponseWriter, r *http.Request, rt *route,
	key string) bool {

	now := h.auth.now()
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
		writeGRPCStatus(w, 8, "rate limit exceeded")
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
