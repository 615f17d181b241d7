package fetch

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ProgressBar draws a download's progress on one terminal line. It is for
// stderr on a terminal only: pipes get no progress at all.
type ProgressBar struct {
	w     io.Writer
	label string
	every time.Duration

	mu      sync.Mutex
	total   int64
	done    int64
	last    time.Time
	started bool
}

// NewProgressBar returns a bar that writes to w, naming the download.
func NewProgressBar(w io.Writer, label string) *ProgressBar {
	return &ProgressBar{w: w, label: label, every: 100 * time.Millisecond}
}

// Start is the Options.Progress hook: it records the total and returns the
// writer the body is copied to.
func (p *ProgressBar) Start(total int64) io.Writer {
	p.mu.Lock()
	p.total, p.started = total, true
	p.mu.Unlock()
	return p
}

// Write counts body bytes and redraws at most every tenth of a second.
func (p *ProgressBar) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(len(b))
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.draw()
	}
	return len(b), nil
}

// Finish draws the final state and ends the line.
func (p *ProgressBar) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		return
	}
	p.draw()
	fmt.Fprintln(p.w)
}

// draw writes the line; p.mu must be held.
func (p *ProgressBar) draw() {
	const width = 30
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s  %s", p.label, formatBytes(p.done))
		return
	}
	frac := float64(p.done) / float64(p.total)
	if frac > 1 {
		frac = 1
	}
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r%s  [%s%s] %s / %s %3.0f%%", p.label,
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		formatBytes(p.done), formatBytes(p.total), frac*100)
}

// formatBytes writes a size with a binary unit.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
