package serve

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// newTransport returns the round tripper to a backend. An https backend
// is verified (tlscertpath adds a CA) and speaks HTTP/2 when it offers it;
// a plain http backend gets HTTP/1.1, and gRPC calls to it go over h2c
// (HTTP/2 without TLS, prior knowledge), as gRPC servers expect.
func newTransport(sc ServiceConfig) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection per request in flight: a request that finds
	// none idle dials the backend, which costs a handshake and, after
	// the burst, a socket in TIME_WAIT. The total is bounded per
	// backend, not across them.
	base.MaxIdleConns = 0
	base.MaxIdleConnsPerHost = 256
	if sc.TLSCertPath != "" {
		pem, err := os.ReadFile(sc.TLSCertPath)
		if err != nil {
			return nil, fmt.Errorf("tlscertpath: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tlscertpath %s holds no PEM certificate",
				sc.TLSCertPath)
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool,
			MinVersion: tls.VersionTLS12}
	}
	if sc.Protocol == "https" {
		return base, nil
	}

	h2c := base.Clone()
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	return grpcSplit{h1: base, h2c: h2c}, nil
}

// grpcSplit sends gRPC calls over h2c and everything else over HTTP/1.1.
type grpcSplit struct {
	h1, h2c http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (g grpcSplit) RoundTrip(r *http.Request) (*http.Response, error) {
	if isGRPC(r) {
		return g.h2c.RoundTrip(r)
	}
	return g.h1.RoundTrip(r)
}
