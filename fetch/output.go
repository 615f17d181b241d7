package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// Output says where a run puts the body: to Writer, into File, or into
// the Result (Capture). Nothing set discards it.
type Output struct {
	// Writer receives the body as it comes (stdout).
	Writer io.Writer

	// File is written whole or not at all: the body goes to a temporary
	// file beside it, which replaces it only once the fetch succeeded.
	// With Continue the file is instead continued in place from its end
	// (a Range request), so that a cut download can be resumed.
	File     string
	Continue bool

	// Capture keeps the body in Result.Body, at most CaptureMax bytes
	// when that is above zero: the rest is read and counted in
	// Result.Size but dropped, and Result.BodyTruncated says so. With
	// File, the body goes to both (lnget's --print-body with -o).
	Capture    bool
	CaptureMax int64
}

// check refuses an Output that names two places (a capture beside a
// file is one), or Continue without a file or with a capture.
func (o Output) check() error {
	n := 0
	for _, set := range []bool{o.Writer != nil, o.File != "",
		o.Capture && o.File == ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return badOptions(errors.New("the body goes to one place: a " +
			"writer, a file or the result"))
	case o.Continue && o.File == "":
		return badOptions(errors.New("continuing a download needs the " +
			"file to continue"))
	case o.Continue && o.Capture:
		return badOptions(errors.New("a continued download is not " +
			"captured: only its new bytes would be"))
	}
	return nil
}

// sink is where one run writes the body, and what becomes of it at the
// end: a file committed or aborted, a partial file synced, a capture
// copied into the result.
type sink struct {
	w       io.Writer
	path    string
	file    *atomicFile
	partial *os.File
	capture *capture
}

// openSink opens the output of a run. A continued file sets the options'
// ResumeFrom and Restart.
func openSink(out Output, opts *Options) (*sink, error) {
	s := &sink{w: io.Discard, path: out.File}
	var err error
	switch {
	case out.Continue:
		s.partial, err = openPartial(out.File, opts)
		s.w = s.partial
	case out.File != "" && out.Capture:
		s.file, err = createAtomic(out.File)
		s.capture = &capture{max: out.CaptureMax}
		s.w = io.MultiWriter(s.file, s.capture)
	case out.File != "":
		s.file, err = createAtomic(out.File)
		s.w = s.file
	case out.Capture:
		s.capture = &capture{max: out.CaptureMax}
		s.w = s.capture
	case out.Writer != nil:
		s.w = out.Writer
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// finish ends the output once the fetch returned err: a file replaces
// its target only on success and never with a 402's body; a partial file
// is synced; a capture goes into res.
func (s *sink) finish(res *Result, err error) error {
	switch {
	case s.file != nil && (err != nil ||
		res.StatusCode == http.StatusPaymentRequired):
		s.file.Abort()

	case s.file != nil:
		if cerr := s.file.Commit(); cerr != nil {
			return cerr
		}
		res.OutputPath = s.path
		s.keepCapture(res)

	case s.partial != nil:
		defer s.partial.Close()
		if err != nil {
			return err
		}
		if cerr := s.partial.Sync(); cerr != nil {
			return cerr
		}
		res.OutputPath = s.path

	case s.capture != nil:
		s.keepCapture(res)
	}
	return err
}

// keepCapture puts the captured body, if any, into res.
func (s *sink) keepCapture(res *Result) {
	if s.capture == nil {
		return
	}
	res.Body = s.capture.buf.Bytes()
	res.BodyTruncated = s.capture.truncated
	res.captured = true
}

// capture keeps what is written, up to max bytes when max is above zero.
type capture struct {
	buf       bytes.Buffer
	max       int64
	truncated bool
}

// Write keeps what fits and drops the rest; it never fails, so that the
// whole body is still read and counted.
func (c *capture) Write(b []byte) (int, error) {
	keep := b
	if c.max > 0 {
		if room := c.max - int64(c.buf.Len()); int64(len(keep)) > room {
			keep = keep[:room]
			c.truncated = true
		}
	}
	c.buf.Write(keep)
	return len(b), nil
}

// openPartial opens the file of a continued download: it is created when
// missing, and the request asks for what follows the bytes it has. A
// server that ignores the range sends it all, and the file starts over.
func openPartial(path string, opts *Options) (*os.File, error) {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	end, err := fh.Seek(0, io.SeekEnd)
	if err != nil {
		fh.Close()
		return nil, err
	}
	opts.ResumeFrom = end
	opts.Restart = func() error {
		if err := fh.Truncate(0); err != nil {
			return err
		}
		_, err := fh.Seek(0, io.SeekStart)
		return err
	}
	return fh, nil
}

// atomicFile is a file written in full or not at all: the body goes to a
// temporary file beside the target, which replaces the target only on
// Commit. A target that exists and is not a regular file (/dev/null, a
// terminal, a named pipe) is written directly: renaming a file over it
// would replace the device itself.
type atomicFile struct {
	*os.File
	target string
	direct bool
}

// createAtomic starts writing the file at path.
func createAtomic(path string) (*atomicFile, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() &&
		!fi.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &atomicFile{File: f, target: path, direct: true}, nil
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".l402-*")
	if err != nil {
		return nil, fmt.Errorf("unable to write to %s: %w", dir, err)
	}
	// A file being replaced keeps its mode; a new one is 0644.
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &atomicFile{File: f, target: path}, nil
}

// Commit makes the written body the target file.
func (o *atomicFile) Commit() error {
	if o.direct {
		return o.File.Close()
	}
	if err := o.File.Sync(); err != nil {
		o.Abort()
		return err
	}
	if err := o.File.Close(); err != nil {
		os.Remove(o.File.Name())
		return err
	}
	if err := os.Rename(o.File.Name(), o.target); err != nil {
		os.Remove(o.File.Name())
		return fmt.Errorf("unable to write %s: %w", o.target, err)
	}
	return nil
}

// Abort discards what was written; the target is left as it was (a
// device written directly has had what it was given).
func (o *atomicFile) Abort() {
	if o.direct {
		o.File.Close()
		return
	}
	o.File.Close()
	os.Remove(o.File.Name())
}
