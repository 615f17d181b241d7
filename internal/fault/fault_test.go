package fault

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
)

// TestCodeThroughWrapping checks that a condition is found however deep it
// is wrapped, by sentinel, by Mark and by a typed error.
func TestCodeThroughWrapping(t *testing.T) {
	errBroke := New("test_broke", "broke")
	err := fmt.Errorf("doing it: %w", fmt.Errorf("%w: more", errBroke))
	if Code(err) != "test_broke" || !errors.Is(err, errBroke) ||
		err.Error() != "doing it: broke: more" {
		t.Fatalf("code %q, is %v, text %q", Code(err), errors.Is(err,
			errBroke), err)
	}

	m := fmt.Errorf("ctx: %w", errBroke.Mark(io.ErrUnexpectedEOF))
	if Code(m) != "test_broke" || !errors.Is(m, errBroke) ||
		!errors.Is(m, io.ErrUnexpectedEOF) ||
		m.Error() != "ctx: unexpected EOF" {
		t.Fatalf("mark: code %q, text %q", Code(m), m)
	}
	if errBroke.Mark(nil) != nil {
		t.Fatal("Mark(nil) is not nil")
	}

	if Code(errors.New("plain")) != "" || Code(nil) != "" {
		t.Fatal("an unknown error has a code")
	}
	if !slices.Contains(Known(), "test_broke") {
		t.Fatalf("Known() = %v", Known())
	}
}

// typed is a Coder with a field of its own.
type typed struct{ reason string }

func (t *typed) Error() string { return "typed " + t.reason }
func (t *typed) Code() string  { return t.reason }

// TestTypedCoder checks that a typed error names its own code.
func TestTypedCoder(t *testing.T) {
	err := fmt.Errorf("wrap: %w", &typed{"why"})
	if Code(err) != "why" {
		t.Fatalf("code %q", Code(err))
	}
}
