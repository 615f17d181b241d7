package serve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
)

// route is one configured service, ready to serve.
type route struct {
	cfg   ServiceConfig
	offer Offer
	proxy *httputil.ReverseProxy
}

// Handler routes requests to services and guards them with L402: match,
// whitelist, verify, challenge, proxy.
type Handler struct {
	routes []*route
	auth   *Authenticator
	log    *slog.Logger
}

// NewHandler builds the routes of cfg. A service without a static price
// is refused until dynamic pricing lands.
func NewHandler(cfg *Config, auth *Authenticator, log *slog.Logger) (
	*Handler, error) {

	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Handler{auth: auth, log: log}
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
		h.routes = append(h.routes, &route{
			cfg: sc,
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
	rt := h.match(r)
	if rt == nil {
		http.Error(w, "no service at this address", http.StatusNotFound)
		return
	}

	if anyMatch(rt.cfg.AuthWhitelistPaths, r.URL.Path) {
		rt.proxy.ServeHTTP(w, r)
		return
	}

	_, err := h.auth.Verify(r.Context(), r.Header, rt.cfg.Name, nil)
	if err == nil {
		// The credential is ours, not the backend's.
		stripCredential(r.Header)
		rt.proxy.ServeHTTP(w, r)
		return
	}
	if !errors.Is(err, l402.ErrNoCredential) {
		h.log.Info("token refused", "service", rt.cfg.Name, "reason", err)
	}

	if anyMatch(rt.cfg.AuthSkipInvoiceCreationPaths, r.URL.Path) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
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
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "13")
		w.Header().Set("Grpc-Message", "payment required")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusPaymentRequired)
	io.WriteString(w, "payment required")
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
