package fetch

import (
	"strings"
	"testing"
)

func TestProgressBar(t *testing.T) {
	var out strings.Builder
	bar := NewProgressBar(&out, "file.bin")
	bar.every = 0
	w := bar.Start(2048)
	w.Write(make([]byte, 1024))
	w.Write(make([]byte, 1024))
	bar.Finish()
	s := out.String()
	if !strings.Contains(s, "1.0 KiB / 2.0 KiB  50%") ||
		!strings.Contains(s, "2.0 KiB / 2.0 KiB 100%") ||
		!strings.HasSuffix(s, "\n") || !strings.HasPrefix(s, "\rfile.bin") {
		t.Fatalf("%q", s)
	}

	out.Reset()
	bar = NewProgressBar(&out, "x")
	bar.Start(-1).Write(make([]byte, 3))
	bar.Finish()
	if !strings.Contains(out.String(), "x  3 B") {
		t.Fatalf("unknown total: %q", out.String())
	}

	out.Reset()
	NewProgressBar(&out, "x").Finish()
	if out.Len() != 0 {
		t.Fatal("a bar that never started drew")
	}
	if formatBytes(5<<30) != "5.0 GiB" {
		t.Fatal(formatBytes(5 << 30))
	}
}
