package config

import (
	"errors"
	"fmt"
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
	if _, err := Load(write("name: x\ntimeout: 3s\ninner:\n  port: 8\n"),
		&s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || s.Timeout != 3*time.Second || s.Inner.Port != 8 {
		t.Fatalf("%+v", s)
	}

	_, err := Load(write("name: x\ninner:\n  prot: 8\n"), &sample{})
	if err == nil || !strings.Contains(err.Error(), "line 3") ||
		!strings.Contains(err.Error(), "prot") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = Load(write("timeout: soon\n"), &sample{})
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad value: %v", err)
	}
	if _, err := Load(write(""), &sample{}); err != nil {
		t.Fatalf("empty file: %v", err)
	}
	_, err = Load(filepath.Join(dir, "none.yaml"), &sample{})
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
		_, err := Load(path, &target{})
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
		"inner:\n  port: [1, 2]\n", "bogus: 1\n", "- a\n- b\n", "&a x: *a\n",
		"inner: &i\n  port: 1.5\nother:\n  <<: *i\n", "inner: {prot: .nan}\n"} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "c.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, &sample{})
		if err != nil && strings.Contains(err.Error(), "config.sample") {
			t.Fatalf("a Go type in %v", err)
		}
	})
}

// TestLoadSuggestsTheNearestKey: an unknown key is named with the block it
// is in, and with the nearest key that block takes when one is close (a
// typo), in serve.yaml and fetch.yaml alike.
func TestLoadSuggestsTheNearestKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	for body, want := range map[string]string{
		"inner:\n  prot: 8\n": `line 2: inner: unknown key "prot": did ` +
			`you mean "port"?`,
		"nmae: x\n":     `line 1: unknown key "nmae": did you mean "name"?`,
		"timeuot: 3s\n": `did you mean "timeout"?`,
		"list:\n  - 1\nitems:\n  - price: 1\n    prcie: 2\n": `line 5: ` +
			`items[0]: unknown key "prcie": did you mean "price"?`,
	} {
		os.WriteFile(path, []byte(body), 0o600)
		_, err := Load(path, &suggested{})
		if !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant it to say %s", body, err, want)
		}
	}

	// A key far from every known one gets no guess.
	os.WriteFile(path, []byte("bogus: 1\n"), 0o600)
	_, err := Load(path, &suggested{})
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("bogus: %v", err)
	}
}

// suggested is a config with keys close to each other's typos.
type suggested struct {
	Name    string        `yaml:"name"`
	Timeout time.Duration `yaml:"timeout"`
	List    []int         `yaml:"list"`
	Inner   struct {
		Port int `yaml:"port"`
	} `yaml:"inner"`
	Items []struct {
		Price int64 `yaml:"price"`
	} `yaml:"items"`
}

// TestLoadRefusesFractions: yaml.v3 truncates 1.5 into an integer field
// (1); the loader refuses it instead, in the words of the field's want tag
// when it has one. A whole number written as a float (2.0, 1e3) is taken.
func TestLoadRefusesFractions(t *testing.T) {
	type target struct {
		Price  int64  `yaml:"price" want:"a whole number of satoshis"`
		Cap    *int64 `yaml:"cap" want:"a whole number of satoshis"`
		Count  int    `yaml:"count"`
		Counts []uint `yaml:"counts"`
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	for body, want := range map[string]string{
		"price: 1.5\n": `line 1: price: want a whole number of ` +
			`satoshis, got 1.5`,
		"cap: 0.5\n":           `line 1: cap: want a whole number of satoshis, got 0.5`,
		"count: 2.25\n":        `line 1: count: want a whole number, got 2.25`,
		"counts: [1, 2.5]\n":   `line 1: counts[1]: want a whole number, got 2.5`,
		"count: -.inf\n":       `line 1: count: want a whole number, got -.inf`,
		"price: abc\n":         `line 1: price: want a whole number of satoshis, got "abc"`,
		"price: 1.5\ncap: 2\n": `got 1.5`,
	} {
		os.WriteFile(path, []byte(body), 0o600)
		_, err := Load(path, &target{})
		if !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant it to say %s", body, err, want)
		}
	}

	var got target
	os.WriteFile(path, []byte("price: 2.0\ncap: 1e3\ncount: 7\n"), 0o600)
	if _, err := Load(path, &got); err != nil || got.Price != 2 ||
		*got.Cap != 1000 || got.Count != 7 {
		t.Fatalf("whole floats: %+v %v", got, err)
	}
}

// switchable is a config with a block that can be switched off.
type switchable struct {
	Feature struct {
		Enabled bool   `yaml:"enabled"`
		Address string `yaml:"address"`
	} `yaml:"feature"`
	Name string `yaml:"name"`
}

// Inert implements Inert: the feature block is off unless enabled.
func (s *switchable) Inert(path []string) bool {
	return len(path) == 1 && path[0] == "feature" && !s.Feature.Enabled
}

// TestLoadWarnsInInertBlocks: an unknown key in a block its config says
// is switched off changes nothing, so it is a warning (with the nearest
// key), not an error; in a block that is on, or in a config that does
// not implement Inert, it is an error.
func TestLoadWarnsInInertBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("name: x\nfeature:\n  enbled: true\n  "+
		"address: a\n"), 0o600)
	warnings, err := Load(path, &switchable{})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0],
		`line 3: feature: unknown key "enbled": did you mean "enabled"?`) ||
		!strings.Contains(warnings[0], "feature is off") {
		t.Fatalf("inert block: %q %v", warnings, err)
	}

	os.WriteFile(path, []byte("feature:\n  enabled: true\n  adress: a\n"),
		0o600)
	if warnings, err = Load(path, &switchable{}); err == nil ||
		!strings.Contains(err.Error(), `did you mean "address"?`) ||
		len(warnings) != 0 {
		t.Fatalf("block that is on: %q %v", warnings, err)
	}

	type plain struct {
		Feature struct {
			Enabled bool `yaml:"enabled"`
		} `yaml:"feature"`
	}
	os.WriteFile(path, []byte("feature:\n  enbled: true\n"), 0o600)
	if _, err = Load(path, &plain{}); err == nil {
		t.Fatal("no Inert: the unknown key must be an error")
	}
}

// TestLoadBoundsAliases: a document of aliases of aliases (billions of
// nodes once expanded) is refused quickly, not walked node by node.
func TestLoadBoundsAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(b.String()), 0o600)
	type deep struct {
		A9 [][][][][][][][][][]int `yaml:"a9"`
	}
	if _, err := Load(path, &deep{}); err == nil {
		t.Fatal("excessive aliasing loaded")
	}
}
