package serve

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// serveMetrics starts the Prometheus endpoint when enabled.
func (s *server) serveMetrics() (*http.Server, error) {
	p := s.cfg.Prometheus
	if !p.Enabled {
		return nil, nil
	}
	ln, err := net.Listen("tcp", p.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("prometheus.listenaddr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(s.opts.Log, "l402 serve: metrics on http://%s/metrics\n",
		ln.Addr())
	return srv, nil
}
