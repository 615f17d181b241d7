package serve

import (
	"fmt"
	"strings"
	"time"

	"github.com/l402/l402/internal/config"
)

// handler builds a Handler for cfg with the server's collaborators.
func (s *server) handler(cfg *Config) (*Handler, error) {
	if err := s.checkPaymentReload(cfg); err != nil {
		return nil, config.ErrBad.Mark(fmt.Errorf("config %s: %w",
			s.opts.ConfigPath, err))
	}
	h, err := NewHandler(cfg, s.auth, HandlerOptions{Log: s.log,
		Metrics: s.metrics, DialPricer: s.opts.DialPricer,
		Payment: s.payment})
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
	s.log.Info("config reloaded", "services", len(cfg.Services),
		"prices", priceList(cfg))
	// Requests still in the old handler may be pricing: give them time.
	time.AfterFunc(time.Minute, old.Close)
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
	diff("prometheus", a.Prometheus != b.Prometheus)
	diff("debuglevel", a.DebugLevel != b.DebugLevel)
	diff("invoiceexpiry", a.InvoiceExpiry != b.InvoiceExpiry)
	diff("hashmail", a.HashMail != b.HashMail)
	return keys
}
