package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/l402/l402/internal/hashmail"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// RunOptions are what `l402 serve` passes to Run.
type RunOptions struct {
	ConfigPath string

	// Dir holds the default database and the self-signed certificate,
	// unless the config's basedir names another directory.
	Dir string

	// Log receives the start-up summary and the logs (stderr).
	Log io.Writer

	// Styled asks for a summary drawn for a terminal (Log is one).
	Styled bool

	// Ready, when set, is called with the address once listening.
	Ready func(addr string)

	// DialPricer connects to dynamic price servers.
	DialPricer func(DynamicPriceConfig) (Pricer, error)

	// Reload, when set, makes Run read the config again each time a
	// value arrives (`l402 serve` sends one on SIGHUP). Run installs no
	// signal handler itself: the caller decides what a signal means.
	Reload <-chan struct{}

	// SyncInterval is how often the database is read for other
	// replicas' admin changes (DefaultSyncInterval when zero).
	SyncInterval time.Duration
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

	// payment is the Payment scheme's (enablempp), and refunds its own
	// connection to lnd for session refunds (payment_run.go).
	payment *PaymentOptions
	refunds lightning.Node

	// relay is the LNC mailbox relay (hashmail.enabled), nil when off;
	// filter is the blocklist it is guarded by, the current config's.
	relay     *hashmail.Server
	relayHTTP http.Handler
	filter    atomic.Pointer[clientFilter]

	// sync is what the server shares with other replicas of its
	// database (admin_sync.go); admin is the admin API's handler, nil
	// unless admin.enabled (admin_run.go).
	sync  *syncState
	admin atomic.Pointer[adminHandler]
}

// Run serves until ctx ends, then drains in-flight requests (for at most
// 30 seconds). A value on opts.Reload reloads the config without
// dropping requests.
func Run(ctx context.Context, opts RunOptions) error {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return err
	}
	if opts.DialPricer == nil {
		opts.DialPricer = dialPrices
	}
	opts.Dir = cfg.Dir(opts.Dir)
	s := &server{opts: opts, cfg: cfg, metrics: NewMetrics(),
		log: newLogger(opts.Log, cfg)}
	defer s.close()
	s.warn(cfg)
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
		if errors.Is(ctx.Err(), context.Canceled) {
			// Stopped (l402 serve cancels ctx on SIGTERM or
			// Ctrl-C) while the database or the node was being
			// reached: not their failure. A deadline is one.
			fmt.Fprintln(opts.Log, "l402 serve: stopped before it "+
				"was ready")
			return nil
		}
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
	profileSrv, err := s.serveProfile()
	if err != nil {
		srv.Close()
		return err
	}
	if profileSrv != nil {
		defer profileSrv.Close()
	}
	adminSrv, err := s.serveAdmin()
	if err != nil {
		srv.Close()
		return err
	}
	if adminSrv != nil {
		defer shutdown(adminSrv)
	}
	s.summary(scheme, ln.Addr().String())
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	go s.syncLoop(ctx)
	if s.node != nil {
		go s.pruneLoop(ctx)
		go s.settleLoop(ctx)
	}

	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			fmt.Fprintln(opts.Log, "l402 serve: draining")
			return shutdown(srv)
		case <-opts.Reload:
			s.reload()
		}
	}
}

// warn logs what the config asks that serve does not do, and the
// unknown keys of its blocks that are off.
func (s *server) warn(cfg *Config) {
	for _, w := range cfg.Warnings {
		s.log.Warn("config " + s.opts.ConfigPath + ": " + w)
	}
}

// httpServer returns the server of the listener: the relay's requests
// go to the relay, the others to the current handler.
func (s *server) httpServer() *http.Server {
	idle, read, write := s.cfg.timeouts()
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		// Aperture's idletimeout, readtimeout and writetimeout: idle
		// keep-alive connections are closed, so that clients cannot
		// hold file descriptors forever, and slow clients cannot hold
		// a request open; headers are bounded.
		IdleTimeout:    idle,
		ReadTimeout:    read,
		WriteTimeout:   write,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if read > 0 && read < srv.ReadHeaderTimeout {
		srv.ReadHeaderTimeout = read
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
		s.serveRelay(w, r)
		return
	}
	if s.cfg.Admin.Enabled && s.cfg.Admin.ListenAddr == "" &&
		isAdminRequest(r) {
		s.serveAdminHTTP(w, r)
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

// start opens the database and the node, and makes the services ready.
func (s *server) start(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	return s.prepare(ctx)
}

// prepare builds, once the database and the node are open, what answers
// requests: the services in force (the file's and the admin API's), the
// revocations, and the admin API.
func (s *server) prepare(ctx context.Context) error {
	s.sync = newSyncState(s.db, s.opts.SyncInterval)
	if err := s.sync.revoked.refresh(ctx); err != nil {
		return err
	}
	if _, err := s.loadServices(ctx, s.cfg); err != nil {
		return err
	}
	return s.startAdmin(ctx)
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
	if err := bufferSessionDraws(db, cfg, s.log); err != nil {
		return err
	}
	db.SetBookkeepingFailureHandler(s.bookkeepingFailed)

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
	if s.auth, err = NewAuthenticator(ctx, node, db, cfg.InvoiceExpiry,
		nil); err != nil {
		return err
	}
	if cfg.StrictVerify {
		s.auth.requireSettled()
	}
	if cfg.Authenticator.MPP.EnableMPP {
		return s.openPayment(ctx)
	}
	return nil
}

// bookkeepingFailed logs and counts the transactions the store could not
// write: a paid token among them is taken on its settled invoice and its
// row written again at its first use; until then the admin API does not
// list them.
func (s *server) bookkeepingFailed(rows int, err error) {
	s.metrics.bookkeepingFailures.Add(float64(rows))
	s.log.Error("transactions were not written (a paid token is taken on "+
		"its settled invoice; the admin API does not list them)",
		"transactions", rows, "err", err)
}

// close releases what open and Run acquired.
func (s *server) close() {
	if h := s.current.Load(); h != nil {
		h.Close()
	}
	if s.refunds != nil {
		s.refunds.Close()
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
