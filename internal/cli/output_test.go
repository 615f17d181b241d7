package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestWriteTableInAPipeIsTabSeparated holds docs/cli.md's promise for
// pipes: one line a row, the header first, one tab between columns and no
// padding, so that `cut -f2` and `awk -F'\t'` read every column, empty
// cells and cells with spaces included. A tab or line break inside a cell
// would add a column or a row, so it becomes a space.
func TestWriteTableInAPipeIsTabSeparated(t *testing.T) {
	var buf bytes.Buffer
	err := WriteTable(&buf, false, []string{"ORIGIN", "STATE", "VALID UNTIL"},
		[][]string{
			{"https://a.example:443", "paid", "2100-01-01 00:00"},
			{"http://b.example:80", "", "-"},
			{"x\ty", "line\nbreak", "cr\r"},
		})
	if err != nil {
		t.Fatal(err)
	}
	want := "ORIGIN\tSTATE\tVALID UNTIL\n" +
		"https://a.example:443\tpaid\t2100-01-01 00:00\n" +
		"http://b.example:80\t\t-\n" +
		"x y\tline break\tcr \n"
	if got := buf.String(); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}

	// On a terminal it is a drawn table, not the pipe's form.
	buf.Reset()
	if err := WriteTable(&buf, true, []string{"A"},
		[][]string{{"b"}}); err != nil || strings.Contains(buf.String(),
		"\t") || !strings.Contains(buf.String(), "b") {
		t.Fatalf("tty: %v %q", err, buf.String())
	}
}
