// Package metrics is serve's Prometheus instrumentation: counters, gauges
// and fixed-bucket histograms, by label values, in a registry served in
// Prometheus' text exposition format 0.0.4.
//
// It replaces Prometheus' Go client, whose packages (and procfs and
// runtime/metrics under them) initialised at every start of the l402
// binary, whatever the command, for an endpoint only serve has. Nothing
// here runs at init: the process and Go runtime families read /proc/self
// and the runtime when they are scraped.
package metrics

import (
	"math"
	"sync/atomic"
)

// Counter is a value that only goes up. It is safe for concurrent use;
// Inc and Add do not allocate.
type Counter struct {
	// n holds whole increments and f the fractional adds (float64
	// bits): Inc, the common case, is one atomic add.
	n atomic.Uint64
	f atomic.Uint64
}

// Inc adds one.
func (c *Counter) Inc() {
	c.n.Add(1)
}

// Add adds v, which must not be negative (a counter that went down would
// read as a reset): Add panics then, as a programming error.
func (c *Counter) Add(v float64) {
	if v < 0 {
		panic("metrics: a counter cannot decrease")
	}
	if u := uint64(v); v < 1<<63 && float64(u) == v {
		c.n.Add(u)
		return
	}
	addFloat(&c.f, v)
}

// Value returns the counter's value.
func (c *Counter) Value() float64 {
	return float64(c.n.Load()) + math.Float64frombits(c.f.Load())
}

// Gauge is a value that goes up and down. It is safe for concurrent use;
// its methods do not allocate.
type Gauge struct {
	bits atomic.Uint64
}

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) {
	g.bits.Store(math.Float64bits(v))
}

// Inc adds one.
func (g *Gauge) Inc() {
	addFloat(&g.bits, 1)
}

// Dec subtracts one.
func (g *Gauge) Dec() {
	addFloat(&g.bits, -1)
}

// Add adds v (which may be negative).
func (g *Gauge) Add(v float64) {
	addFloat(&g.bits, v)
}

// Value returns the gauge's value.
func (g *Gauge) Value() float64 {
	return math.Float64frombits(g.bits.Load())
}

// addFloat adds v to the float64 whose bits b holds, atomically: a
// compare-and-swap loop, there being no atomic float add.
func addFloat(b *atomic.Uint64, v float64) {
	for {
		old := b.Load()
		if b.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}
