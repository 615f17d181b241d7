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
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/metrics"
	"github.com/l402/l402/internal/mpp"
)

// proxyStage is the chain's last stage: it counts the request (accepted
// or free, by reason), hands the backend the credential it should see
// (none with stripcredential, else the one that was verified), and
// proxies the request to the service's backend, timing it.
type proxyStage struct {
	proxies []*httputil.ReverseProxy // by route index
	counts  []*routeCounts           // by route index
	schemes []Scheme                 // whose credentials are stripped

	// window is writetimeout, a rolling window between the writes of a
	// proxied response (writewindow.go); 0: none.
	window time.Duration

	// paid counts each service's paid requests for the admin API's
	// statistics (by route index; nil without a database).
	paid []*atomic.Int64

	// accepted counts each route's paid requests, and acceptedBy them by
	// scheme: resolved once, so that a paid request only adds.
	accepted   []*metrics.Counter
	acceptedBy [][numKinds]*metrics.Counter
}

// flowKey carries the flow of a request with a Payment-Receipt to the
// proxy's response and error hooks, which put the receipt on the
// answer. Other requests carry none: copying a request for its context
// costs every request.
type flowKey struct{}

// newProxyStage builds the reverse proxy of every service.
func newProxyStage(cfg *Config, schemes []Scheme, log *slog.Logger,
	m *Metrics, paid *paidCounter) (*proxyStage, error) {

	_, _, window := cfg.timeouts()
	s := &proxyStage{schemes: schemes, window: window}
	for _, sc := range cfg.Services {
		if paid != nil {
			s.paid = append(s.paid, paid.of(sc.Name))
		}
		counts := newRouteCounts(m, sc.Name)
		p, err := newProxy(sc, cfg.CORS.on(), log, counts)
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", sc.Name, err)
		}
		s.proxies = append(s.proxies, p)
		s.counts = append(s.counts, counts)
		s.accepted = append(s.accepted, m.accepted.WithLabelValues(sc.Name))
		var by [numKinds]*metrics.Counter
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
		s.counts[f.route.index].free(f.freeReason).Inc()
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
	if f.receipt != "" {
		r = r.WithContext(context.WithValue(r.Context(), flowKey{}, f))
	}
	s.proxies[f.route.index].ServeHTTP(withWindow(w, s.window), r)
}

// methodOverrides are the headers with which clients ask a backend
// (Express's method-override, Rails, ASP.NET, Google's APIs) to treat a
// request as another method; serve drops them before proxying.
var methodOverrides = []string{"X-HTTP-Method-Override", "X-HTTP-Method",
	"X-Method-Override"}

// newProxy builds the reverse proxy to a service's backend. Its
// transport records the backend's time to response headers; with
// ownCORS (cors is on) the backend's CORS headers are dropped (serve's,
// set before, are the answer's only ones), and a paid request's
// Payment-Receipt goes on its answer, whatever the backend did.
func newProxy(sc ServiceConfig, ownCORS bool, log *slog.Logger,
	counts *routeCounts) (*httputil.ReverseProxy, error) {

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
		Transport:  timedTransport{rt: transport, counts: counts},
		BufferPool: copyBuffers,
		ModifyResponse: func(res *http.Response) error {
			if ownCORS {
				for _, h := range corsHeaders {
					res.Header.Del(h)
				}
			}
			ctx := res.Request.Context()
			if f, ok := ctx.Value(flowKey{}).(*flow); ok {
				setReceipt(res.Header, f.receipt)
			}
			if c, ok := ctx.Value(meterCallKey{}).(*meterCall); ok {
				c.observe(res)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request,
			err error) {
			if f, ok := r.Context().Value(flowKey{}).(*flow); ok {
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

// timedTransport observes each round trip to a backend: its time to
// the response headers by status class, or an error.
type timedTransport struct {
	rt     http.RoundTripper
	counts *routeCounts
}

// RoundTrip implements http.RoundTripper.
func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.rt.RoundTrip(r)
	if err != nil {
		t.counts.upstream(0).Observe(0)
		return nil, err
	}
	t.counts.upstream(res.StatusCode).Observe(time.Since(start).Seconds())
	return res, nil
}

// copyBuffers are the buffers the reverse proxies copy bodies through,
// shared by every service: without a pool, each request allocates (and
// the collector then scans and frees) 32 KiB of its own.
var copyBuffers = &bufferPool{}

// copyBufferSize is httputil.ReverseProxy's own buffer size.
const copyBufferSize = 32 << 10

// bufferPool is an httputil.BufferPool over a sync.Pool of arrays: a
// slice handed back converts to its array's pointer, so that neither Get
// nor Put allocates.
type bufferPool struct {
	pool sync.Pool
}

// Get implements httputil.BufferPool.
func (p *bufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[copyBufferSize]byte); ok {
		return b[:]
	}
	return new([copyBufferSize]byte)[:]
}

// Put implements httputil.BufferPool.
func (p *bufferPool) Put(b []byte) {
	if cap(b) == copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}

// routeCounts are one service's metrics on the proxy's path (the free
// counters and the upstream histogram; the accepted ones are bound at
// start), each bound
// to its label values the first time it is used: a request then skips
// WithLabelValues' hashing and locking, and a series appears on
// /metrics only once it has counted something.
type routeCounts struct {
	m       *Metrics
	service string

	freeC     [len(freeReasons)]boundCounter
	upstreamC [len(statusLabels)]boundObserver
}

// freeReasons are the reasons a request passes without a token (the
// free counter's reason label).
var freeReasons = [...]string{"auth_disabled", "auth_off", "whitelist",
	"freebie", "zero_price"}

// boundCounter and boundObserver are a counter and a histogram of a
// vector, bound on first use.
type boundCounter struct {
	once sync.Once
	c    *metrics.Counter
}

type boundObserver struct {
	once sync.Once
	o    *metrics.Histogram
}

// newRouteCounts returns the service's bound metrics.
func newRouteCounts(m *Metrics, service string) *routeCounts {
	return &routeCounts{m: m, service: service}
}

// free is the service's free_requests_total for reason.
func (c *routeCounts) free(reason string) *metrics.Counter {
	for i, r := range freeReasons {
		if r == reason {
			b := &c.freeC[i]
			b.once.Do(func() {
				b.c = c.m.free.WithLabelValues(c.service, reason)
			})
			return b.c
		}
	}
	return c.m.free.WithLabelValues(c.service, reason)
}

// upstream is the service's upstream_duration_seconds for a backend's
// status code (0: no answer).
func (c *routeCounts) upstream(code int) *metrics.Histogram {
	i := statusIndex(code)
	b := &c.upstreamC[i]
	b.once.Do(func() {
		b.o = c.m.upstream.WithLabelValues(c.service, statusLabels[i])
	})
	return b.o
}
