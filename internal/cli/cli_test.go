package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
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

func TestErrorNeverExitsZero(t *testing.T) {
	err := &Error{Code: "odd"}
	if ExitCode(err) != ExitGeneral || err.Error() != "odd" {
		t.Fatalf("%d %q", ExitCode(err), err.Error())
	}
}
