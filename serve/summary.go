package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/l402/l402/internal/cli"
)

// Log levels of debuglevel, Aperture's names included.
var logLevels = map[string]slog.Level{
	"trace":    slog.LevelDebug,
	"debug":    slog.LevelDebug,
	"info":     slog.LevelInfo,
	"warn":     slog.LevelWarn,
	"error":    slog.LevelError,
	"critical": slog.LevelError,
}

// levelOff is above every level slog writes.
const levelOff = slog.Level(100)

// parseDebugLevel reads debuglevel: one level, or Aperture's
// comma-separated form where SUBSYSTEM=level entries may follow a global
// level. serve has one log, so the global level applies and the
// per-subsystem entries are accepted and ignored.
func parseDebugLevel(s string) (slog.Level, error) {
	level := slog.LevelInfo
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" || strings.Contains(part, "=") {
			continue
		}
		if part == "off" {
			level = levelOff
			continue
		}
		l, ok := logLevels[part]
		if !ok {
			return 0, fmt.Errorf("debuglevel %q: use trace, debug, info, "+
				"warn, error, critical or off", part)
		}
		level = l
	}
	return level, nil
}

// newLogger returns serve's structured logger: debuglevel and, from
// Aperture's logging block, the console's level (the stricter of the two
// applies, as a message passes both in Aperture), disable and
// notimestamps. Both levels were checked when the config was loaded.
func newLogger(w io.Writer, cfg *Config) *slog.Logger {
	level, _ := parseDebugLevel(cfg.DebugLevel)
	console := cfg.Aperture.Logging.Console
	if console.Level != "" {
		if l, err := parseDebugLevel(console.Level); err == nil {
			level = max(level, l)
		}
	}
	if level == levelOff || console.Disable {
		return slog.New(discardHandler{})
	}
	opts := &slog.HandlerOptions{Level: level}
	if console.NoTimestamps {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// discardHandler drops every record.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// summary prints what serve is serving: a table on a terminal,
// plain lines (stable for scripts and the tests) otherwise.
func (s *server) summary(scheme, addr string) {
	node := s.nodeSummary()
	backend := s.cfg.DBBackend
	relay := ""
	if s.relay != nil {
		relay = "LNC mailbox relay (hashmail) on " + addr
	}
	if !s.opts.Styled {
		fmt.Fprintf(s.opts.Log, "l402 serve: listening on %s://%s, %s, "+
			"database %s\n", scheme, addr, node, backend)
		if relay != "" {
			fmt.Fprintf(s.opts.Log, "l402 serve: %s\n", relay)
		}
		if line := s.paymentSummary(); line != "" {
			fmt.Fprintf(s.opts.Log, "l402 serve: %s\n", line)
		}
		for _, sc := range s.cfg.Services {
			fmt.Fprintf(s.opts.Log, "l402 serve: service %s: host %s path "+
				"%s -> %s://%s, %s\n", sc.Name, sc.HostRegexp, pathOf(sc),
				protocolOf(sc), sc.Address, priceOf(sc))
		}
		return
	}

	fmt.Fprintf(s.opts.Log, "%s %s://%s\n%s\n%s\n",
		cli.Bold("l402 serve listening on"), scheme, addr,
		"  node: "+node, "  database: "+backend)
	if relay != "" {
		fmt.Fprintln(s.opts.Log, "  "+relay)
	}
	if line := s.paymentSummary(); line != "" {
		fmt.Fprintln(s.opts.Log, "  "+line)
	}
	var rows [][]string
	for _, sc := range s.cfg.Services {
		rows = append(rows, []string{sc.Name, sc.HostRegexp.String(),
			pathOf(sc), protocolOf(sc) + "://" + sc.Address, priceOf(sc)})
	}
	fmt.Fprintln(s.opts.Log, cli.RenderTable([]string{"SERVICE", "HOST",
		"PATH", "BACKEND", "PRICE"}, rows))
}

// paymentSummary describes the Payment scheme when it is on.
func (s *server) paymentSummary() string {
	m := s.cfg.Authenticator.MPP
	if s.payment == nil || !m.EnableMPP {
		return ""
	}
	line := "Payment scheme (MPP) on, realm " + m.Realm(s.cfg.ListenAddr)
	if m.EnableSessions {
		line += fmt.Sprintf(", sessions: deposit %d x the price, idle "+
			"timeout %s", m.DepositMultiplier(), m.IdleTimeout())
	}
	return line
}

// nodeSummary describes the node invoices come from, and how it is
// reached.
func (s *server) nodeSummary() string {
	if s.node == nil {
		return "none (authenticator.disable: every request is free)"
	}
	node := s.info.Alias
	if s.info.Pubkey != "" {
		node += " " + s.info.Pubkey
	}
	if a := s.cfg.Authenticator; a.LNC() {
		if s.info.Pubkey == "" {
			node = "(node info refused to the session)"
		}
		return fmt.Sprintf("lnd %s over LNC via %s on %s", node,
			a.MailboxAddr(), s.info.Network)
	}
	return fmt.Sprintf("lnd %s on %s", node, s.info.Network)
}

// pathOf is a service's path regexp, or "*".
func pathOf(sc ServiceConfig) string {
	if sc.PathRegexp.Regexp == nil {
		return "*"
	}
	return sc.PathRegexp.String()
}

// protocolOf is a service's backend protocol.
func protocolOf(sc ServiceConfig) string {
	if sc.Protocol == "" {
		return "http"
	}
	return sc.Protocol
}

// priceOf describes what a service's tokens cost.
func priceOf(sc ServiceConfig) string {
	switch {
	case sc.Auth.Off:
		return "free (auth off)"
	case sc.DynamicPrice.Enabled:
		return "dynamic (" + sc.DynamicPrice.GRPCAddress + ")"
	case sc.Meter != nil:
		return fmt.Sprintf("metered: bundles of %d tokens, %d models",
			sc.Meter.BundleTokens, len(sc.Meter.Models))
	case sc.Auth.Freebies > 0:
		return fmt.Sprintf("%d sat after %d free", sc.Price,
			sc.Auth.Freebies)
	}
	return fmt.Sprintf("%d sat", sc.Price)
}
