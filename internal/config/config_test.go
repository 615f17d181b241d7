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

// TestLoadSaysWhatIsWanted: a value of the wrong type is named by its key
// path and line, with what is wanted in words and what was given, never a
// Go type; an unknown key is named as such.
func TestLoadSaysWhatIsWanted(t *testing.T) {
	type target struct {
		Price    int64         `yaml:"price"`
		Timeout  time.Duration `yaml:"timeout"`
		On       bool          `yaml:"on"`
		List     []string      `yaml:"list"`
		Services []struct {
			Price int64 `yaml:"price"`
		} `yaml:"services"`
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	for body, want := range map[string]string{
		"price: abc\n": `line 1: price: want a whole number, got "abc"`,
		"timeout: soon\n": `line 1: timeout: want a duration such as ` +
			`30s or 5m, got "soon"`,
		"on: maybe\n": `line 1: on: want true or false, got "maybe"`,
		"list: 3\n":   `line 1: list: want a list, got "3"`,
		"services:\n  - price: x\n": `line 2: services[0].price: want a ` +
			`whole number, got "x"`,
		"price: [1]\n": `line 1: price: want a whole number, got a list`,
		"bogus: 1\n":   `line 1: unknown key "bogus"`,
	} {
		os.WriteFile(path, []byte(body), 0o600)
		err := Load(path, &target{})
		if !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant it to say %s", body, err, want)
		}
		if strings.Contains(err.Error(), "int64") ||
			strings.Contains(err.Error(), "!!") ||
			strings.Contains(err.Error(), "config.target") {
			t.Errorf("%q: a Go or YAML type in %v", body, err)
		}
	}
}

// FuzzLoad: any file content loads or fails with an error, never a panic,
// and the words of a failure never hold a Go type.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{"name: x\n", "timeout: soon\n",
		"inner:\n  port: [1, 2]\n", "bogus: 1\n", "- a\n- b\n", "&a x: *a\n"} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "c.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		err := Load(path, &sample{})
		if err != nil && strings.Contains(err.Error(), "config.sample") {
			t.Fatalf("a Go type in %v", err)
		}
	})
}
