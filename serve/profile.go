package serve

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// serveProfile serves Go's pprof on localhost:profile when it is set, as
// Aperture does: on the loopback interface only, on its own mux (never
// the proxy's port, never http.DefaultServeMux).
func (s *server) serveProfile() (*http.Server, error) {
	if s.cfg.Profile == 0 {
		return nil, nil
	}
	addr := net.JoinHostPort("localhost", strconv.Itoa(s.cfg.Profile))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	srv := &http.Server{Handler: profileMux(),
		ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(s.opts.Log, "l402 serve: pprof on http://%s/debug/pprof/\n",
		ln.Addr())
	return srv, nil
}

// profileMux routes pprof's pages, and / to their index.
func profileMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/{$}", http.RedirectHandler("/debug/pprof/",
		http.StatusSeeOther))
	return mux
}
