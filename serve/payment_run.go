package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnddetect"
)

// The files serve looks for in macdir to pay session refunds with, in
// order: the seller-sessions role's (l402 bake seller-sessions), then
// Aperture's admin.macaroon.
const (
	sessionMacaroonName = "seller-sessions.macaroon"
	adminMacaroonName   = "admin.macaroon"
)

// openPayment sets up the Payment scheme: the challenge secret from the
// store (made once, the same on every replica) and, with sessions, the
// node connection that pays their refunds.
func (s *server) openPayment(ctx context.Context) error {
	m := s.cfg.Authenticator.MPP
	secret, err := s.db.ChallengeSecret(ctx)
	if err != nil {
		return err
	}
	p := &PaymentOptions{Store: s.db, Secret: secret, Node: s.node,
		Network: s.info.Network}
	if m.EnableSessions {
		if p.Refunds, err = s.dialRefunds(ctx); err != nil {
			return err
		}
		if p.Refunds != s.node {
			s.refunds = p.Refunds
		}
	}
	s.payment = p
	return nil
}

// dialRefunds returns the node that pays session refunds: over LNC the
// session's own node (Lightning Terminal's session permissions decide
// whether it may pay); lnd through a macaroon that can pay, which
// invoice.macaroon cannot.
func (s *server) dialRefunds(ctx context.Context) (lightning.Node, error) {
	a := s.cfg.Authenticator
	if a.LNC() {
		return s.node, nil
	}
	path, err := s.refundMacaroon()
	if err != nil {
		return nil, config.ErrBad.Mark(fmt.Errorf("config %s: %w",
			s.opts.ConfigPath, err))
	}
	node, err := lightning.NewLnd(lightning.LndConfig{
		Name: a.LndHost + " (refunds)", Host: a.LndHost,
		TLSCertPath: a.TLSPath, MacaroonPath: path})
	if err != nil {
		return nil, lnddetect.Explain(err)
	}
	if _, err := node.Info(ctx); err != nil &&
		!errors.Is(err, lightning.ErrPermissionDenied) {
		node.Close()
		return nil, lnddetect.Explain(fmt.Errorf("unable to reach lnd "+
			"with %s: %w", path, err))
	}
	return node, nil
}

// refundMacaroon finds the macaroon refunds are paid with:
// authenticator.sessionmacaroon, else seller-sessions.macaroon in macdir,
// else Aperture's admin.macaroon there (with a warning: it can do
// anything).
func (s *server) refundMacaroon() (string, error) {
	a := s.cfg.Authenticator
	if p := a.MPP.SessionMacaroon; p != "" {
		return p, nil
	}
	own := filepath.Join(a.MacDir, sessionMacaroonName)
	if _, err := os.Stat(own); err == nil {
		return own, nil
	}
	admin := filepath.Join(a.MacDir, adminMacaroonName)
	if _, err := os.Stat(admin); err == nil {
		s.log.Warn("session refunds are paid with admin.macaroon, which "+
			"can do anything on the node: bake a least-privilege one "+
			"with `l402 bake seller-sessions`", "macaroon", admin)
		return admin, nil
	}
	return "", errors.New("authenticator.enablesessions: the refunds of " +
		"closed sessions are paid from the node, which invoice.macaroon " +
		"cannot do, and macdir holds neither " + sessionMacaroonName +
		" nor " + adminMacaroonName + ": run `l402 bake " +
		"seller-sessions` (it writes " + sessionMacaroonName + " into " +
		"lnd's macaroon directory), or name a macaroon that can pay " +
		"with authenticator.sessionmacaroon")
}

// checkPaymentReload refuses a reloaded config that needs what serve set
// up at start for the Payment scheme and did not: the scheme switched on,
// or sessions (their refunds' node).
func (s *server) checkPaymentReload(cfg *Config) error {
	m := cfg.Authenticator.MPP
	if !m.EnableMPP || s.auth == nil {
		return nil
	}
	if s.payment == nil || (m.EnableSessions && s.payment.Refunds == nil) {
		return errRestartForPayment
	}
	return nil
}

// claimRetention is how long a claim is kept past its challenge's expiry:
// the replicas' clocks may differ.
const claimRetention = time.Hour

// prunePayment closes the sessions idle for longer than the handler's
// timeout, refunding them, and deletes the claims no credential can
// present any more.
func (s *server) prunePayment(ctx context.Context, now time.Time) {
	h := s.current.Load()
	if s.payment == nil || h == nil || h.payment == nil {
		return
	}
	if err := prunePayments(ctx, s.db, h.payment, now, s.metrics,
		s.log); err != nil {
		s.log.Warn("pruning the Payment scheme's rows stopped", "err", err)
	}
}
