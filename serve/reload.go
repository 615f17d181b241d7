package serve

import (
	"context"
	"fmt"
	"strings"

	"github.com/l402/l402/internal/config"
)

// handler builds a Handler for cfg with the server's collaborators.
func (s *server) handler(cfg *Config) (*Handler, error) {
	if err := s.checkPaymentReload(cfg); err != nil {
		return nil, config.ErrBad.Mark(fmt.Errorf("config %s: %w",
			s.opts.ConfigPath, err))
	}
	opts := HandlerOptions{Log: s.log, Metrics: s.metrics,
		DialPricer: s.opts.DialPricer, DialMeter: dialMeter,
		Payment: s.payment, node: s.info}
	if s.db != nil {
		opts.Meter = s.db
	}
	if s.sync != nil {
		opts.revoked, opts.paid = s.sync.revoked, s.sync.paid
		opts.shadow = s.sync.shadow
	}
	h, err := NewHandler(cfg, s.auth, opts)
	if err != nil {
		// What only building the chain finds (capabilityrules without
		// capabilities, a bad price server address) is the config's.
		return nil, config.ErrBad.Mark(fmt.Errorf("config %s: %w",
			s.opts.ConfigPath, err))
	}
	return h, nil
}

// reload reads the config again and swaps the handler; a bad config is
// refused and the old one stays. Keys that need a restart (listen
// address, TLS, database, lnd) are reported, not applied.
func (s *server) reload() {
	cfg, err := LoadConfig(s.opts.ConfigPath)
	var in *Config
	if err == nil {
		// The services changed through the admin API stay over the
		// file's.
		in, err = s.loadServices(context.Background(), cfg)
	}
	if err != nil {
		s.log.Error("reload refused; the old config stays", "err", err)
		return
	}
	if restart := restartKeys(s.cfg, cfg); len(restart) > 0 {
		s.log.Warn("reload: these keys take effect at the next start",
			"keys", strings.Join(restart, ", "))
	}
	s.warn(cfg)
	s.log.Info("config reloaded", "services", len(in.Services),
		"prices", priceList(in))
}

// priceList names each service with its price, in the config's order, for
// the reload line: one look tells whoever sent SIGHUP that it took.
func priceList(cfg *Config) string {
	out := make([]string, 0, len(cfg.Services))
	for _, sc := range cfg.Services {
		out = append(out, sc.Name+" "+priceOf(sc))
	}
	return strings.Join(out, ", ")
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
	// The Payment scheme's keys apply at a reload (one that would switch
	// it or its sessions on is refused), but for the refunds' macaroon.
	aa, ba := a.Authenticator, b.Authenticator
	aa.MPP, ba.MPP = MPPConfig{}, MPPConfig{}
	diff("authenticator", aa != ba)
	diff("authenticator.sessionmacaroon", a.Authenticator.MPP.SessionMacaroon !=
		b.Authenticator.MPP.SessionMacaroon)
	diff("authenticator.sessionwriteinterval",
		a.Authenticator.MPP.WriteInterval() !=
			b.Authenticator.MPP.WriteInterval())
	diff("prometheus", a.Prometheus != b.Prometheus)
	diff("debuglevel", a.DebugLevel != b.DebugLevel)
	diff("invoiceexpiry", a.InvoiceExpiry != b.InvoiceExpiry)
	diff("hashmail", a.HashMail != b.HashMail ||
		a.WSPingInterval != b.WSPingInterval ||
		a.WSPongWait != b.WSPongWait)
	diff("basedir", a.BaseDir != b.BaseDir)
	diff("strictverify", a.StrictVerify != b.StrictVerify)
	ai, ar, aw := a.timeouts()
	bi, br, bw := b.timeouts()
	diff("idletimeout, readtimeout, writetimeout", ai != bi || ar != br ||
		aw != bw)
	diff("profile", a.Profile != b.Profile)
	diff("logging", a.Aperture.Logging.Console !=
		b.Aperture.Logging.Console)
	return keys
}
