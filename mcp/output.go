package mcp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// resolveOutputDir returns the output directory as an absolute path with
// its symbolic links resolved: "" is the working directory.
func resolveOutputDir(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", ErrBadOptions.Mark(fmt.Errorf("output dir: %w", err))
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", ErrBadOptions.Mark(fmt.Errorf("output dir %s is not a "+
			"directory", dir))
	}
	return abs, nil
}

// outputPath is where a tool's output argument writes: inside the output
// directory, or refused. The model picks the name; the user picked the
// directory (--output-dir), so a call cannot write over a file elsewhere
// (a shell profile, an SSH key). The deepest existing directory of the
// path is resolved through its symbolic links and must still be inside;
// directories that do not exist yet are made inside it.
func (s *Server) outputPath(name string) (string, error) {
	refuse := func(why string) error {
		return ErrBadOptions.Mark(fmt.Errorf("output %q %s: it must be a "+
			"file inside %s (l402 mcp --output-dir)", name, why, s.outDir))
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.outDir, path)
	}
	path = filepath.Clean(path)
	if !within(s.outDir, path) || path == s.outDir {
		return "", refuse("leaves the output directory")
	}
	// The deepest directory that exists, resolved.
	dir := filepath.Dir(path)
	rest := []string{filepath.Base(path)}
	for {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			if !within(s.outDir, real) {
				return "", refuse("goes through a link out of the " +
					"output directory")
			}
			path = filepath.Join(append([]string{real}, rest...)...)
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", refuse("cannot be resolved")
		}
		rest = append([]string{filepath.Base(dir)}, rest...)
		dir = filepath.Dir(dir)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return "", refuse("is a symbolic link")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", refuse("needs a directory that cannot be made")
	}
	return path, nil
}

// within says whether path is dir or below it (both clean and absolute).
func within(dir, path string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}
