package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes v as one line of JSON, the form agents read on stdout.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteTable writes rows under a header: a table drawn for a terminal
// (RenderTable) on one,
// tab-separated columns otherwise (one tab between cells, no padding), so
// that pipes get stable text that cut and awk -F'\t' split.
func WriteTable(w io.Writer, tty bool, header []string,
	rows [][]string) error {

	if !tty {
		return writeTSV(w, header, rows)
	}

	_, err := fmt.Fprintln(w, RenderTable(header, rows))
	return err
}

// cellBreaks are what would split a cell into two columns or two rows in
// the tab-separated form.
var cellBreaks = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ",
	"\r", " ")

// writeTSV writes the header and rows as tab-separated lines; a tab or a
// line break inside a cell becomes a space.
func writeTSV(w io.Writer, header []string, rows [][]string) error {
	var b strings.Builder
	for _, r := range append([][]string{header}, rows...) {
		for i, cell := range r {
			if i > 0 {
				b.WriteByte('\t')
			}
			cellBreaks.WriteString(&b, cell)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
