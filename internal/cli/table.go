package cli

import (
	"os"
	"strings"
	"unicode/utf8"
)

// RenderTable draws rows under a header for a terminal: rounded borders,
// one space of padding in each cell, the header in bold unless NO_COLOR
// is set. A line break or tab in a cell becomes a space. Widths count
// runes, which is a terminal's width for the text l402 prints (names,
// addresses, amounts, dates).
func RenderTable(header []string, rows [][]string) string {
	cols := len(header)
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	cell := func(r []string, i int) string {
		if i < len(r) {
			return cellBreaks.Replace(r[i])
		}
		return ""
	}
	width := make([]int, cols)
	for _, r := range append([][]string{header}, rows...) {
		for i := range cols {
			width[i] = max(width[i], utf8.RuneCountInString(cell(r, i)))
		}
	}

	var b strings.Builder
	rule := func(left, mid, right string) {
		b.WriteString(left)
		for i, w := range width {
			if i > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat("─", w+2))
		}
		b.WriteString(right + "\n")
	}
	line := func(r []string, bold bool) {
		b.WriteString("│")
		for i, w := range width {
			c := cell(r, i)
			pad := strings.Repeat(" ", w-utf8.RuneCountInString(c))
			b.WriteString(" ")
			if bold {
				c = Bold(c)
			}
			b.WriteString(c + pad + " │")
		}
		b.WriteString("\n")
	}
	rule("╭", "┬", "╮")
	line(header, true)
	rule("├", "┼", "┤")
	for _, r := range rows {
		line(r, false)
	}
	rule("╰", "┴", "╯")
	return strings.TrimSuffix(b.String(), "\n")
}

// Bold returns s in bold for a terminal, or s itself when NO_COLOR is set
// (https://no-color.org) or s is empty.
func Bold(s string) string {
	if s == "" || os.Getenv("NO_COLOR") != "" {
		return s
	}
	return "\x1b[1m" + s + "\x1b[0m"
}
