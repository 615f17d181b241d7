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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// RunOptions are what `l402 serve` passes to Run.
type RunOptions struct {
	ConfigPath string

	// Dir holds the default database and the self-signed certificate.
	Dir string

	// Log receives the start-up summary and the logs (stderr).
	Log io.Writer

	// Ready, when set, is called with the address once listening.
	Ready func(addr string)
}

// unsupported lists the keys that are read but not served yet, so that a
// config relying on them fails at start instead of being half-honoured.
func unsupported(cfg *Config) error {
	var errs []error
	no := func(key string) {
		errs = append(errs, fmt.Errorf("%s is not supported yet", key))
	}
	if cfg.AutoCert {
		no("autocert")
	}
	if cfg.DBBackend == "postgres" {
		no("dbbackend postgres")
	}
	for _, s := range cfg.Services {
		if len(s.Constraints) > 0 {
			no(fmt.Sprintf("service %q: constraints", s.Name))
		}
	}
	return errors.Join(errs...)
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
	if cfg.Authenticator.Disable {
		return errors.New("authenticator.disable is not supported yet")
	}
	log := slog.New(slog.NewTextHandler(opts.Log, nil))

	dbPath := cfg.SQLite.Path()
	if dbPath == "" {
		dbPath = filepath.Join(opts.Dir, "serve.db")
	}
	db, err := store.OpenSQLite(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

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
	defer node.Close()
	// invoice.macaroon may not read node info (lnd's own does not): then
	// the network is taken on trust from the config.
	info, err := node.Info(ctx)
	switch {
	case errors.Is(err, lightning.ErrPermissionDenied):
		info = lightning.Info{Alias: cfg.Authenticator.LndHost,
			Network: cfg.Authenticator.Network}
		log.Info("the macaroon cannot read node info; network not checked")
	case err != nil:
		return fmt.Errorf("unable to reach lnd: %w", err)
	case cfg.Authenticator.Network != "" &&
		cfg.Authenticator.Network != info.Network:
		return fmt.Errorf("authenticator.network is %s but lnd at %s is on "+
			"%s", cfg.Authenticator.Network, cfg.Authenticator.LndHost,
			info.Network)
	}

	auth := NewAuthenticator(node, db, 0, nil)
	h, err := NewHandler(cfg, auth, log)
	if err != nil {
		return err
	}
	var current atomic.Pointer[Handler]
	current.Store(h)

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	scheme := "http"
	if !cfg.Insecure {
		cert, err := selfSigned(opts.Dir, cfg.ServerName)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		})
		scheme = "https"
	}

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter,
			r *http.Request) {
			current.Load().ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	nodeDesc := info.Alias
	if info.Pubkey != "" {
		nodeDesc += " " + info.Pubkey
	}
	fmt.Fprintf(opts.Log, "l402 serve: listening on %s://%s, lnd %s on %s\n",
		scheme, ln.Addr(), nodeDesc, info.Network)
	for _, s := range cfg.Services {
		fmt.Fprintf(opts.Log, "l402 serve: service %s: host %s path %s -> "+
			"%s, %d sat\n", s.Name, s.HostRegexp, s.PathRegexp, s.Address,
			s.Price)
	}
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

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
			reloaded, err := LoadConfig(opts.ConfigPath)
			if err == nil {
				err = unsupported(reloaded)
			}
			var nh *Handler
			if err == nil {
				nh, err = NewHandler(reloaded, auth, log)
			}
			if err != nil {
				log.Error("reload refused; the old config stays", "err", err)
				continue
			}
			current.Store(nh)
			log.Info("config reloaded", "services", len(reloaded.Services))
		}
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
