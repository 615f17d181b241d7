package serve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/l402/l402/internal/atomicfile"
)

// listen opens listenaddr: plain with insecure, otherwise TLS with an
// autocert or self-signed certificate.
func (s *server) listen() (net.Listener, string, error) {
	cfg := s.cfg
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, "", err
	}
	if cfg.Insecure {
		return ln, "http", nil
	}
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	return tls.NewListener(ln, tlsCfg), "https", nil
}

// tlsConfig returns the listener's TLS config, offering HTTP/2.
func (s *server) tlsConfig() (*tls.Config, error) {
	if s.cfg.AutoCert {
		return s.autocert(), nil
	}
	cert, err := selfSigned(s.opts.Dir, s.cfg.ServerName)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// selfSigned loads, or creates once, a self-signed certificate in dir
// (tls.cert and tls.key), for localhost, the loopback addresses and
// serverName.
func selfSigned(dir, serverName string) (tls.Certificate, error) {
	certPath := filepath.Join(dir, "tls.cert")
	keyPath := filepath.Join(dir, "tls.key")
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return cert, nil
	}

	certPEM, keyPEM, err := newSelfSigned(serverName, time.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to create a "+
			"self-signed certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("unable to create %s: %w",
			dir, err)
	}
	// The key first: a certificate on disk always has its key.
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// newSelfSigned returns a fresh P-256 key and a certificate it signs
// itself, valid from an hour before now for 14 months, both PEM encoded.
func newSelfSigned(serverName string, now time.Time) (certPEM,
	keyPEM []byte, err error) {

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	names := []string{"localhost"}
	if serverName != "" {
		names = append(names, serverName)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"l402 serve"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(14 * 30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl,
		&key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Bytes: keyDER})
	return certPEM, keyPEM, nil
}
