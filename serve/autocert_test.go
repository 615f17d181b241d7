package serve

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestAutocertManager: Let's Encrypt is asked for servername only, and
// the TLS config answers the TLS-ALPN-01 challenge beside HTTP/2.
func TestAutocertManager(t *testing.T) {
	s := autocertServer(t)
	m := s.autocertManager()
	ctx := context.Background()
	if err := m.HostPolicy(ctx, "api.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := m.HostPolicy(ctx, "evil.example.com"); err == nil {
		t.Fatal("autocert would ask for any host")
	}
	tc := m.TLSConfig()
	if !slices.Contains(tc.NextProtos, "acme-tls/1") ||
		!slices.Contains(tc.NextProtos, "h2") {
		t.Fatalf("ALPN %v", tc.NextProtos)
	}
}

// autocertServer is a server of the skill's config with autocert for
// api.example.com, logging to a buffer.
func autocertServer(t *testing.T) *server {
	t.Helper()
	cfg, err := LoadConfig(writeConfig(t, strings.Replace(
		apertureSkillConfig, "insecure: true",
		"autocert: true\nservername: api.example.com", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return &server{cfg: cfg, opts: RunOptions{Dir: t.TempDir(),
		Log: &syncBuffer{}}}
}
