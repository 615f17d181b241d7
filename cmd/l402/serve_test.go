package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeConfigFileFlag: Aperture's --configfile names serve's config as
// --config does; a bad one is bad_config naming the file (exit 1), before
// anything listens.
func TestServeConfigFileFlag(t *testing.T) {
	t.Setenv("L402_HOME", t.TempDir())
	for _, flag := range []string{"--config", "--configfile"} {
		path := filepath.Join(t.TempDir(), "aperture.yaml")
		if err := os.WriteFile(path, []byte("listenaddr: x\nbogus: 1\n"),
			0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := run("serve", flag, path)
		if code != 1 || !strings.Contains(errOut, path) ||
			!strings.Contains(errOut, "bogus") {
			t.Fatalf("%s: exit %d %q", flag, code, errOut)
		}
	}
}
