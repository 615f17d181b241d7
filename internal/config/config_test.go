package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name    string        `yaml:"name"`
	Timeout time.Duration `yaml:"timeout"`
	Inner   struct {
		Port int `yaml:"port"`
	} `yaml:"inner"`
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}

	var s sample
	if err := Load(write("name: x\ntimeout: 3s\ninner:\n  port: 8\n"),
		&s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || s.Timeout != 3*time.Second || s.Inner.Port != 8 {
		t.Fatalf("%+v", s)
	}

	err := Load(write("name: x\ninner:\n  prot: 8\n"), &sample{})
	if err == nil || !strings.Contains(err.Error(), "line 3") ||
		!strings.Contains(err.Error(), "prot") {
		t.Fatalf("unknown key: %v", err)
	}
	err = Load(write("timeout: soon\n"), &sample{})
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad value: %v", err)
	}
	if err := Load(write(""), &sample{}); err != nil {
		t.Fatalf("empty file: %v", err)
	}
	err = Load(filepath.Join(dir, "none.yaml"), &sample{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestExpandHome(t *testing.T) {
	home, _ := os.UserHomeDir()
	for in, want := range map[string]string{
		"~":       home,
		"~/a/b":   filepath.Join(home, "a/b"),
		"/abs":    "/abs",
		"rel/~":   "rel/~",
		"~user/x": "~user/x",
	} {
		got, err := ExpandHome(in)
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}
