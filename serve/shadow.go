package serve

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/metrics"
	"github.com/l402/l402/internal/store"
)

// A service's modes (ours): live sells; shadow prices every unpaid
// request as live would, logs and counts the challenge it would send, and
// lets the request through free, so that an operator can see what an API
// would earn before switching it on.
const (
	modeLive   = "live"
	modeShadow = "shadow"
)

// shadow reports whether the service is in shadow mode.
func (s *ServiceConfig) shadow() bool {
	return s.Mode == modeShadow
}

// checkMode validates mode.
func (s *ServiceConfig) checkMode(bad func(string, ...any)) {
	switch s.Mode {
	case "", modeLive, modeShadow:
	default:
		bad("mode %q is not live or shadow", s.Mode)
	}
}

// modeOf is a service's mode as the admin API shows it.
func modeOf(sc ServiceConfig) string {
	if sc.shadow() {
		return modeShadow
	}
	return modeLive
}

// shadowMetrics registers shadow mode's counters with counter.
func shadowMetrics(counter func(name, help string,
	labels ...string) *metrics.CounterVec) (challenges,
	revenue *metrics.CounterVec) {

	return counter("shadow_challenges_total",
			"Challenges a service in shadow mode would have sent (the "+
				"request passed free).", "service"),
		counter("shadow_revenue_sat_total",
			"Satoshis the would-be challenges of shadow mode asked: "+
				"the revenue if every one had been paid.", "service")
}

// shadow does for an unpaid request of a service in shadow mode what the
// challenge stage would do, short of the invoice: where live would send
// a 402, it prices the request (asking the price server, for a dynamic
// price), logs the challenge it would send and counts it. No invoice is
// made and no token minted, so nothing is left to prune and the node is
// not asked; the challenge limit, which guards the node's invoices, does
// not apply. Where live would answer otherwise (401 on
// authskipinvoicecreationpaths, 414, a price of 0, a price server that
// fails) nothing is counted. The caller lets the request through.
func (s *challengeStage) shadow(r *http.Request, f *flow) {
	f.pass(free, "shadow")
	name := f.route.cfg.Name
	if anyMatch(f.route.cfg.AuthSkipInvoiceCreationPaths, r.URL.Path) {
		return
	}
	price := s.offers[f.route.index].PriceSat
	if pricer := s.pricers[f.route.index]; pricer != nil {
		if len(resourceOf(r.URL)) > l402.MaxResourceLen {
			return
		}
		p, err := pricer.Price(r.Context(), r)
		if err != nil {
			s.log.Warn("shadow mode: unable to price the request",
				"service", name, "err", err)
			return
		}
		if p == 0 {
			return
		}
		price = p
	}
	s.log.Info("shadow mode: a challenge not sent", "service", name,
		"path", r.URL.Path, "price_sat", price)
	s.metrics.shadowChallenges.WithLabelValues(name).Inc()
	s.metrics.shadowRevenue.WithLabelValues(name).Add(float64(price))
	if s.shadowed != nil {
		s.shadowed.add(name, price)
	}
}

// shadowCounter counts shadow mode's would-be challenges and their
// prices by service between two flushes to the database.
type shadowCounter struct {
	mu     sync.Mutex
	counts map[string]*shadowCount
}

// shadowCount is one service's count.
type shadowCount struct {
	challenges, sat atomic.Int64
}

// newShadowCounter returns an empty counter.
func newShadowCounter() *shadowCounter {
	return &shadowCounter{counts: map[string]*shadowCount{}}
}

// of returns the count of a service.
func (c *shadowCounter) of(service string) *shadowCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.counts[service]
	if n == nil {
		n = &shadowCount{}
		c.counts[service] = n
	}
	return n
}

// add counts one would-be challenge of a price.
func (c *shadowCounter) add(service string, price int64) {
	n := c.of(service)
	n.challenges.Add(1)
	n.sat.Add(price)
}

// take returns the counts since the last take, and zeroes them.
func (c *shadowCounter) take() map[string]store.Shadow {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out map[string]store.Shadow
	for name, n := range c.counts {
		ch := n.challenges.Swap(0)
		sat := n.sat.Swap(0)
		if ch == 0 && sat == 0 {
			continue
		}
		if out == nil {
			out = map[string]store.Shadow{}
		}
		out[name] = store.Shadow{Challenges: ch, PriceSat: sat}
	}
	return out
}

// giveBack adds counts that could not be stored back, for the next flush.
func (c *shadowCounter) giveBack(counts map[string]store.Shadow) {
	for name, n := range counts {
		sc := c.of(name)
		sc.challenges.Add(n.Challenges)
		sc.sat.Add(n.PriceSat)
	}
}

// flushShadow adds the would-be challenges counted since the last flush
// to the database, on the day of the flush.
func (s *server) flushShadow(ctx context.Context) error {
	counts := s.sync.shadow.take()
	if len(counts) == 0 {
		return nil
	}
	if err := s.db.AddShadowChallenges(ctx, time.Now(), counts); err != nil {
		s.sync.shadow.giveBack(counts)
		return err
	}
	return nil
}
