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

	"github.com/l402/l402/internal/hashmail"
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

// server is one running serve: its config, database, node, handler and
// mailbox relay.
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

	// relay is the LNC mailbox relay (hashmail.enabled), nil when off;
	// filter is the blocklist it is guarded by, the current config's.
	relay     *hashmail.Server
	relayHTTP http.Handler
	filter    atomic.Pointer[clientFilter]
}

// Run serves until ctx ends or SIGTERM/SIGINT arrives, then drains
// in-flight requests. SIGHUP reloads the config without dropping
// requests.
func Run(ctx context.Context, opts RunOptions) error {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return err
	}
	if opts.DialPricer == nil {
		opts.DialPricer = dialPrices
	}
	s := &server{opts: opts, cfg: cfg, metrics: NewMetrics(),
		log: newLogger(opts.Log, cfg.DebugLevel)}
	defer s.close()
	if err := s.startRelay(); err != nil {
		return err
	}

	// The listener serves first, so that the relay works while the node
	// is reached: serve's own LNC connection may go through it. Other
	// requests are answered 503 until the services are ready.
	ln, scheme, err := s.listen()
	if err != nil {
		return err
	}
	srv := s.httpServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := s.start(ctx); err != nil {
		srv.Close()
		return err
	}
	metricsSrv, err := s.serveMetrics()
	if err != nil {
		srv.Close()
		return err
	}
	if metricsSrv != nil {
		defer metricsSrv.Close()
	}
	s.summary(scheme, ln.Addr().String())
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

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

// httpServer returns the server of the listener: the relay's requests
// go to the relay, the others to the current handler.
func (s *server) httpServer() *http.Server {
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		// Idle keep-alive connections are closed, so that clients
		// cannot hold file descriptors forever; headers are bounded.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.cfg.Insecure {
		// Plain HTTP/1 and h2c (HTTP/2 with prior knowledge), for gRPC.
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if s.relay != nil {
		// The relay's streams last as long as their LNC sessions: end
		// them when draining starts, or the drain would wait for them.
		srv.RegisterOnShutdown(s.relay.Close)
	}
	return srv
}

// serveHTTP routes a request: the mailbox relay's paths first (as
// Aperture does, before any service is matched and without payment, but
// behind the blocklist), then the services, once they are ready.
func (s *server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.relay != nil && hashmail.IsRelayRequest(r) {
		f := s.filter.Load()
		if f.blocks(f.clientIP(r)) {
			answer(w, r, http.StatusForbidden, grpcPermissionDenied,
				"forbidden")
			return
		}
		s.relayHTTP.ServeHTTP(w, r)
		return
	}

	h := s.current.Load()
	if h == nil {
		w.Header().Set("Retry-After", "5")
		answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
			"l402 serve is starting: the Lightning node is not "+
				"reached yet")
		return
	}
	h.ServeHTTP(w, r)
}

// startRelay builds the mailbox relay when hashmail.enabled is set, and
// the blocklist that guards it.
func (s *server) startRelay() error {
	filter, err := newClientFilter(s.cfg)
	if err != nil {
		return err
	}
	s.filter.Store(filter)

	hm := s.cfg.HashMail
	if !hm.Enabled {
		return nil
	}
	relay, err := hashmail.New(hashmail.Config{
		MsgInterval:  hm.MessageRate,
		MsgBurst:     hm.MessageBurstAllowance,
		StaleTimeout: hm.StaleTimeout,
	})
	if err != nil {
		return fmt.Errorf("config %s: %w", s.opts.ConfigPath, err)
	}
	s.relay, s.relayHTTP = relay, relay.Handler()
	return nil
}

// start opens the database and the node, and makes the services ready.
func (s *server) start(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	h, err := s.handler(s.cfg)
	if err != nil {
		return err
	}
	s.current.Store(h)
	return nil
}

