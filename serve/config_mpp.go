package serve

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/l402/l402/internal/config"
)

// MPPConfig is Aperture's keys for the Payment HTTP authentication scheme
// (MPP), in serve.yaml's authenticator section, with Aperture's meanings;
// sessionmacaroon is ours. docs/serve-config.md and docs/mpp.md describe
// them.
type MPPConfig struct {
	// EnableMPP offers the Payment scheme's charge intent beside L402.
	EnableMPP bool `yaml:"enablempp"`

	// MPPRealm is the challenges' realm; the listen address by default.
	MPPRealm string `yaml:"mpprealm"`

	// EnableSessions offers the session intent too: a deposit that
	// requests draw down, refunded when the session closes.
	EnableSessions bool `yaml:"enablesessions"`

	// SessionDepositMultiplier is how many requests a deposit pays for
	// (default 20).
	SessionDepositMultiplier int `yaml:"sessiondepositmultiplier"`

	// SessionIdleTimeout closes a session unused for that many seconds
	// (default 300).
	SessionIdleTimeout int64 `yaml:"sessionidletimeout"`

	// SessionWriteInterval (ours) is how long SQLite's sessions hold
	// their draws in memory before writing them (default 100ms); 0s
	// writes and syncs each draw before its request goes on. Postgres
	// replicas always draw in the database.
	SessionWriteInterval *time.Duration `yaml:"sessionwriteinterval"`

	// SessionMacaroon (ours) is the lnd macaroon the refunds are paid
	// with: by default seller-sessions.macaroon in macdir, else
	// Aperture's admin.macaroon there.
	SessionMacaroon string `yaml:"sessionmacaroon"`
}

// Aperture's session defaults, and ours for the draws' writes.
const (
	DefaultDepositMultiplier    = 20
	DefaultSessionIdleTimeout   = 300 * time.Second
	DefaultSessionWriteInterval = 100 * time.Millisecond
)

// Realm returns the challenges' realm: mpprealm, else the listen address
// (Aperture's default).
func (m MPPConfig) Realm(listenAddr string) string {
	if m.MPPRealm != "" {
		return m.MPPRealm
	}
	return listenAddr
}

// DepositMultiplier returns sessiondepositmultiplier or its default.
func (m MPPConfig) DepositMultiplier() int64 {
	if m.SessionDepositMultiplier > 0 {
		return int64(m.SessionDepositMultiplier)
	}
	return DefaultDepositMultiplier
}

// IdleTimeout returns sessionidletimeout or its default.
func (m MPPConfig) IdleTimeout() time.Duration {
	if m.SessionIdleTimeout > 0 {
		return time.Duration(m.SessionIdleTimeout) * time.Second
	}
	return DefaultSessionIdleTimeout
}

// WriteInterval returns sessionwriteinterval or its default: 0 when
// each draw is written before its request goes on.
func (m MPPConfig) WriteInterval() time.Duration {
	if m.SessionWriteInterval != nil {
		return *m.SessionWriteInterval
	}
	return DefaultSessionWriteInterval
}

// The values of a service's authscheme (Aperture's).
const (
	authSchemeL402    = "l402"
	authSchemeMPP     = "mpp"
	authSchemeL402MPP = "l402+mpp"
)

// schemes reports which schemes the service sells with: its authscheme,
// or, without one, L402 and, with enablempp, the Payment scheme (the 402
// carries every challenge, as Aperture's does).
func (s *ServiceConfig) schemes(m MPPConfig) (l402, payment bool) {
	switch strings.ToLower(s.AuthScheme) {
	case authSchemeL402:
		return true, false
	case authSchemeMPP:
		return false, true
	case authSchemeL402MPP:
		return true, true
	}
	return true, m.EnableMPP
}

