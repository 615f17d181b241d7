package metrics

import (
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestText holds the exposition to the text format 0.0.4 byte for byte:
// HELP and TYPE lines, label values and help escaped, labels in name
// order, series sorted by their values, a histogram's buckets
// cumulative with +Inf, _sum and _count, Prometheus' float forms, and
// no family for a vector without series.
func TestText(t *testing.T) {
	tests := []struct {
		name string
		fill func(r *Registry)
		want string
	}{{
		name: "counter without labels shows at 0",
		fill: func(r *Registry) { r.Counter("a_total", "As.") },
		want: "# HELP a_total As.\n# TYPE a_total counter\na_total 0\n",
	}, {
		name: "empty vector is left out",
		fill: func(r *Registry) {
			r.CounterVec("a_total", "As.", "x")
			r.GaugeVec("b", "Bs.", "x")
			r.HistogramVec("c", "Cs.", []float64{1}, "x")
		},
		want: "",
	}, {
		name: "labels in name order, series sorted by value",
		fill: func(r *Registry) {
			v := r.CounterVec("req_total", "Requests.", "service", "code")
			v.WithLabelValues("b", "2xx").Add(2)
			v.WithLabelValues("a", "5xx").Inc()
			v.WithLabelValues("a", "2xx").Add(1.5)
		},
		want: "# HELP req_total Requests.\n# TYPE req_total counter\n" +
			`req_total{code="2xx",service="a"} 1.5` + "\n" +
			`req_total{code="2xx",service="b"} 2` + "\n" +
			`req_total{code="5xx",service="a"} 1` + "\n",
	}, {
		name: "escaping of label values and help",
		fill: func(r *Registry) {
			r.GaugeVec("g", "back\\slash\nnew \"quoted\"", "s").
				WithLabelValues("a\\b\"c\nd").Set(-2)
		},
		want: "# HELP g back\\\\slash\\nnew \"quoted\"\n# TYPE g gauge\n" +
			`g{s="a\\b\"c\nd"} -2` + "\n",
	}, {
		name: "histogram buckets cumulative",
		fill: func(r *Registry) {
			h := r.HistogramVec("d_seconds", "Ds.", []float64{0.1, 1, 2.5},
				"s").WithLabelValues("x")
			for _, v := range []float64{0.05, 0.1, 0.7, 3, 100} {
				h.Observe(v)
			}
		},
		want: "# HELP d_seconds Ds.\n# TYPE d_seconds histogram\n" +
			`d_seconds_bucket{s="x",le="0.1"} 2` + "\n" +
			`d_seconds_bucket{s="x",le="1"} 3` + "\n" +
			`d_seconds_bucket{s="x",le="2.5"} 3` + "\n" +
			`d_seconds_bucket{s="x",le="+Inf"} 5` + "\n" +
			`d_seconds_sum{s="x"} 103.85` + "\n" +
			`d_seconds_count{s="x"} 5` + "\n",
	}, {
		name: "families sorted by name",
		fill: func(r *Registry) {
			r.Counter("z_total", "Z.")
			r.GaugeVec("m", "M.").WithLabelValues().Set(1e21)
			r.Counter("a_total", "A.").Add(0.25)
		},
		want: "# HELP a_total A.\n# TYPE a_total counter\na_total 0.25\n" +
			"# HELP m M.\n# TYPE m gauge\nm 1e+21\n" +
			"# HELP z_total Z.\n# TYPE z_total counter\nz_total 0\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			tc.fill(r)
			if got := string(r.AppendText(nil)); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestAppendFloat holds values to Prometheus' forms.
func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"},
		{0.5, "0.5"}, {784960, "784960"}, {1447434, "1.447434e+06"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {0.0025, "0.0025"},
		{math.MaxUint64, "1.8446744073709552e+19"},
		{math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := string(appendFloat(nil, tc.v)); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestExponentialBuckets holds the bounds to start times factor, the
// products taken one after another (as Prometheus' client does, so
// the le labels read the same).
func TestExponentialBuckets(t *testing.T) {
	got := fmt.Sprint(ExponentialBuckets(0.001, 2.5, 12))
	want := "[0.001 0.0025 0.00625 0.015625 0.0390625 0.09765625 " +
		"0.244140625 0.6103515625 1.52587890625 3.814697265625 " +
		"9.5367431640625 23.84185791015625]"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestPanics holds programming errors to a panic at the call: a wrong
// number of label values, a name twice, invalid names, a counter that
// goes down, bad buckets.
func TestPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(r *Registry)
	}{
		{"too few values", func(r *Registry) {
			r.CounterVec("a_total", "A.", "x", "y").WithLabelValues("1")
		}},
		{"too many values", func(r *Registry) {
			r.GaugeVec("a", "A.", "x").WithLabelValues("1", "2")
		}},
		{"name twice", func(r *Registry) {
			r.Counter("a_total", "A.")
			r.GaugeVec("a_total", "A.")
		}},
		{"name of a Go family twice", func(r *Registry) {
			r.MustRegister(GoCollector())
			r.Counter("go_goroutines", "G.")
		}},
		{"bad metric name", func(r *Registry) { r.Counter("1a", "A.") }},
		{"bad label name", func(r *Registry) {
			r.CounterVec("a_total", "A.", "a-b")
		}},
		{"reserved label name", func(r *Registry) {
			r.CounterVec("a_total", "A.", "__x")
		}},
		{"le on a histogram", func(r *Registry) {
			r.HistogramVec("h", "H.", []float64{1}, "le")
		}},
		{"label twice", func(r *Registry) {
			r.CounterVec("a_total", "A.", "x", "x")
		}},
		{"counter down", func(r *Registry) {
			r.Counter("a_total", "A.").Add(-1)
		}},
		{"buckets not ascending", func(r *Registry) {
			r.HistogramVec("h", "H.", []float64{2, 1})
		}},
		{"bucket twice", func(r *Registry) {
			r.HistogramVec("h", "H.", []float64{1, 1})
		}},
		{"bucket +Inf", func(r *Registry) {
			r.HistogramVec("h", "H.", []float64{1, math.Inf(1)})
		}},
		{"no buckets", func(r *Registry) { r.HistogramVec("h", "H.", nil) }},
		{"bad exponential buckets", func(*Registry) {
			ExponentialBuckets(1, 1, 3)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.do(NewRegistry())
		})
	}
}

// TestHotPathAllocations holds a lookup of an existing child, and what
// is done with it, to no allocation: serve counts on every request.
func TestHotPathAllocations(t *testing.T) {
	r := NewRegistry()
	c1 := r.CounterVec("a_total", "A.", "service")
	c3 := r.CounterVec("b_total", "B.", "service", "scheme", "outcome")
	g := r.GaugeVec("c", "C.", "service")
	h := r.HistogramVec("d", "D.", ExponentialBuckets(0.001, 2.5, 12),
		"service", "code")
	service := strings.Repeat("s", 60)
	for _, tc := range []struct {
		name string
		do   func()
	}{
		{"one label Inc", func() { c1.WithLabelValues(service).Inc() }},
		{"three labels Add", func() {
			c3.WithLabelValues(service, "payment", "accepted").Add(3)
		}},
		{"gauge Inc Dec", func() {
			g.WithLabelValues(service).Inc()
			g.WithLabelValues(service).Dec()
		}},
		{"histogram Observe", func() {
			h.WithLabelValues(service, "2xx").Observe(0.02)
		}},
	} {
		tc.do() // the child is made
		if n := testing.AllocsPerRun(1000, tc.do); n != 0 {
			t.Errorf("%s: %v allocations", tc.name, n)
		}
	}
}

// TestConcurrent counts from many goroutines while scraping (run with
// -race): no count is lost and every scrape parses.
func TestConcurrent(t *testing.T) {
	r := NewRegistry()
	c := r.CounterVec("a_total", "A.", "service", "reason")
	g := r.GaugeVec("b", "B.", "service")
	h := r.HistogramVec("c", "C.", []float64{1, 2}, "service")
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			service := fmt.Sprint("s", w%2)
			for i := range each {
				c.WithLabelValues(service, "x").Inc()
				c.WithLabelValues(service, "y").Add(0.5)
				g.WithLabelValues(service).Inc()
				h.WithLabelValues(service).Observe(float64(i % 3))
			}
		})
	}
	stop := make(chan struct{})
	scraped := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				close(scraped)
				return
			default:
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			_, err := p.TextToMetricFamilies(strings.NewReader(
				string(r.AppendText(nil))))
			if err != nil {
				scraped <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-scraped; err != nil {
		t.Fatalf("a scrape during the counting: %v", err)
	}
	for _, tc := range []struct {
		got, want float64
	}{
		{c.WithLabelValues("s0", "x").Value(), workers / 2 * each},
		{c.WithLabelValues("s1", "y").Value(), workers / 2 * each * 0.5},
		{g.WithLabelValues("s1").Value(), workers / 2 * each},
	} {
		if tc.got != tc.want {
			t.Errorf("got %v, want %v", tc.got, tc.want)
		}
	}
	counts, sum := h.WithLabelValues("s0").snapshot()
	if counts[len(counts)-1] != workers/2*each || sum != 4*(0+1+2)*
		float64(each/3)+4*(0+1) {
		t.Errorf("histogram: counts %v, sum %v", counts, sum)
	}
}

// TestHandler serves the registry with the text format's Content-Type,
// and Prometheus' own parser reads every family back with its type,
// the process and Go runtime ones included.
func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.MustRegister(ProcessCollector(), GoCollector())
	r.HistogramVec("h_seconds", "H.", []float64{1}, "s").
		WithLabelValues("x").Observe(0.5)
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct !=
		"text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("not the text format: %v", err)
	}
	want := map[string]dto.MetricType{
		"h_seconds":                     dto.MetricType_HISTOGRAM,
		"go_gc_duration_seconds":        dto.MetricType_SUMMARY,
		"go_goroutines":                 dto.MetricType_GAUGE,
		"go_info":                       dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes_total": dto.MetricType_COUNTER,
		"go_memstats_heap_inuse_bytes":  dto.MetricType_GAUGE,
		"go_threads":                    dto.MetricType_GAUGE,
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		want["process_cpu_seconds_total"] = dto.MetricType_COUNTER
		want["process_resident_memory_bytes"] = dto.MetricType_GAUGE
		want["process_open_fds"] = dto.MetricType_GAUGE
		want["process_start_time_seconds"] = dto.MetricType_GAUGE
	}
	for name, typ := range want {
		f, ok := fams[name]
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), typ)
		}
	}
	if len(fams) != 1+2+len(goFamilies)+countProcess() {
		t.Errorf("%d families", len(fams))
	}
	if q := fams["go_gc_duration_seconds"].GetMetric()[0].GetSummary().
		GetQuantile(); len(q) != 5 || q[2].GetQuantile() != 0.5 {
		t.Errorf("go_gc_duration_seconds' quantiles: %v", q)
	}
	if fams["go_goroutines"].GetMetric()[0].GetGauge().GetValue() < 1 {
		t.Error("no goroutine")
	}
}

