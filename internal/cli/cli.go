// Package cli holds what every l402 command shares at its edge: the
// streams it writes to, and the one mapping from errors to exit codes and
// to the JSON error object agents read.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Exit codes shared by every command (fetch documents more of its own).
const (
	ExitOK      = 0
	ExitGeneral = 1
	ExitUsage   = 2
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

// Error is an error with the exit code and the stable code name it maps to.
type Error struct {
	Exit int
	Code string
	Err  error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Code
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Usage marks err as a bad-arguments error (exit 2).
func Usage(err error) error {
	return &Error{Exit: ExitUsage, Code: "bad_arguments", Err: err}
}

// ExitCode returns the exit code for err: its Error's, else 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) && e.Exit != ExitOK {
		return e.Exit
	}
	return ExitGeneral
}

// errorCode returns the stable code name for err.
func errorCode(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return "error"
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
		}{true, errorCode(err), err.Error(), code})
		fmt.Fprintf(w, "%s\n", b)
		return code
	}
	fmt.Fprintf(w, "l402: %v\n", err)
	return code
}
