// Package cli holds what every l402 command shares at its edge: the
// streams it writes to, and the one mapping from errors to exit codes and
// to the JSON error object agents read.
package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IO carries a command's streams, and whether each is a terminal: tables,
// colour and prompts depend on it, so that pipes get plain, stable text.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	InTTY  bool
	OutTTY bool
	ErrTTY bool
}

// System returns the process's own streams.
func System() IO {
	isTTY := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	return IO{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY: isTTY(os.Stdin), OutTTY: isTTY(os.Stdout),
		ErrTTY: isTTY(os.Stderr),
	}
}

// Report writes err to w, as one JSON object when asJSON is set, else as
// one "l402: ..." line, and returns the exit code.
func Report(w io.Writer, err error, asJSON bool) int {
	code := ExitCode(err)
	if asJSON {
		b, _ := json.Marshal(struct {
			Error    bool   `json:"error"`
			Code     string `json:"code"`
			Message  string `json:"message"`
			ExitCode int    `json:"exit_code"`
		}{true, Code(err), err.Error(), code})
		fmt.Fprintf(w, "%s\n", b)
		return code
	}
	fmt.Fprintf(w, "l402: %v\n", err)
	return code
}
