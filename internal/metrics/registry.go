package metrics

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// ContentType is the text exposition format's, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Collector is a source of families at scrape time: a registry's
// counters and vectors, or the process and Go runtime collectors.
type Collector interface {
	// names are the families it can write, for the registry to refuse
	// a name twice.
	names() []string
	// collect appends its families, read now, to fs.
	collect(fs []family) []family
}

// Registry holds families and writes them. It is safe for concurrent
// use. Registering a name twice, or an invalid name or label, is a
// programming error: the constructors panic.
type Registry struct {
	mu         sync.Mutex
	taken      map[string]bool
	collectors []Collector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{taken: map[string]bool{}}
}

// MustRegister adds collectors; it panics if a family's name is taken.
func (r *Registry) MustRegister(cs ...Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		for _, n := range c.names() {
			if r.taken[n] {
				panic(fmt.Sprintf("metrics: %q registered twice", n))
			}
			r.taken[n] = true
		}
		r.collectors = append(r.collectors, c)
	}
}

// Counter registers a counter without labels; it shows from the start,
// at 0.
func (r *Registry) Counter(name, help string) *Counter {
	c := r.CounterVec(name, help)
	return c.WithLabelValues()
}

// CounterVec registers a family of counters by the label names.
func (r *Registry) CounterVec(name, help string,
	labels ...string) *CounterVec {

	v := &vec[Counter]{desc: newDesc(name, help, "counter", labels),
		newMetric: func() *Counter { return new(Counter) },
		sample:    counterSample}
	r.MustRegister(v)
	return &CounterVec{v: v}
}

// GaugeVec registers a family of gauges by the label names.
func (r *Registry) GaugeVec(name, help string, labels ...string) *GaugeVec {
	v := &vec[Gauge]{desc: newDesc(name, help, "gauge", labels),
		newMetric: func() *Gauge { return new(Gauge) },
		sample:    gaugeSample}
	r.MustRegister(v)
	return &GaugeVec{v: v}
}

// HistogramVec registers a family of histograms with the buckets' upper
// bounds (ascending; +Inf is implied) by the label names.
func (r *Registry) HistogramVec(name, help string, buckets []float64,
	labels ...string) *HistogramVec {

	checkBuckets(name, buckets)
	upper := slices.Clone(buckets)
	le := bucketLabels(upper)
	v := &vec[Histogram]{desc: newDesc(name, help, "histogram", labels),
		newMetric: func() *Histogram { return newHistogram(upper, le) },
		sample:    histogramSample}
	r.MustRegister(v)
	return &HistogramVec{v: v}
}

// AppendText appends every family in the text exposition format, sorted
// by name: its HELP, TYPE and samples. A family with no series yet is
// left out.
func (r *Registry) AppendText(b []byte) []byte {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var fs []family
	for _, c := range cs {
		fs = c.collect(fs)
	}
	slices.SortStableFunc(fs, func(a, b family) int {
		return strings.Compare(a.name, b.name)
	})
	for _, f := range fs {
		b = appendFamily(b, f)
	}
	return b
}

// WriteTo implements io.WriterTo: the text AppendText writes.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.AppendText(nil))
	if err != nil {
		return int64(n), fmt.Errorf("unable to write the metrics: %w", err)
	}
	return int64(n), nil
}

// Handler serves the registry's families in the text format, for
// Prometheus to scrape.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		// A scraper that went away has nobody to be told.
		r.WriteTo(w)
	})
}
