// Package config loads l402's YAML files strictly: unknown keys and bad
// values are errors that name the key and the line, and "~" in paths is
// expanded.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// Load decodes the YAML file at path into out, refusing unknown keys. A
// missing file is reported with an error wrapping os.ErrNotExist.
func Load(path string, out any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotFound.Mark(fmt.Errorf("config %s: %w", path, err))
	}
	if err != nil {
		return ErrBad.Mark(fmt.Errorf("config %s: %w", path, err))
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return ErrBad.Mark(fmt.Errorf("config %s: %s", path,
			explain(err, b)))
	}
	return nil
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
