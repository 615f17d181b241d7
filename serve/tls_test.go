package serve

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSelfSignedCreatesOnceAndReloads: the first call writes tls.cert
// (0644) and tls.key (0600) for localhost, the loopback addresses and
// the server name; the next call loads the same certificate instead of
// making a new one.
func TestSelfSignedCreatesOnceAndReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	cert, err := selfSigned(dir, "api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(leaf.DNSNames, []string{"localhost",
		"api.example.com"}) || len(leaf.IPAddresses) != 2 ||
		!leaf.NotAfter.After(leaf.NotBefore) {
		t.Fatalf("certificate names %v %v, valid %s to %s", leaf.DNSNames,
			leaf.IPAddresses, leaf.NotBefore, leaf.NotAfter)
	}
	for name, mode := range map[string]os.FileMode{"tls.cert": 0o644,
		"tls.key": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v, want mode %v", name, fi, err, mode)
		}
	}

	again, err := selfSigned(dir, "api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Certificate[0], cert.Certificate[0]) {
		t.Fatal("a second start made a new certificate")
	}
}
