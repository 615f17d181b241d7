package serve

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// autocert gets certificates for servername from Let's Encrypt, cached in
// Dir/autocert. TLS-ALPN-01 is answered on listenaddr (which must then be
// port 443); HTTP-01 on port 80 when it can be opened.
func (s *server) autocert() *tls.Config {
	m := s.autocertManager()
	go func() {
		srv := &http.Server{Addr: ":80", Handler: m.HTTPHandler(nil),
			ReadHeaderTimeout: 10 * time.Second}
		if err := srv.ListenAndServe(); err != nil {
			s.log.Warn("autocert: port 80 is not served, so only the "+
				"TLS-ALPN-01 challenge on port 443 can work", "err", err)
		}
	}()
	c := m.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	return c
}

// autocertManager is the Let's Encrypt client for servername only.
func (s *server) autocertManager() *autocert.Manager {
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(s.cfg.ServerName),
		Cache:      autocert.DirCache(filepath.Join(s.opts.Dir, "autocert")),
	}
}
