// Package fault names the conditions an l402 command can end in. A package
// declares its conditions as sentinels with a stable code; one table in
// internal/cli maps the codes to exit codes, so that no package below cmd/
// names an exit number or imports the CLI.
package fault

import (
	"errors"
	"sort"
	"sync"
)

// Error is a sentinel for a known condition: callers branch on it with
// errors.Is, and its code is the JSON "code" a command reports.
type Error struct {
	code string
	msg  string
}

// known holds the code of every sentinel made with New, so that a test can
// check that the exit-code table covers them all.
var known sync.Map

// New returns the sentinel for the condition code, with msg as its text.
func New(code, msg string) *Error {
	known.Store(code, true)
	return &Error{code: code, msg: msg}
}

// Error implements error.
func (e *Error) Error() string { return e.msg }

// Code returns the condition's stable name.
func (e *Error) Code() string { return e.code }

// Mark returns err as an instance of the condition e: its text is err's,
// errors.Is(result, e) holds, and err's chain stays reachable.
func (e *Error) Mark(err error) error {
	if err == nil {
		return nil
	}
	return &marked{kind: e, err: err}
}

// marked is an error marked with a condition.
type marked struct {
	kind *Error
	err  error
}

// Error implements error.
func (m *marked) Error() string { return m.err.Error() }

// Unwrap returns the condition and the error, for errors.Is and As.
func (m *marked) Unwrap() []error { return []error{m.kind, m.err} }

// Coder is an error that names its condition; typed errors with fields of
// their own (a refusal with its reason, an lnd failure with its cause)
// implement it instead of wrapping a sentinel.
type Coder interface {
	error
	Code() string
}

// Code returns the code of the first condition in err's chain, or "" when
// err is not a known condition.
func Code(err error) string {
	var c Coder
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}

// Known returns the codes of every sentinel made with New so far, sorted.
func Known() []string {
	var out []string
	known.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	sort.Strings(out)
	return out
}
