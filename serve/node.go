package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnddetect"
)

// ErrLNCUnreachable: the mailbox, or the node behind it, cannot be
// reached with the pairing phrase. lnd's own failures are
// lnddetect.Problems, with lnd's cause as their code.
var ErrLNCUnreachable = fault.New("lnc_unreachable", "LNC unreachable")

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
		node, err := lightning.NewLnd(lightning.LndConfig{
			Name:         a.LndHost,
			Host:         a.LndHost,
			TLSCertPath:  a.TLSPath,
			MacaroonPath: filepath.Join(a.MacDir, "invoice.macaroon"),
		})
		if err != nil {
			return nil, lnddetect.Explain(err)
		}
		return node, nil
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
		return nil, ErrLNCUnreachable.Mark(fmt.Errorf("unable to reach "+
			"the node over LNC: %w", err))
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
		return info, lnddetect.Explain(fmt.Errorf("unable to reach lnd: "+
			"%w", err))
	case network != "" && network != info.Network:
		return info, &lnddetect.Problem{Cause: lnddetect.CauseWrongNetwork,
			Msg: fmt.Sprintf("authenticator.network is %s but lnd at %s "+
				"is on %s", network, name, info.Network)}
	}
	return info, nil
}