// countProcess is how many process families this system gives.
func countProcess() int {
	return len(ProcessCollector().collect(nil))
}

// TestProcessCollector reads a made-up /proc (testdata/proc): each
// family from its file and field.
func TestProcessCollector(t *testing.T) {
	fams := processCollector{proc: "testdata/proc"}.collect(nil)
	got := map[string]string{}
	for _, f := range fams {
		got[f.name] = f.typ + " " + string(f.samples)
	}
	rss := string(appendFloat(nil, 5806*float64(os.Getpagesize())))
	want := map[string]string{
		"process_cpu_seconds_total": "counter " +
			"process_cpu_seconds_total 3.75\n",
		"process_max_fds": "gauge process_max_fds 20000\n",
		"process_network_receive_bytes_total": "counter " +
			"process_network_receive_bytes_total 2.618633268e+09\n",
		"process_network_transmit_bytes_total": "counter " +
			"process_network_transmit_bytes_total 2.142212312e+09\n",
		"process_open_fds": "gauge process_open_fds 3\n",
		"process_resident_memory_bytes": "gauge " +
			"process_resident_memory_bytes " + rss + "\n",
		"process_start_time_seconds": "gauge " +
			"process_start_time_seconds 1.79618005e+09\n",
		"process_virtual_memory_bytes": "gauge " +
			"process_virtual_memory_bytes 1.700061184e+09\n",
		"process_virtual_memory_max_bytes": "gauge " +
			"process_virtual_memory_max_bytes 1.8446744073709552e+19\n",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d families, want %d", len(got), len(want))
	}
	if fams := (processCollector{proc: "testdata/none"}).collect(nil); len(fams) != 0 {
		t.Errorf("without /proc: %d families", len(fams))
	}
}

