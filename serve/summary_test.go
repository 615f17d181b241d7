package serve

import (
	"strings"
	"testing"
)

// TestSummary: plain lines for scripts, a table on a terminal.
func TestSummary(t *testing.T) {
	s := autocertServer(t)
	log := s.opts.Log.(*syncBuffer)
	s.summary("https", "127.0.0.1:443")
	if !strings.Contains(log.String(), "l402 serve: service api: host .* "+
		"path ^/api/.*$ -> http://127.0.0.1:8080, 100 sat") {
		t.Fatalf("plain summary:\n%s", log)
	}
	styled := &syncBuffer{}
	s.opts = RunOptions{Log: styled, Styled: true}
	s.summary("https", "127.0.0.1:443")
	if !strings.Contains(styled.String(), "127.0.0.1:8080") ||
		!strings.Contains(styled.String(), "SERVICE") {
		t.Fatalf("styled summary:\n%s", styled)
	}
}