// checkMPP validates the Payment scheme's keys against the rest of the
// config: its database, the node, and every service's authscheme and
// deposit.
func (c *Config) checkMPP() []error {
	m := &c.Authenticator.MPP
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if m.EnableMPP && c.DBBackend == "etcd" {
		bad("authenticator.enablempp: dbbackend etcd cannot hold the " +
			"single-use claims of Payment charges, so two replicas " +
			"could both accept one credential: use sqlite, or postgres " +
			"for several replicas")
	}
	if m.EnableSessions && !m.EnableMPP {
		bad("authenticator.enablesessions needs authenticator.enablempp: " +
			"true (sessions are the Payment scheme's)")
	}
	if strings.Contains(m.MPPRealm, "|") ||
		strings.ContainsFunc(m.MPPRealm, func(r rune) bool {
			return r < 0x20 || r == 0x7f
		}) {
		bad("authenticator.mpprealm %q: no '|' (it delimits the fields "+
			"the challenge id binds) or control characters", m.MPPRealm)
	}
	if m.SessionDepositMultiplier < 0 {
		bad("authenticator.sessiondepositmultiplier cannot be negative " +
			"(0 takes the default, 20)")
	}
	if m.SessionIdleTimeout < 0 {
		bad("authenticator.sessionidletimeout cannot be negative (0 " +
			"takes the default, 300 seconds)")
	}
	if w := m.SessionWriteInterval; w != nil {
		switch {
		case *w < 0:
			bad("authenticator.sessionwriteinterval cannot be negative " +
				"(0s writes each draw before its request goes on)")
		case *w > time.Minute:
			bad("authenticator.sessionwriteinterval %s: at most 1m (a "+
				"crash loses the draws of one interval)", *w)
		case *w > 0 && c.DBBackend == "postgres":
			bad("authenticator.sessionwriteinterval is SQLite's: " +
				"replicas on Postgres draw in the database on every " +
				"request; remove it")
		}
	}
	if m.SessionMacaroon != "" {
		switch {
		case c.Authenticator.LNC():
			bad("authenticator.sessionmacaroon is lnd's: over Lightning " +
				"Node Connect the session's own permissions pay the " +
				"refunds; remove it")
		case !m.EnableSessions:
			bad("authenticator.sessionmacaroon pays session refunds: set " +
				"enablesessions: true, or remove it")
		}
		var err error
		if m.SessionMacaroon, err = config.ExpandHome(
			m.SessionMacaroon); err != nil {
			errs = append(errs, err)
		}
	}

	for i := range c.Services {
		errs = append(errs, c.checkServiceMPP(&c.Services[i])...)
	}
	return errs
}

// checkServiceMPP validates a service's authscheme, and that its deposit
// fits in an invoice.
func (c *Config) checkServiceMPP(s *ServiceConfig) []error {
	m := c.Authenticator.MPP
	var errs []error
	switch v := strings.ToLower(s.AuthScheme); v {
	case "", authSchemeL402:
	case authSchemeMPP, authSchemeL402MPP:
		if !m.EnableMPP {
			errs = append(errs, fmt.Errorf("service %q: authscheme %s "+
				"needs authenticator.enablempp: true", s.Name, v))
		}
	default:
		errs = append(errs, fmt.Errorf("service %q: authscheme %q is not "+
			"l402, mpp or l402+mpp", s.Name, s.AuthScheme))
	}
	_, payment := s.schemes(m)
	if payment && m.EnableSessions && !s.DynamicPrice.Enabled &&
		s.Price > MaxPriceSat/m.DepositMultiplier() {
		errs = append(errs, fmt.Errorf("service %q: a session deposit of "+
			"price %d sat x sessiondepositmultiplier %d is above the "+
			"most an invoice can ask (%d sat)", s.Name, s.Price,
			m.DepositMultiplier(), int64(MaxPriceSat)))
	}
	return errs
}

// errRestartForPayment refuses a reload that would switch the Payment
// scheme on: its secret and the refunds' node are set up at start.
var errRestartForPayment = errors.New("authenticator.enablempp was off " +
	"when serve started: restart serve to turn the Payment scheme on")
