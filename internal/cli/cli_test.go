package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/l402/l402/internal/fault"
)

func TestReport(t *testing.T) {
	var buf bytes.Buffer
	err := fmt.Errorf("parsing: %w", Usage(errors.New("bad flag")))
	if code := Report(&buf, err, true); code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	var got map[string]any
	if e := json.Unmarshal(buf.Bytes(), &got); e != nil {
		t.Fatal(e)
	}
	if got["error"] != true || got["code"] != "bad_arguments" ||
		got["message"] != "parsing: bad flag" || got["exit_code"] != 2.0 {
		t.Fatalf("json %v", got)
	}

	buf.Reset()
	if code := Report(&buf, errors.New("boom"), false); code != ExitGeneral ||
		buf.String() != "l402: boom\n" {
		t.Fatalf("plain: %d %q", code, buf.String())
	}
	if ExitCode(nil) != ExitOK {
		t.Fatal("nil error is not exit 0")
	}
}

// TestTableIsWellFormed checks that every code has one row and no known
// condition exits 0.
func TestTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Table {
		if seen[c.Code] || c.Exit == ExitOK || c.Meaning == "" ||
			c.Commands == "" {
			t.Errorf("row %+v: repeated, exit 0, or undocumented", c)
		}
		seen[c.Code] = true
	}
	errOdd := fault.New("test_not_in_table", "odd")
	if ExitCode(errOdd) != ExitGeneral || Code(errOdd) != "test_not_in_table" {
		t.Fatalf("a code the table lacks: exit %d code %q",
			ExitCode(errOdd), Code(errOdd))
	}
	if Code(errors.New("x")) != "error" {
		t.Fatal("an unknown error's code is not \"error\"")
	}
}

// TestExitCodeOfCondition checks that a wrapped condition gets its row's
// exit code.
func TestExitCodeOfCondition(t *testing.T) {
	errPay := fault.New("payment_failed", "payment failed")
	err := fmt.Errorf("fetch: %w", errPay.Mark(errors.New("no route")))
	if ExitCode(err) != ExitPayment || Code(err) != "payment_failed" {
		t.Fatalf("exit %d code %q", ExitCode(err), Code(err))
	}
}

// TestDocsListTheTable checks that docs/cli.md, the contract agents read,
// has a row for every code with its exit code, and no other codes.
func TestDocsListTheTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| ([0-9]+) \\|")
	docs := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		docs[m[1]] = m[2]
	}
	for _, c := range Table {
		if docs[c.Code] != strconv.Itoa(c.Exit) {
			t.Errorf("docs/cli.md: code %s is listed with exit %q, "+
				"want %d", c.Code, docs[c.Code], c.Exit)
		}
		delete(docs, c.Code)
	}
	for code := range docs {
		t.Errorf("docs/cli.md lists %s, which the table does not", code)
	}
}
