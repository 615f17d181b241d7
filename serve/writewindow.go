package serve

import (
	"net/http"
	"time"
)

// windowWriter makes writetimeout a rolling window over a proxied
// response, as Aperture does: each write pushes the connection's write
// deadline a window further, so that a stream (a long generation, a
// download) lives while it flows; a gap between two writes longer than
// the window is not bridged, and the write after it fails.
type windowWriter struct {
	http.ResponseWriter
	deadline deadliner
	window   time.Duration
	last     time.Time
	stalled  bool

	// now is the clock (time.Now; tests set their own).
	now func() time.Time
}

// deadliner is a ResponseWriter's way to move its write deadline (the
// server's response, HTTP/1 or HTTP/2).
type deadliner interface {
	SetWriteDeadline(time.Time) error
}

// withWindow returns w with a rolling write window, or w itself when the
// window is 0 (no writetimeout) or w cannot move its deadline.
func withWindow(w http.ResponseWriter, window time.Duration) http.ResponseWriter {
	if window <= 0 {
		return w
	}
	inner := w
	for {
		if d, ok := inner.(deadliner); ok {
			return &windowWriter{ResponseWriter: w, deadline: d,
				window: window, last: time.Now(), now: time.Now}
		}
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		inner = u.Unwrap()
	}
}

// push moves the deadline a window past now, unless the gap since the
// last write was longer than a window.
func (w *windowWriter) push() {
	now := w.now()
	if w.stalled || now.Sub(w.last) > w.window {
		w.stalled = true
		return
	}
	w.last = now
	_ = w.deadline.SetWriteDeadline(now.Add(w.window))
}

// WriteHeader implements http.ResponseWriter.
func (w *windowWriter) WriteHeader(code int) {
	w.push()
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *windowWriter) Write(p []byte) (int, error) {
	w.push()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes the response (what the reverse proxy calls through
// http.ResponseController for a stream).
func (w *windowWriter) FlushError() error {
	w.push()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the ResponseWriter underneath, for
// http.ResponseController.
func (w *windowWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
