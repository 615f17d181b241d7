package lightning

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewLndReportsBadFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "tls.cert")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	empty := filepath.Join(dir, "empty.macaroon")
	os.WriteFile(empty, nil, 0o600)

	tests := []struct {
		name string
		cfg  LndConfig
		want string
	}{
		{"no host", LndConfig{}, "no lnd host"},
		{"missing cert", LndConfig{Host: "127.0.0.1:1",
			TLSCertPath: filepath.Join(dir, "nope")}, "TLS certificate"},
		{"not PEM", LndConfig{Host: "127.0.0.1:1", TLSCertPath: notPEM},
			"no PEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLnd(tc.cfg)
			var ce *CallError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(),
				tc.want) {
				t.Fatalf("got %v, want a CallError with %q", err, tc.want)
			}
		})
	}

	macTests := []struct {
		path, hex, want string
	}{
		{"", "", "no macaroon"},
		{empty, "", "empty"},
		{filepath.Join(dir, "nope"), "", "unable to read"},
		{"", "zz", "not hex"},
		{empty, "00", "not both"},
	}
	for _, tc := range macTests {
		if _, err := loadMacaroon(tc.path, tc.hex); err == nil ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q: got %v, want %q", tc.path, tc.hex, err, tc.want)
		}
	}
}
