package serve

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// touchAll counts once in every series family of m, so that each one
// shows on /metrics (a vector shows only the children it has).
func touchAll(m *Metrics) {
	for _, c := range []struct {
		inc    func(...string)
		labels int
	}{
		{func(v ...string) { m.challenges.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.challengeErrors.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.accepted.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.rejected.WithLabelValues(v...).Inc() }, 2},
		{func(v ...string) { m.free.WithLabelValues(v...).Inc() }, 2},
		{func(v ...string) { m.limited.WithLabelValues(v...).Inc() }, 2},
		{func(v ...string) { m.upstream.WithLabelValues(v...).Observe(0.01) }, 2},
		{func(v ...string) { m.shadowChallenges.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.shadowRevenue.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.challengesByScheme.WithLabelValues(v...).Inc() }, 2},
		{func(v ...string) { m.credentials.WithLabelValues(v...).Inc() }, 3},
		{func(v ...string) { m.sessionsOpened.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.sessionDeposits.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.sessionsClosed.WithLabelValues(v...).Inc() }, 2},
		{func(v ...string) { m.sessionRefunds.WithLabelValues(v...).Inc() }, 2},
		{func(v ...string) { m.meterBooked.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterActivated.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterExhausted.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterRefused.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterTokens.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterDebited.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterUnbilled.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterInFlight.WithLabelValues(v...).Inc() }, 1},
		{func(v ...string) { m.meterPruned.WithLabelValues(v...).Inc() }, 1},
		{func(...string) { m.settled.Inc() }, 0},
		{func(...string) { m.pruned.Inc() }, 0},
		{func(...string) { m.claimsPruned.Inc() }, 0},
	} {
		c.inc(slices.Repeat([]string{"x"}, c.labels)...)
	}
}

// familyLines describes each family of a Prometheus text exposition, one
// line each: name, type, label names and, for l402's own families, the
// help text; a histogram's buckets on a line of their own. The standard
// process and Go families keep their names, types and labels (what
// dashboards query); their help is l402's own words, not compared.
func familyLines(t *testing.T, text string) []string {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("not Prometheus' text format: %v\n%s", err, text)
	}
	var lines []string
	for name, f := range families {
		var labels []string
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		slices.Sort(labels)
		line := fmt.Sprintf("%s %s [%s]", name,
			strings.ToLower(f.GetType().String()), strings.Join(labels, ","))
		if strings.HasPrefix(name, "l402_") {
			line += fmt.Sprintf(" %q", f.GetHelp())
		}
		lines = append(lines, line)
		if f.GetType() == dto.MetricType_HISTOGRAM {
			var le []string
			for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
				le = append(le, fmt.Sprint(b.GetUpperBound()))
			}
			lines = append(lines, fmt.Sprintf("%s buckets %s", name,
				strings.Join(le, " ")))
		}
	}
	slices.Sort(lines)
	return lines
}

// TestMetricsFamiliesGolden holds /metrics to the families serve exposed
// with Prometheus' Go client (testdata/metrics_families.golden, written
// from that version with -update): the same names, types, label names,
// help texts and buckets, so that operators' dashboards keep working.
func TestMetricsFamiliesGolden(t *testing.T) {
	m := NewMetrics()
	touchAll(m)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	got := strings.Join(familyLines(t, rec.Body.String()), "\n") + "\n"
	golden := filepath.Join("testdata", "metrics_families.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("/metrics' families differ from %s:\ngot:\n%s\nwant:\n%s",
			golden, got, want)
	}
}
