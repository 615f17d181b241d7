// Package config loads l402's YAML files strictly: unknown keys (with the
// nearest known one), bad values and fractions in whole numbers are errors
// that name the key and the line, and "~" in paths is expanded.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/l402/l402/internal/fault"
	"gopkg.in/yaml.v3"
)

// ErrBad marks a config file that cannot be read or has a bad key or
// value; ErrNotFound one that does not exist (it also wraps
// os.ErrNotExist).
var (
	ErrBad      = fault.New("bad_config", "bad config")
	ErrNotFound = fault.New("config_not_found", "config not found")
)

// Home returns l402's directory, where configs, tokens and keys live:
// $L402_HOME, else ~/.l402.
func Home() (string, error) {
	if d := os.Getenv("L402_HOME"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory: set L402_HOME: %w", err)
	}
	return filepath.Join(home, ".l402"), nil
}

// InHome returns the file name in l402's directory.
func InHome(name string) (string, error) {
	dir, err := Home()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// Inert is implemented by a config with blocks that can be switched off
// (a feature with enabled: false, a database that is not the one in
// use). An unknown key in a block that is off changes nothing serve or
// fetch does, so Load reports it as a warning rather than an error: a
// typo in a switched-off block of Aperture's own sample must not stop
// l402 serve, and the warning still names the key that was meant.
type Inert interface {
	// Inert reports whether the block at path (keys from the top, "[i]"
	// for list items, as in "services", "[2]", "dynamicprice") is
	// switched off. It is called after decoding, with the config filled.
	Inert(path []string) bool
}

// Load decodes the YAML file at path into out. Unknown keys (with the
// nearest known key when one is close), values of the wrong type and
// fractions in whole-number fields are errors that name the key and the
// line, all of them at once; an unknown key in a block out's Inert says
// is off is returned as a warning instead. A missing file is reported
// with an error wrapping os.ErrNotExist.
//
// A field's `want` tag words what it takes ("a whole number of
// satoshis") in place of the words its Go type gives.
func Load(path string, out any) (warnings []string, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound.Mark(fmt.Errorf("config %s: %w", path, err))
	}
	if err != nil {
		return nil, ErrBad.Mark(fmt.Errorf("config %s: %w", path, err))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, ErrBad.Mark(fmt.Errorf("config %s: %s", path,
			strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	if root.Kind == 0 {
		return nil, nil // an empty file
	}

	w := &walker{wants: map[int]string{}}
	w.walk(&root, reflect.TypeOf(out), nil, "", 0)
	var lines []line
	if err := root.Decode(out); err != nil {
		lines = explain(err, &root, w.wants)
	}

	inert, _ := out.(Inert)
	for _, f := range w.findings {
		if off := offBlock(inert, f); f.unknown != "" && off != "" {
			warnings = append(warnings, fmt.Sprintf("%s (%s is off, so "+
				"nothing in it is read)", f, off))
			continue
		}
		lines = append(lines, line{f.line, f.String()})
	}
	if len(lines) == 0 {
		return warnings, nil
	}
	sort.SliceStable(lines, func(i, j int) bool {
		return lines[i].n < lines[j].n
	})
	words := make([]string, len(lines))
	for i, l := range lines {
		words[i] = l.text
	}
	return warnings, ErrBad.Mark(fmt.Errorf("config %s: %s", path,
		strings.Join(words, "; ")))
}

// line is one error of a file, and the line it is on (0: unknown).
type line struct {
	n    int
	text string
}

// offBlock returns the block holding finding f that inert says is off
// (the outermost), or "".
func offBlock(inert Inert, f finding) string {
	if inert == nil {
		return ""
	}
	for i := 1; i <= len(f.path); i++ {
		if inert.Inert(f.path[:i]) {
			return joinPath(f.path[:i])
		}
	}
	return ""
}

// ExpandHome replaces a leading "~" or "~/" with the user's home.
func ExpandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("unable to expand %q: %w", p, err)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}
