package cli

import (
	"testing"
)

// TestRenderTable: rounded borders, one space of padding, columns as wide
// as their widest cell (in runes), short rows padded, line breaks in a
// cell flattened; the header is bold unless NO_COLOR is set.
func TestRenderTable(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	got := RenderTable([]string{"NAME", "PRICE"},
		[][]string{{"wéather", "10 sat"}, {"a\nb"}})
	want := "" +
		"╭─────────┬────────╮\n" +
		"│ NAME    │ PRICE  │\n" +
		"├─────────┼────────┤\n" +
		"│ wéather │ 10 sat │\n" +
		"│ a b     │        │\n" +
		"╰─────────┴────────╯"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}

	t.Setenv("NO_COLOR", "")
	got = RenderTable([]string{"N"}, [][]string{{"x"}})
	want = "" +
		"╭───╮\n" +
		"│ \x1b[1mN\x1b[0m │\n" +
		"├───┤\n" +
		"│ x │\n" +
		"╰───╯"
	if got != want {
		t.Fatalf("bold header: got %q", got)
	}
}