// TestSeriesKeys holds label values that share bytes to series of their
// own: a value may hold any byte, a separator's included.
func TestSeriesKeys(t *testing.T) {
	r := NewRegistry()
	v := r.CounterVec("a_total", "A.", "x", "y")
	v.WithLabelValues("a\xffb", "c").Inc()
	v.WithLabelValues("a", "b\xffc").Add(2)
	v.WithLabelValues("", "").Add(3)
	v.WithLabelValues("a\x01", "").Add(4)
	for _, tc := range []struct {
		x, y string
		want float64
	}{
		{"a\xffb", "c", 1}, {"a", "b\xffc", 2}, {"", "", 3}, {"a\x01", "", 4},
	} {
		if got := v.WithLabelValues(tc.x, tc.y).Value(); got != tc.want {
			t.Errorf("%q %q: %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	one := r.GaugeVec("b", "B.", "x")
	one.WithLabelValues("s").Set(5)
	if got := one.WithLabelValues("s").Value(); got != 5 {
		t.Errorf("one label: %v", got)
	}
	if got := r.AppendText(nil); !strings.Contains(string(got),
		"a_total{x=\"a\uFFFDb\",y=\"c\"} 1\n") {
		t.Errorf("invalid UTF-8 not replaced:\n%s", got)
	}
}
