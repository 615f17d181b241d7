package lightning

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/lnctest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// TestNewLndConnectsOnFirstCall: NewLnd reads its files but makes no gRPC
// connection (and starts none of gRPC's goroutines) before the first
// call, which a cached `l402 fetch` never makes; the first call
// connects, a certificate that does not parse fails it, and a call after
// Close is refused.
func TestNewLndConnectsOnFirstCall(t *testing.T) {
	fake := lnctest.StartFakeLnd(t, "alice", "regtest")
	badCert := filepath.Join(t.TempDir(), "bad.cert")
	os.WriteFile(badCert, []byte("-----BEGIN CERTIFICATE-----\n"+
		"aGVsbG8=\n-----END CERTIFICATE-----\n"), 0o600)

	tests := []struct {
		name    string
		cert    string
		wantErr string // of the first call; "" for none
	}{
		{"good certificate", fake.CertPath, ""},
		{"certificate that does not parse", badCert, "no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			l, err := NewLnd(LndConfig{Name: "alice", Host: fake.Host,
				TLSCertPath: tc.cert, MacaroonPath: fake.MacaroonPath,
				CallTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			// Fewer is not a failure: the goroutines of the previous
			// case's closed connection may still be ending.
			if n := runtime.NumGoroutine(); n > before {
				t.Errorf("NewLnd started %d goroutines", n-before)
			}

			_, err = l.Info(context.Background())
			var ce *CallError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("first call: %v", err)
			case tc.wantErr != "" && (!errors.As(err, &ce) ||
				!strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("first call: got %v, want a CallError with %q",
					err, tc.wantErr)
			}

			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Info(context.Background()); status.Code(
				errors.Unwrap(err)) != codes.Canceled {
				t.Fatalf("call after Close: %v, want Canceled", err)
			}
		})
	}
}
