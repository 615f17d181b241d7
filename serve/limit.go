package serve

import (
	"math"
	"net/http"
	"sync"
	"time"
)

// bucket is one token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// limiter is one rate-limit rule: a token bucket per key (token ID, or
// client IP when unauthenticated), refilled at requests/per up to burst.
type limiter struct {
	rule  RateLimitConfig
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

// maxBuckets bounds the keys one rule tracks; full buckets are dropped
// first when it is reached.
const maxBuckets = 100_000

// newLimiter builds a limiter for a rule; burst defaults to requests.
func newLimiter(r RateLimitConfig) *limiter {
	burst := float64(r.Burst)
	if burst <= 0 {
		burst = float64(r.Requests)
	}
	return &limiter{rule: r, rate: float64(r.Requests) / r.Per.Seconds(),
		burst: burst, buckets: map[string]*bucket{}}
}

// allow takes one token for key at now, or says how long until one is
// there.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()

	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// prune drops the buckets that have refilled completely: forgetting them
// changes nothing. If none has, it drops them all rather than grow.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		l.buckets = map[string]*bucket{}
	}
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
