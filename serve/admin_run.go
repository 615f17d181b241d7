package serve

import (
	"context"
	"net"
	"net/http"
	"time"
)

// startAdmin makes the admin API ready when admin.enabled: the admin
// macaroon (baked at the first start) and the handler.
func (s *server) startAdmin(ctx context.Context) error {
	a := s.cfg.Admin
	if !a.Enabled {
		return nil
	}
	path := a.macaroonPath(s.opts.Dir)
	auth, err := bakeAdminMacaroon(ctx, s.db, path,
		func(msg string) { s.log.Warn(msg) })
	if err != nil {
		return err
	}
	api := &adminAPI{s: s, wait: s.sync.lease() + s.sync.interval}
	s.admin.Store(newAdminHandler(api, auth, a.CORSOrigin))
	where := s.cfg.ListenAddr
	if a.ListenAddr != "" {
		where = a.ListenAddr
	}
	s.log.Info("admin API enabled", "listen", where, "macaroon", path)
	return nil
}

// serveAdminHTTP answers an admin request, or 503 until the API is ready.
func (s *server) serveAdminHTTP(w http.ResponseWriter, r *http.Request) {
	h := s.admin.Load()
	if h == nil {
		w.Header().Set("Retry-After", "5")
		answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
			"l402 serve is starting: the admin API is not ready yet")
		return
	}
	h.ServeHTTP(w, r)
}

// serveAdmin starts the admin API's own listener when admin.listenaddr is
// set (TLS like the main listener, h2c when insecure), and returns its
// server; nil otherwise.
func (s *server) serveAdmin() (*http.Server, error) {
	a := s.cfg.Admin
	if !a.Enabled || a.ListenAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.ListenAddr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveAdminHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if s.cfg.Insecure {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		go srv.Serve(ln)
		return srv, nil
	}
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv.TLSConfig = tlsCfg
	go srv.ServeTLS(ln, "", "")
	return srv, nil
}
