package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/l402/l402/internal/cli"
)

// TestTopCommandsNamed: every entry of topCommands builds the command it
// is named for, and the whole tree has no other top-level command but
// cobra's completion and help, so that newRootCmdFor finds each one.
func TestTopCommandsNamed(t *testing.T) {
	streams := cli.IO{In: strings.NewReader(""), Out: &bytes.Buffer{},
		ErrOut: &bytes.Buffer{}}
	named := map[string]bool{}
	for _, c := range topCommands {
		if got := c.build(streams).Name(); got != c.name {
			t.Errorf("topCommands entry %q builds %q", c.name, got)
		}
		named[c.name] = true
	}
	for _, c := range newRootCmd(streams).Commands() {
		if !named[c.Name()] && c.Name() != "completion" && c.Name() != "help" {
			t.Errorf("top-level command %q is not in topCommands", c.Name())
		}
	}
}

// TestRootForOneCommandAnswersAsTheWholeTree: the tree newRootCmdFor
// builds for a command's own arguments prints, exits and fails exactly
// as the whole tree does: its help, a bad flag, a mistyped or missing
// subcommand, a bad argument count, with and without --json.
func TestRootForOneCommandAnswersAsTheWholeTree(t *testing.T) {
	exec := func(full bool, args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		streams := cli.IO{In: strings.NewReader(""), Out: &out,
			ErrOut: &errOut}
		root := newRootCmdFor(streams, args)
		if full {
			root = newRootCmd(streams)
		}
		root.SetArgs(args)
		code := 0
		if err := execute(root); err != nil {
			code = cli.Report(&errOut, err, jsonRequested(args))
		}
		return out.String(), errOut.String(), code
	}

	var cases [][]string
	for _, c := range topCommands {
		cases = append(cases, []string{c.name, "--help"},
			[]string{c.name, "--no-such-flag"},
			[]string{c.name, "--no-such-flag", "--json"},
			[]string{c.name, "no-such-subcommand", "extra"})
	}
	cases = append(cases, []string{"version"}, []string{"version", "--json"},
		[]string{"tokens"}, []string{"tokens", "lst"},
		[]string{"admin", "services", "--help"}, []string{"bake", "--help"},
		[]string{"fetch"}, []string{"fetch", "a", "b"})
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, errOut, code := exec(false, args...)
			wantOut, wantErr, wantCode := exec(true, args...)
			if out != wantOut || errOut != wantErr || code != wantCode {
				t.Errorf("one command's tree: exit %d\nstdout %q\nstderr %q\n"+
					"the whole tree: exit %d\nstdout %q\nstderr %q", code, out,
					errOut, wantCode, wantOut, wantErr)
			}
		})
	}
}
