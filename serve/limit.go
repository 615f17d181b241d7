package serve

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
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

// clientFilter finds a request's client IP, trusting the X-Forwarded-For
// of trustedproxies, and knows the blocklist.
type clientFilter struct {
	trusted []*net.IPNet
	blocked map[string]bool
}

// newClientFilter builds the filter of cfg's trustedproxies and
// blocklist.
func newClientFilter(cfg *Config) (*clientFilter, error) {
	f := &clientFilter{blocked: map[string]bool{}}
	for _, cidr := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("trustedproxies: %w", err)
		}
		f.trusted = append(f.trusted, n)
	}
	for _, ip := range cfg.Blocklist {
		f.blocked[net.ParseIP(ip).String()] = true
	}
	return f, nil
}

// clientIP returns the request's client IP.
func (f *clientFilter) clientIP(r *http.Request) net.IP {
	return clientIP(r, f.trusted)
}

// blocks reports whether ip is on the blocklist.
func (f *clientFilter) blocks(ip net.IP) bool {
	return ip != nil && f.blocked[ip.String()]
}

// clientIP returns the request's client address: the connection's peer,
// or, when the peer is a trusted proxy, the last X-Forwarded-For entry
// not itself trusted.
func clientIP(r *http.Request, trusted []*net.IPNet) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || !inNets(ip, trusted) {
		return ip
	}

	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := net.ParseIP(strings.TrimSpace(hops[i]))
		if hop == nil {
			break
		}
		ip = hop
		if !inNets(hop, trusted) {
			break
		}
	}
	return ip
}

// inNets reports whether ip is in one of nets.
func inNets(ip net.IP, nets []*net.IPNet) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// freebies counts the free requests each client IP has had, for a
// service with "auth: freebie N". The count never resets while serve
// runs, as in Aperture; once maxBuckets IPs are tracked, new IPs get no
// free requests rather than the map growing.
type freebies struct {
	per int

	mu   sync.Mutex
	used map[string]int
}

// newFreebies returns a counter allowing per free requests per IP.
func newFreebies(per int) *freebies {
	return &freebies{per: per, used: map[string]int{}}
}

// take uses one of ip's free requests, if any is left.
func (f *freebies) take(ip string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.used[ip]
	if !ok && len(f.used) >= maxBuckets {
		return false
	}
	if n >= f.per {
		return false
	}
	f.used[ip] = n + 1
	return true
}
