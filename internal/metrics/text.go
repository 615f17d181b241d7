package metrics

import (
	"math"
	"strconv"
)

// family is one metric family as scraped: its sample lines, written.
type family struct {
	name, help, typ string
	samples         []byte
}

// appendFamily writes a family in the text format: HELP, TYPE, samples.
func appendFamily(b []byte, f family) []byte {
	b = append(b, "# HELP "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = appendHelp(b, f.help)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.name...)
	b = append(b, ' ')
	b = append(b, f.typ...)
	b = append(b, '\n')
	return append(b, f.samples...)
}

// appendSample writes one sample line: name and suffix, the label pairs
// (pairs, then extra, each already escaped; either may be empty) and the
// value.
func appendSample(b []byte, name, suffix, pairs, extra string,
	v float64) []byte {

	b = append(b, name...)
	b = append(b, suffix...)
	if pairs != "" || extra != "" {
		b = append(b, '{')
		b = append(b, pairs...)
		if pairs != "" && extra != "" {
			b = append(b, ',')
		}
		b = append(b, extra...)
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

// appendHelp writes a HELP text escaped: a backslash and a line feed.
func appendHelp(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendLabelValue writes a label value escaped: a backslash, a double
// quote and a line feed.
func appendLabelValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat writes v as Prometheus does: +Inf, -Inf and NaN by name,
// zero (negative zero too) as 0, others in the shortest form that reads
// back the same, with an exponent from 1e6 up and below 1e-4 (strconv's
// 'g' format).
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 0:
		return append(b, '0')
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
