package metrics

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
)

// Histogram counts observations in fixed buckets, with their sum. It is
// safe for concurrent use; Observe does not allocate.
type Histogram struct {
	upper []float64 // the buckets' upper bounds, ascending, shared
	le    []string  // upper as the le label writes them, then +Inf
	// counts holds each bucket's own observations (not cumulative),
	// and one more for those above the last bound.
	counts []atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

// newHistogram returns an empty histogram over the bounds upper, which
// le writes (bucketLabels').
func newHistogram(upper []float64, le []string) *Histogram {
	return &Histogram{upper: upper, le: le,
		counts: make([]atomic.Uint64, len(upper)+1)}
}

// bucketLabels returns the le label of each bound in upper, +Inf last.
func bucketLabels(upper []float64) []string {
	le := make([]string, 0, len(upper)+1)
	for _, u := range upper {
		le = append(le, `le="`+string(appendFloat(nil, u))+`"`)
	}
	return append(le, `le="+Inf"`)
}

// Observe records v: the first bucket whose upper bound is at least v
// counts it (a bucket's bound is inclusive, as Prometheus' le).
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.upper) && v > h.upper[i] {
		i++
	}
	h.counts[i].Add(1)
	addFloat(&h.sum, v)
}

// snapshot returns the cumulative count of each bucket, +Inf's last
// (the total count), and the sum. An observation that lands while it
// reads may be in the counts and not yet the sum; the counts always
// agree with one another.
func (h *Histogram) snapshot() (cumulative []uint64, sum float64) {
	cumulative = make([]uint64, len(h.counts))
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		cumulative[i] = n
	}
	return cumulative, math.Float64frombits(h.sum.Load())
}

// ExponentialBuckets returns count upper bounds, the first start and
// each the one before times factor.
func ExponentialBuckets(start, factor float64, count int) []float64 {
	if count < 1 || start <= 0 || factor <= 1 {
		panic(fmt.Sprintf("metrics: ExponentialBuckets(%v, %v, %d): "+
			"wants count >= 1, start > 0 and factor > 1", start, factor,
			count))
	}
	b := make([]float64, count)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// checkBuckets panics unless upper is a valid set of bounds: ascending,
// none NaN, and without +Inf, which every histogram has anyway.
func checkBuckets(name string, upper []float64) {
	if len(upper) == 0 || !slices.IsSorted(upper) ||
		slices.ContainsFunc(upper, math.IsNaN) ||
		slices.Contains(upper, math.Inf(1)) {
		panic(fmt.Sprintf("metrics: %s: the buckets %v are not ascending "+
			"finite bounds", name, upper))
	}
	for i := 1; i < len(upper); i++ {
		if upper[i] == upper[i-1] {
			panic(fmt.Sprintf("metrics: %s: the bucket %v twice", name,
				upper[i]))
		}
	}
}