// open connects the database and, unless the authenticator is disabled,
// the node.
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
	node, err := s.dialNode(ctx)
	if err != nil {
		return err
	}
	s.node = node
	if s.info, err = checkNode(ctx, node, s.nodeName(),
		cfg.Authenticator.Network); err != nil {
		return err
	}
	if s.info.Pubkey == "" {
		s.log.Info("the macaroon cannot read node info; network not checked")
	}
	s.auth = NewAuthenticator(node, db, cfg.InvoiceExpiry, nil)
	return nil
}

// nodeName names the node in messages: lnd's address, or the mailbox.
func (s *server) nodeName() string {
	a := s.cfg.Authenticator
	if a.LNC() {
		return "lnc via " + a.MailboxAddr()
	}
	return a.LndHost
}

// dialNode connects to lnd over gRPC, or through Lightning Node Connect.
func (s *server) dialNode(ctx context.Context) (lightning.Node, error) {
	a := s.cfg.Authenticator
	if !a.LNC() {
		return lightning.NewLnd(lightning.LndConfig{
			Name:         a.LndHost,
			Host:         a.LndHost,
			TLSCertPath:  a.TLSPath,
			MacaroonPath: filepath.Join(a.MacDir, "invoice.macaroon"),
		})
	}

	phrase, source, err := s.lncPhrase()
	if err != nil {
		return nil, fmt.Errorf("config %s: authenticator: %w",
			s.opts.ConfigPath, err)
	}
	session := a.SessionFile
	if session == "" {
		session = filepath.Join(s.opts.Dir, "lnc-serve.json")
	}
	s.log.Info("reaching the node over Lightning Node Connect",
		"mailbox", a.MailboxAddr(), "phrase_from", source,
		"session_file", session)
	node, err := lightning.NewLNC(ctx, lightning.LNCConfig{
		Name:        s.nodeName(),
		Phrase:      phrase,
		MailboxAddr: a.MailboxAddr(),
		DevServer:   a.DevServer,
		Timeout:     a.LNCTimeout,
		Store:       lightning.FileSessionStore{Path: session},
	})
	if err != nil {
		return nil, fmt.Errorf("unable to reach the node over LNC: %w", err)
	}
	return node, nil
}

// lncPhrase returns the pairing phrase: authenticator.passphrase (with a
// warning when others may read serve.yaml), passphrasefile, or
// $L402_LNC_PHRASE; and where it came from.
func (s *server) lncPhrase() (phrase, source string, err error) {
	a := s.cfg.Authenticator
	if a.Passphrase == "" {
		return lightning.LookupPhrase(a.PassphraseFile, os.Getenv)
	}
	if fi, err := os.Stat(s.opts.ConfigPath); err == nil &&
		fi.Mode().Perm()&0o077 != 0 {

		s.log.Warn("serve.yaml holds authenticator.passphrase and other "+
			"users may read it: chmod 600 it, or move the phrase to a "+
			"0600 file named by authenticator.passphrasefile",
			"config", s.opts.ConfigPath,
			"mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	return a.Passphrase, "authenticator.passphrase", nil
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

// checkNode asks the node who it is and checks the network. An invoice
// macaroon may not read node info (lnd's own does not): then the network
// is taken on trust from the config.
func checkNode(ctx context.Context, node lightning.Node, name,
	network string) (lightning.Info, error) {

	info, err := node.Info(ctx)
	switch {
	case errors.Is(err, lightning.ErrPermissionDenied):
		return lightning.Info{Alias: name, Network: network}, nil
	case err != nil:
		return info, fmt.Errorf("unable to reach lnd: %w", err)
	case network != "" && network != info.Network:
		return info, fmt.Errorf("authenticator.network is %s but lnd at %s "+
			"is on %s", network, name, info.Network)
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
	s.filter.Store(h.filter)
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
	diff("hashmail", a.HashMail != b.HashMail)
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
	if s.relay != nil {
		s.relay.Close()
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
