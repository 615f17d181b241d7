package serve

import (
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// limiter is one rate-limit rule: a token bucket per key (token ID, or
// client IP when unauthenticated), refilled at requests/per up to burst,
// for the maxBuckets keys used most recently.
type limiter struct {
	rule  RateLimitConfig
	every rate.Limit
	burst int

	mu      sync.Mutex
	buckets *simplelru.LRU[string, *rate.Limiter]
}

// maxBuckets bounds the keys one rule tracks. When it is reached the key
// used least recently is forgotten (it starts again with a full bucket),
// never a client that keeps asking.
const maxBuckets = 100_000

// newLimiter builds a limiter for a rule; burst defaults to requests.
func newLimiter(r RateLimitConfig) *limiter {
	burst := r.Burst
	if burst <= 0 {
		burst = r.Requests
	}
	buckets, err := simplelru.NewLRU[string, *rate.Limiter](maxBuckets, nil)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &limiter{rule: r,
		every: rate.Limit(float64(r.Requests) / r.Per.Seconds()),
		burst: burst, buckets: buckets}
}

// allow takes one token for key at now, or says how long until one is
// there.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	b, ok := l.buckets.Get(key)
	if !ok {
		b = rate.NewLimiter(l.every, l.burst) // starts full
		l.buckets.Add(key, b)
	}
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limitStage applies the ratelimits of the request's service, after
// authentication so that a paid request is counted per token and any
// other (a freebie too) per client. Every rule whose pathregexp matches
// must allow the request; a refused one gets 429 with Retry-After, or
// gRPC status 8.
type limitStage struct {
	chained
	limiters [][]*limiter // by route index
	now      func() time.Time
	metrics  *Metrics
}

// newLimitStage builds the limiters of every service's ratelimits.
func newLimitStage(cfg *Config, now func() time.Time,
	m *Metrics) *limitStage {

	s := &limitStage{now: now, metrics: m}
	for _, sc := range cfg.Services {
		var ls []*limiter
		for _, r := range sc.RateLimits {
			ls = append(ls, newLimiter(r))
		}
		s.limiters = append(s.limiters, ls)
	}
	return s
}

// serve implements stage.
func (s *limitStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	limiters := s.limiters[f.route.index]
	if len(limiters) == 0 {
		s.next.serve(w, r, f)
		return
	}
	key := f.limitKey()
	now := s.now()
	var wait time.Duration
	refused := false
	for _, l := range limiters {
		if l.rule.PathRegexp.Regexp != nil &&
			!l.rule.PathRegexp.MatchString(r.URL.Path) {
			continue
		}
		if ok, d := l.allow(key, now); !ok {
			refused = true
			wait = max(wait, d)
		}
	}
	if refused {
		s.metrics.limited.WithLabelValues(f.route.cfg.Name, "rule").Inc()
		refuse(w, r, wait)
		return
	}
	s.next.serve(w, r, f)
}
