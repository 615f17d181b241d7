package macaroons

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteSecretFile: the file is 0600, an existing one is kept unless
// forced, and no temporary file is left behind.
func TestWriteSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "invoice-only.macaroon")

	if err := WriteSecretFile(path, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "one")

	err := WriteSecretFile(path, []byte("two"), false)
	if err == nil || !strings.Contains(err.Error(), "already exists") ||
		!strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrite without force: got %v", err)
	}
	checkFile(t, path, "one")

	// A forced write also tightens a file that was too open.
	os.Chmod(path, 0o644)
	if err := WriteSecretFile(path, []byte("three"), true); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, "three")

	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the directory holds %d entries, want 1", len(entries))
	}

	err = WriteSecretFile(filepath.Join(dir, "no", "such", "dir"),
		[]byte("x"), false)
	if err == nil || !strings.Contains(err.Error(), "unable to write") {
		t.Fatalf("missing directory: got %v", err)
	}
}

// checkFile checks a file's content and that only its owner may read it.
func checkFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		t.Fatalf("%s holds %q, %v; want %q", path, b, err, want)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
}
