package serve

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/store"
)

// DefaultSyncInterval is how often every replica reads the database for
// services changed through the admin API, revocations, and to add its
// paid requests; the revocation lease is four intervals.
const DefaultSyncInterval = 500 * time.Millisecond

// leaseIntervals is the revocation lease in sync intervals: a replica that
// could not read the revocations for that long asks the database on every
// paid request.
const leaseIntervals = 4

// sync is what a server shares with the other replicas of its database:
// the admin services it applies, the revocations it refuses and the paid
// requests it counts.
type syncState struct {
	interval time.Duration

	// mu serialises rebuilds of the handler; file is the config file in
	// force, rows and gen the admin services last applied over it,
	// services the services in force.
	mu       sync.Mutex
	file     *Config
	rows     []store.ServiceRow
	gen      int64
	services atomic.Pointer[[]effectiveService]

	revoked *revocations
	paid    *paidCounter
	shadow  *shadowCounter
}

// newSyncState returns the state of a server with db.
func newSyncState(db *store.Store, interval time.Duration) *syncState {
	if interval <= 0 {
		interval = DefaultSyncInterval
	}
	st := &syncState{interval: interval, paid: newPaidCounter(),
		shadow: newShadowCounter()}
	st.revoked = newRevocations(db, leaseIntervals*interval, time.Now)
	st.services.Store(&[]effectiveService{})
	return st
}

// lease is how long a revocation may take to reach every replica.
func (st *syncState) lease() time.Duration {
	return leaseIntervals * st.interval
}

// merged returns cfg with its services replaced by those in force with
// the admin rows, and the services with their sources; bad rows are
// logged and left out.
func (s *server) merged(cfg *Config, rows []store.ServiceRow) (*Config,
	[]effectiveService) {

	eff, bad := mergeServices(cfg.Services, rows)
	for _, err := range bad {
		s.log.Error("an admin service is left out", "err", err)
	}
	out := *cfg
	out.Services = make([]ServiceConfig, len(eff))
	for i, e := range eff {
		out.Services[i] = e.cfg
	}
	return &out, eff
}

// loadServices reads the admin rows and applies them with the config:
// the first handler, a reload, another replica's change, or this one's.
// It keeps the old handler when the new one cannot be built, and returns
// the config in force. Without a database (a server built by a test of
// the handler alone) the config's services are the ones in force.
func (s *server) loadServices(ctx context.Context, cfg *Config) (*Config,
	error) {

	st := s.sync
	if st == nil {
		h, err := s.handler(cfg)
		if err != nil {
			return nil, err
		}
		s.swap(h)
		return cfg, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	rows, gen, err := s.db.ServiceRows(ctx)
	if err != nil {
		return nil, err
	}
	merged, eff := s.merged(cfg, rows)
	h, err := s.handler(merged)
	if err != nil {
		return nil, err
	}
	st.file, st.rows, st.gen = cfg, rows, gen
	st.services.Store(&eff)
	s.swap(h)
	return merged, nil
}

// swap puts h in force.
func (s *server) swap(h *Handler) {
	if old := s.current.Swap(h); old != nil {
		// Requests still in the old handler may be pricing.
		time.AfterFunc(time.Minute, old.Close)
	}
	s.filter.Store(h.filter)
}

// syncLoop reads, every interval until ctx ends, the revocations (which
// renews the lease), the services generation (rebuilding the handler when
// another replica changed a service) and adds this replica's paid
// requests.
func (s *server) syncLoop(ctx context.Context) {
	st := s.sync
	t := time.NewTicker(st.interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			s.flushPaid(context.Background())
			s.flushShadow(context.Background())
			return
		case <-t.C:
		}
		err := s.syncOnce(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.log.Warn("unable to read the database for admin changes; "+
				"paid requests check revocations in the database until "+
				"it answers", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("the database answers again")
			failing = false
		}
	}
}

// syncOnce is one round of syncLoop.
func (s *server) syncOnce(ctx context.Context) error {
	st := s.sync
	if err := st.revoked.refresh(ctx); err != nil {
		return err
	}
	g, err := s.db.Generations(ctx)
	if err != nil {
		return err
	}
	st.mu.Lock()
	changed := g.Services != st.gen
	cfg := st.file
	st.mu.Unlock()
	if changed {
		in, err := s.loadServices(ctx, cfg)
		if err != nil {
			return err
		}
		s.log.Info("services changed through the admin API applied",
			"prices", priceList(in))
	}
	if err := s.flushShadow(ctx); err != nil {
		return err
	}
	return s.flushPaid(ctx)
}

// flushPaid adds the paid requests counted since the last flush to the
// database, on the day of the flush.
func (s *server) flushPaid(ctx context.Context) error {
	counts := s.sync.paid.take()
	if len(counts) == 0 {
		return nil
	}
	if err := s.db.AddPaidRequests(ctx, time.Now(), counts); err != nil {
		s.sync.paid.giveBack(counts)
		return err
	}
	return nil
}

// paidCounter counts the requests served with a paid token, by service,
// between two flushes: the proxy stage adds to a counter it looked up
// when it was built, so that a paid request costs one atomic add.
type paidCounter struct {
	mu     sync.Mutex
	counts map[string]*atomic.Int64
}

// newPaidCounter returns an empty counter.
func newPaidCounter() *paidCounter {
	return &paidCounter{counts: map[string]*atomic.Int64{}}
}

// of returns the counter of a service.
func (p *paidCounter) of(service string) *atomic.Int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts[service]
	if c == nil {
		c = new(atomic.Int64)
		p.counts[service] = c
	}
	return c
}

// take returns the counts since the last take, and zeroes them.
func (p *paidCounter) take() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out map[string]int64
	for name, c := range p.counts {
		if n := c.Swap(0); n > 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[name] = n
		}
	}
	return out
}

// giveBack adds counts that could not be stored back, for the next flush.
func (p *paidCounter) giveBack(counts map[string]int64) {
	for name, n := range counts {
		p.of(name).Add(n)
	}
}
