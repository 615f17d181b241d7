package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/mpp"
	"github.com/prometheus/client_golang/prometheus"
)

// proxyStage is the chain's last stage: it counts the request (accepted
// or free, by reason), hands the backend the credential it should see
// (none with stripcredential, else the one that was verified), and
// proxies the request to the service's backend, timing it.
type proxyStage struct {
	proxies []*httputil.ReverseProxy // by route index
	schemes []Scheme                 // whose credentials are stripped
	metrics *Metrics

	// paid counts each service's paid requests for the admin API's
	// statistics (by route index; nil without a database).
	paid []*atomic.Int64

	// accepted counts each route's paid requests, and acceptedBy them by
	// scheme: resolved once, so that a paid request only adds.
	accepted   []prometheus.Counter
	acceptedBy [][numKinds]prometheus.Counter
}

// flowKey carries a proxied request's flow to the proxy's response and
// error hooks.
type flowKey struct{}

// newProxyStage builds the reverse proxy of every service.
func newProxyStage(cfg *Config, schemes []Scheme, log *slog.Logger,
	m *Metrics, paid *paidCounter) (*proxyStage, error) {

	s := &proxyStage{schemes: schemes, metrics: m}
	for _, sc := range cfg.Services {
		if paid != nil {
			s.paid = append(s.paid, paid.of(sc.Name))
		}
		p, err := newProxy(sc, cfg.CORS.on(), log, m)
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", sc.Name, err)
		}
		s.proxies = append(s.proxies, p)
		s.accepted = append(s.accepted, m.accepted.WithLabelValues(sc.Name))
		var by [numKinds]prometheus.Counter
		for k := range by {
			by[k] = m.credentials.WithLabelValues(sc.Name, schemeNames[k],
				"accepted")
		}
		s.acceptedBy = append(s.acceptedBy, by)
	}
	return s, nil
}

// serve implements stage.
func (s *proxyStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	sc := f.route.cfg
	if f.access == paid {
		s.accepted[f.route.index].Inc()
		if f.scheme != nil {
			s.acceptedBy[f.route.index][f.scheme.kind()].Inc()
		}
		if s.paid != nil {
			s.paid[f.route.index].Add(1)
		}
		if !sc.StripCredential && f.grant.Forward != "" {
			f.scheme.StripCredential(r.Header)
			r.Header.Add("Authorization", f.grant.Forward)
		}
	} else {
		s.metrics.free.WithLabelValues(sc.Name, f.freeReason).Inc()
	}
	if sc.StripCredential {
		for _, scheme := range s.schemes {
			scheme.StripCredential(r.Header)
		}
	}
	// The capability rules matched this request's method: the backend
	// is not told to take it as another one.
	for _, name := range methodOverrides {
		r.Header.Del(name)
	}

	f.start = time.Now()
	r = r.WithContext(context.WithValue(r.Context(), flowKey{}, f))
	s.proxies[f.route.index].ServeHTTP(w, r)
}

// methodOverrides are the headers with which clients ask a backend
// (Express's method-override, Rails, ASP.NET, Google's APIs) to treat a
// request as another method; serve drops them before proxying.
var methodOverrides = []string{"X-HTTP-Method-Override", "X-HTTP-Method",
	"X-Method-Override"}

// newProxy builds the reverse proxy to a service's backend. Its hooks
// record the backend's time to response headers, from the flow the
// request carries, and with ownCORS (cors is on) drop the backend's CORS
// headers: serve's, set before, are the answer's only ones.
func newProxy(sc ServiceConfig, ownCORS bool, log *slog.Logger,
	m *Metrics) (
	*httputil.ReverseProxy, error) {

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
			if ownCORS {
				for _, h := range corsHeaders {
					res.Header.Del(h)
				}
			}
			if f, ok := res.Request.Context().Value(flowKey{}).(*flow); ok {
				m.observeUpstream(name, res.StatusCode,
					time.Since(f.start))
				if f.receipt != "" {
					setReceipt(res.Header, f.receipt)
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request,
			err error) {
			m.observeUpstream(name, 0, 0)
			if f, ok := r.Context().Value(flowKey{}).(*flow); ok &&
				f.receipt != "" {
				// The payment was spent on this request: its
				// receipt goes with the answer, whatever it is.
				setReceipt(w.Header(), f.receipt)
			}
			if errors.Is(err, context.Canceled) {
				return
			}
			log.Warn("backend unreachable", "service", name, "err", err)
			answer(w, r, http.StatusBadGateway, grpcUnavailable,
				"the backend of service "+name+" is unreachable")
		},
	}, nil
}

// setReceipt puts the Payment-Receipt of a paid request on its response,
// which no shared cache may then keep (draft-httpauth-payment's private;
// a backend's no-store stays, being stricter).
func setReceipt(h http.Header, receipt string) {
	h.Set(mpp.HeaderReceipt, receipt)
	if !strings.Contains(strings.ToLower(h.Get("Cache-Control")),
		"no-store") {
		h.Set("Cache-Control", "private")
	}
}
