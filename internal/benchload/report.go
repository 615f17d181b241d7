package benchload

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// scenario is one figure: a load generator and the targets it
// alternates between, the reference (the bare proxy) first.
type scenario struct {
	name, how string
	gen       generator
	targets   []target
}

// target is one process a scenario loads: its URL (or gRPC address)
// and the header with its credential.
type target struct {
	name, url, header string

	// profile is the pprof base URL of the serve process, with
	// -cpuprofile; pid is the process whose CPU time is counted.
	profile string
	pid     int
}

// median returns the median of v (the mean of the middle two for an
// even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratios returns a[i]/b[i] for each round.
func ratios(a, b []float64) []float64 {
	out := make([]float64, 0, len(a))
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// printRates prints each target's median rate and its rounds, the
// median CPU time its process spent per request and, after the first
// (the reference), the median of its per-round ratios to it.
func printRates(w io.Writer, targets []target, rates, cpus [][]float64) {
	for i, t := range targets {
		line := fmt.Sprintf("  %-14s %9.0f req/s  (%s)", t.name,
			median(rates[i]), join(rates[i], "%.0f"))
		if len(cpus[i]) > 0 {
			line += fmt.Sprintf("  %5.0f us cpu/req", median(cpus[i]))
		}
		if i > 0 {
			r := ratios(rates[i], rates[0])
			line += fmt.Sprintf("  %.2fx  (%s)", median(r), join(r, "%.2f"))
		}
		fmt.Fprintln(w, line)
	}
}

// join formats each value.
func join(v []float64, format string) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " ")
}
