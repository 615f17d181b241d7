package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/prices"
	"github.com/l402/l402/internal/store"
	"golang.org/x/crypto/acme/autocert"
)

// RunOptions are what `l402 serve` passes to Run.
type RunOptions struct {
	ConfigPath string

	// Dir holds the default database and the self-signed certificate.
	Dir string

	// Log receives the start-up summary and the logs (stderr).
	Log io.Writer

	// Styled asks for a lipgloss summary (Log is a terminal).
	Styled bool

	// Ready, when set, is called with the address once listening.
	Ready func(addr string)

	// DialPricer connects to dynamic price servers.
	DialPricer func(DynamicPriceConfig) (Pricer, error)
}

// unsupported lists the keys that are read but not served yet, so that a
// config relying on them fails at start instead of being half-honoured.
// (Every key of the config is served now; LNC is refused when the config
// is read.)
func unsupported(*Config) error { return nil }

// server is one running serve: its config, database, node and handler.
type server struct {
	opts    RunOptions
	cfg     *Config
	log     *slog.Logger
	db      *store.Store
	node    lightning.Node
	info    lightning.Info
	auth    *Authenticator
	metrics *Metrics
	current atomic.Pointer[Handler]
}

// Run serves until ctx ends or SIGTERM/SIGINT arrives, then drains
// in-flight requests. SIGHUP reloads the config without dropping
// requests.
func Run(ctx context.Context, opts RunOptions) error {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return err
	}
	if err := unsupported(cfg); err != nil {
		return fmt.Errorf("config %s: %w", opts.ConfigPath, err)
	}
	if opts.DialPricer == nil {
		opts.DialPricer = dialPrices
	}
	s := &server{opts: opts, cfg: cfg, metrics: NewMetrics(),
		log: newLogger(opts.Log, cfg.DebugLevel)}
	defer s.close()
	if err := s.open(ctx); err != nil {
		return err
	}
	h, err := s.handler(cfg)
	if err != nil {
		return err
	}
	s.current.Store(h)

	ln, scheme, err := s.listen()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter,
			r *http.Request) {
			s.current.Load().ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if cfg.Insecure {
		// Plain HTTP/1 and h2c (HTTP/2 with prior knowledge), for gRPC.
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	metricsSrv, err := s.serveMetrics()
	if err != nil {
		ln.Close()
		return err
	}
	if metricsSrv != nil {
		defer metricsSrv.Close()
	}
	s.summary(scheme, ln.Addr().String())
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if s.node != nil {
		go s.pruneLoop(ctx)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return shutdown(srv)
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				fmt.Fprintln(opts.Log, "l402 serve: draining")
				return shutdown(srv)
			}
			s.reload()
		}
	}
}

// open connects the database and, unless the authenticator is disabled,
// lnd.
func (s *server) open(ctx context.Context) error {
	cfg := s.cfg
	db, err := openStore(ctx, cfg, s.opts.Dir)
	if err != nil {
		return err
	}
	s.db = db

	if cfg.Authenticator.Disable {
		s.log.Warn("authenticator.disable is set: every request passes " +
			"without payment")
		return nil
	}
	node, err := lightning.NewLnd(lightning.LndConfig{
		Name:        cfg.Authenticator.LndHost,
		Host:        cfg.Authenticator.LndHost,
		TLSCertPath: cfg.Authenticator.TLSPath,
		MacaroonPath: filepath.Join(cfg.Authenticator.MacDir,
			"invoice.macaroon"),
	})
	if err != nil {
		return err
	}
	s.node = node
	if s.info, err = checkNode(ctx, node, cfg.Authenticator); err != nil {
		return err
	}
	if s.info.Pubkey == "" {
		s.log.Info("the macaroon cannot read node info; network not checked")
	}
	s.auth = NewAuthenticator(node, db, cfg.InvoiceExpiry, nil)
	return nil
}

// openStore opens the configured database: SQLite (default Dir/serve.db)
// or Postgres.
func openStore(ctx context.Context, cfg *Config, dir string) (*store.Store,
	error) {

	if cfg.DBBackend == "postgres" {
		p := cfg.Postgres
		return store.OpenPostgres(ctx, store.PostgresOptions{Host: p.Host,
			Port: p.Port, User: p.User, Password: p.Password,
			DBName: p.DBName, MaxConnections: p.MaxConnections,
			RequireSSL: p.RequireSSL})
	}
	path := cfg.SQLite.Path()
	if path == "" {
		path = filepath.Join(dir, "serve.db")
	}
	return store.OpenSQLite(ctx, path)
}

// checkNode asks lnd who it is and checks the network. An invoice
// macaroon may not read node info (lnd's own does not): then the network
// is taken on trust from the config.
func checkNode(ctx context.Context, node lightning.Node,
	a AuthenticatorConfig) (lightning.Info, error) {

	info, err := node.Info(ctx)
	switch {
	case errors.Is(err, lightning.ErrPermissionDenied):
		return lightning.Info{Alias: a.LndHost, Network: a.Network}, nil
	case err != nil:
		return info, fmt.Errorf("unable to reach lnd: %w", err)
	case a.Network != "" && a.Network != info.Network:
		return info, fmt.Errorf("authenticator.network is %s but lnd at %s "+
			"is on %s", a.Network, a.LndHost, info.Network)
	}
	return info, nil
}

