package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteCreatesAndReplaces: a new file gets the content and the mode;
// a second write replaces both; no temporary file is left behind.
func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := Write(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, "first", 0o600)

	if err := Write(path, []byte("second"), 0o644); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, "second", 0o644)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "key" {
		t.Fatalf("the directory holds %v, want only key", entries)
	}
}

// TestWriteFailsWithoutTouchingTheOldFile: when the target cannot be
// replaced (it is a directory here), the error names the path and
// nothing is left behind.
func TestWriteFailsWithoutTouchingTheOldFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "taken")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "inside"), nil,
		0o600); err != nil {
		t.Fatal(err)
	}
	err := Write(target, []byte("x"), 0o600)
	if err == nil {
		t.Fatal("a non-empty directory was replaced")
	}
	if fi, serr := os.Stat(target); serr != nil || !fi.IsDir() {
		t.Fatalf("the old entry changed: %v %v", fi, serr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}

	err = Write(filepath.Join(dir, "missing", "file"), []byte("x"), 0o600)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing directory: %v, want ErrNotExist", err)
	}
}

// assertFile checks a file's content and permission bits.
func assertFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != content {
		t.Fatalf("%s holds %q (%v), want %q", path, b, err, content)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != mode {
		t.Fatalf("%s mode %v (%v), want %v", path, fi.Mode().Perm(), err,
			mode)
	}
}

// TestWriteNewNeverReplaces: WriteNew creates a file with its mode, and
// refuses one that is there with ErrExists (also fs.ErrExist), leaving
// its content and no temporary file.
func TestWriteNewNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := WriteNew(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertFile(t, path, "first", 0o600)

	err := WriteNew(path, []byte("second"), 0o600)
	if !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second WriteNew: %v", err)
	}
	assertFile(t, path, "first", 0o600)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the directory holds %v, want only key", entries)
	}
}
