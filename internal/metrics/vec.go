package metrics

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// CounterVec is a family of counters by label values.
type CounterVec struct {
	v *vec[Counter]
}

// WithLabelValues returns the counter of the label values (in the
// order of the family's label names), made the first time. It allocates
// nothing for a counter made before: callers on a hot path may still
// keep the *Counter and skip the lookup. It panics on a wrong number of
// values.
func (c *CounterVec) WithLabelValues(values ...string) *Counter {
	return c.v.with(values)
}

// GaugeVec is a family of gauges by label values.
type GaugeVec struct {
	v *vec[Gauge]
}

// WithLabelValues returns the gauge of the label values, made the first
// time (as CounterVec's).
func (g *GaugeVec) WithLabelValues(values ...string) *Gauge {
	return g.v.with(values)
}

// HistogramVec is a family of histograms, all with the same buckets, by
// label values.
type HistogramVec struct {
	v *vec[Histogram]
}

// WithLabelValues returns the histogram of the label values, made the
// first time (as CounterVec's).
func (h *HistogramVec) WithLabelValues(values ...string) *Histogram {
	return h.v.with(values)
}

// desc is what a family is: its name, help, type and label names.
type desc struct {
	name, help, typ string
	labels          []string
	// order lists the indices of labels in their names' order, the
	// order the exposition writes them in.
	order []int
}

// newDesc validates a family's name and labels (a bad one is a
// programming error: it panics) and returns its desc.
func newDesc(name, help, typ string, labels []string) desc {
	if !validName(name, true) {
		panic(fmt.Sprintf("metrics: %q is not a metric name", name))
	}
	for i, l := range labels {
		if !validName(l, false) || strings.HasPrefix(l, "__") ||
			(typ == "histogram" && l == "le") {
			panic(fmt.Sprintf("metrics: %s: %q is not a label name", name, l))
		}
		if slices.Contains(labels[:i], l) {
			panic(fmt.Sprintf("metrics: %s: the label %q twice", name, l))
		}
	}
	d := desc{name: name, help: help, typ: typ,
		labels: slices.Clone(labels), order: make([]int, len(labels))}
	for i := range d.order {
		d.order[i] = i
	}
	slices.SortFunc(d.order, func(a, b int) int {
		return strings.Compare(labels[a], labels[b])
	})
	return d
}

// validName reports whether s is a Prometheus metric name (colons
// allowed) or label name.
func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
			(i > 0 && r >= '0' && r <= '9') || (metric && r == ':')
		if !ok {
			return false
		}
	}
	return true
}

// vec is a family's series by label values, made on first use.
type vec[T any] struct {
	desc
	newMetric func() *T
	sample    func(b []byte, d *desc, pairs string, m *T) []byte

	mu     sync.RWMutex
	series map[string]*series[T]
}

// series is one child of a vec.
type series[T any] struct {
	sortKey []string // the label values in the order desc.order gives
	pairs   string   // `name="value",...` escaped, in that order
	m       *T
}

// with returns the series of values, made the first time. A lookup of
// one made before allocates nothing: the key is built on the stack (one
// label's key is its value).
func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s has %d labels, given %d values",
			v.name, len(v.labels), len(values)))
	}
	var s *series[T]
	if len(values) == 1 {
		v.mu.RLock()
		s = v.series[values[0]]
		v.mu.RUnlock()
	} else {
		var buf [128]byte
		key := appendKey(buf[:0], values)
		v.mu.RLock()
		s = v.series[string(key)]
		v.mu.RUnlock()
	}
	if s != nil {
		return s.m
	}
	return v.add(values)
}

// appendKey appends the map key of values to b: each value after its
// length, so that no two lists of values share a key whatever bytes
// they hold.
func appendKey(b []byte, values []string) []byte {
	for _, val := range values {
		b = binary.AppendUvarint(b, uint64(len(val)))
		b = append(b, val...)
	}
	return b
}

// add makes the series of values unless another goroutine just did.
func (v *vec[T]) add(values []string) *T {
	var key string
	if len(values) == 1 {
		key = values[0] // as with looks it up
	} else {
		key = string(appendKey(nil, values))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.series[key]; ok {
		return s.m
	}
	s := &series[T]{m: v.newMetric()}
	var pairs []byte
	for i, li := range v.order {
		val := strings.ToValidUTF8(values[li], string(utf8.RuneError))
		s.sortKey = append(s.sortKey, val)
		if i > 0 {
			pairs = append(pairs, ',')
		}
		pairs = append(pairs, v.labels[li]...)
		pairs = append(pairs, `="`...)
		pairs = appendLabelValue(pairs, val)
		pairs = append(pairs, '"')
	}
	s.pairs = string(pairs)
	if v.series == nil {
		v.series = map[string]*series[T]{}
	}
	v.series[key] = s
	return s.m
}

// names implements Collector.
func (v *vec[T]) names() []string {
	return []string{v.name}
}

// collect implements Collector: the family's series, sorted by their
// label values, or no family at all before its first series.
func (v *vec[T]) collect(fs []family) []family {
	v.mu.RLock()
	all := make([]*series[T], 0, len(v.series))
	for _, s := range v.series {
		all = append(all, s)
	}
	v.mu.RUnlock()
	if len(all) == 0 {
		return fs
	}
	slices.SortFunc(all, func(a, b *series[T]) int {
		return slices.Compare(a.sortKey, b.sortKey)
	})
	var b []byte
	for _, s := range all {
		b = v.sample(b, &v.desc, s.pairs, s.m)
	}
	return append(fs, family{name: v.name, help: v.help, typ: v.typ,
		samples: b})
}

// counterSample writes a counter's sample line.
func counterSample(b []byte, d *desc, pairs string, c *Counter) []byte {
	return appendSample(b, d.name, "", pairs, "", c.Value())
}

// gaugeSample writes a gauge's sample line.
func gaugeSample(b []byte, d *desc, pairs string, g *Gauge) []byte {
	return appendSample(b, d.name, "", pairs, "", g.Value())
}

// histogramSample writes a histogram's lines: each bucket's cumulative
// count (le, then +Inf), the sum and the count.
func histogramSample(b []byte, d *desc, pairs string, h *Histogram) []byte {
	counts, sum := h.snapshot()
	for i, n := range counts {
		b = appendSample(b, d.name, "_bucket", pairs, h.le[i], float64(n))
	}
	b = appendSample(b, d.name, "_sum", pairs, "", sum)
	return appendSample(b, d.name, "_count", pairs, "",
		float64(counts[len(counts)-1]))
}