// handler builds a Handler for cfg with the server's collaborators.
func (s *server) handler(cfg *Config) (*Handler, error) {
	return NewHandler(cfg, s.auth, HandlerOptions{Log: s.log,
		Metrics: s.metrics, DialPricer: s.opts.DialPricer})
}

// reload reads the config again and swaps the handler; a bad config is
// refused and the old one stays. Keys that need a restart (listen
// address, TLS, database, lnd) are reported, not applied.
func (s *server) reload() {
	cfg, err := LoadConfig(s.opts.ConfigPath)
	if err == nil {
		err = unsupported(cfg)
	}
	var h *Handler
	if err == nil {
		h, err = s.handler(cfg)
	}
	if err != nil {
		s.log.Error("reload refused; the old config stays", "err", err)
		return
	}
	if restart := restartKeys(s.cfg, cfg); len(restart) > 0 {
		s.log.Warn("reload: these keys take effect at the next start",
			"keys", strings.Join(restart, ", "))
	}
	old := s.current.Swap(h)
	s.log.Info("config reloaded", "services", len(cfg.Services))
	// Requests still in the old handler may be pricing: give them time.
	time.AfterFunc(time.Minute, old.Close)
}

// restartKeys names the keys that differ between a and b and that a
// reload does not apply.
func restartKeys(a, b *Config) []string {
	var keys []string
	diff := func(key string, differ bool) {
		if differ {
			keys = append(keys, key)
		}
	}
	diff("listenaddr", a.ListenAddr != b.ListenAddr)
	diff("insecure", a.Insecure != b.Insecure)
	diff("autocert", a.AutoCert != b.AutoCert || a.ServerName != b.ServerName)
	diff("dbbackend", a.DBBackend != b.DBBackend || a.SQLite != b.SQLite ||
		a.Postgres != b.Postgres)
	diff("authenticator", a.Authenticator != b.Authenticator)
	diff("prometheus", a.Prometheus != b.Prometheus)
	diff("debuglevel", a.DebugLevel != b.DebugLevel)
	diff("invoiceexpiry", a.InvoiceExpiry != b.InvoiceExpiry)
	return keys
}

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

// pruneLoop deletes the root keys of unpaid tokens whose invoices expired,
// every PruneInterval, until ctx ends.
func (s *server) pruneLoop(ctx context.Context) {
	t := time.NewTicker(PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := Prune(ctx, s.db, s.node, time.Now(), pruneBatch)
		s.metrics.settled.Add(float64(res.Settled))
		s.metrics.pruned.Add(float64(res.Deleted))
		if err != nil {
			s.log.Warn("pruning unpaid tokens stopped", "err", err)
		} else if res.Deleted+res.Settled > 0 {
			s.log.Info("pruned unpaid tokens", "deleted", res.Deleted,
				"settled", res.Settled, "kept", res.Kept)
		}
	}
}

// Pruning: how often, and how many rows each database query reads (a
// round goes on until no candidate is left).
const (
	PruneInterval = 5 * time.Minute
	pruneBatch    = 1000
)

// close releases what open and Run acquired.
func (s *server) close() {
	if h := s.current.Load(); h != nil {
		h.Close()
	}
	if s.node != nil {
		s.node.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
}

// shutdown drains in-flight requests, for at most 30 seconds.
func shutdown(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// selfSigned loads, or creates once, a self-signed certificate in dir.
func selfSigned(dir, serverName string) (tls.Certificate, error) {
	certPath := filepath.Join(dir, "tls.cert")
	keyPath := filepath.Join(dir, "tls.key")
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return cert, nil
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	names := []string{"localhost"}
	if serverName != "" {
		names = append(names, serverName)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"l402 serve"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(14 * 30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey,
		key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{
		Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{
		Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// writeFileAtomic writes a file whole or not at all, with its mode set
// before any byte is written.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".l402-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// dialPrices connects to an Aperture pricesrpc server. A zero price is
// passed on as free access, as Aperture does.
func dialPrices(c DynamicPriceConfig) (Pricer, error) {
	client, err := prices.Dial(prices.Config{Address: c.GRPCAddress,
		Insecure: c.Insecure, TLSCertPath: c.TLSCertPath})
	if err != nil {
		return nil, err
	}
	return zeroIsFree{client}, nil
}

// zeroIsFree turns the price client's zero-price error into a zero price.
type zeroIsFree struct{ *prices.Client }

// Price implements Pricer.
func (z zeroIsFree) Price(ctx context.Context, r *http.Request) (int64,
	error) {

	p, err := z.Client.Price(ctx, r)
	if errors.Is(err, prices.ErrZeroPrice) {
		return 0, nil
	}
	return p, err
}
