package setup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons"
	"golang.org/x/term"
)

// LNCOptions reach the node through Lightning Node Connect instead of
// finding a local lnd.
type LNCOptions struct {
	// PhraseStdin reads the pairing phrase from standard input; without
	// it the phrase comes from $L402_LNC_PHRASE.
	PhraseStdin bool

	// Mailbox is the mailbox's host:port (default the public one), and
	// DevServer skips the verification of its certificate.
	Mailbox   string
	DevServer bool

	// Dial connects over LNC; nil means lightning.NewLNC. Tests put a
	// fake here.
	Dial func(context.Context, lightning.LNCConfig) (lightning.Node, error)
}

// lncReconnectNote warns that the first resumption after a pairing is
// slower than later ones (docs/lnc.md).
const lncReconnectNote = "paired: the session keys are stored; the next " +
	"connection with them may take a few seconds while the node moves to " +
	"the paired session's mailbox"

// lncInfoTimeout bounds GetInfo over a fresh LNC connection.
const lncInfoTimeout = 30 * time.Second

// usesLNC reports whether setup reaches the node over LNC: an LNC flag is
// given, or $L402_LNC_PHRASE is set.
func (o *Options) usesLNC() bool {
	l := o.LNC
	return l.PhraseStdin || l.Mailbox != "" || l.DevServer ||
		strings.TrimSpace(o.getenv(lightning.PhraseEnv)) != ""
}

// getenv reads the environment through Getenv, when set.
func (o *Options) getenv(name string) string {
	if o.Lnd.Getenv == nil {
		return ""
	}
	return o.Lnd.Getenv(name)
}

// checkLNC validates the flags of an LNC setup.
func (o *Options) checkLNC() error {
	switch {
	case o.Role == RoleBoth:
		return errors.New("over LNC, set up the seller and the buyer " +
			"separately, each with its own Lightning Terminal session " +
			"(a session serves one client at a time, and serve and fetch " +
			"run at once): --role seller with the seller's phrase, then " +
			"--role buyer with the buyer's")
	case o.Lnd.Located() || o.Bake || o.NoBake || o.NoAuth:
		return fmt.Errorf("--lnddir, --lnd-host, --lnd-tls, --lnd-macdir, " +
			"--bake, --no-bake and --no-auth are for lnd over gRPC, not " +
			"for LNC (an LNC flag is given or $" + lightning.PhraseEnv +
			" is set): drop one or the other")
	}
	if m := o.LNC.Mailbox; m != "" {
		if _, _, err := net.SplitHostPort(m); err != nil {
			return fmt.Errorf("--mailbox %q is not host:port (the public "+
				"mailbox is %s)", m, lightning.DefaultMailboxAddr)
		}
	}
	return nil
}

// mailbox returns the mailbox setup pairs through.
func (o *Options) mailbox() string {
	if o.LNC.Mailbox == "" {
		return lightning.DefaultMailboxAddr
	}
	return o.LNC.Mailbox
}

// lncFiles are where one role keeps its LNC phrase and session keys.
type lncFiles struct {
	phrase, session string
}

// lncFilesFor returns the files of serve's (seller) or fetch's (buyer)
// session, in l402's directory.
func (o *Options) lncFilesFor(seller bool) lncFiles {
	name := "lnc-fetch"
	if seller {
		name = "lnc-serve"
	}
	return lncFiles{phrase: filepath.Join(o.Home, name+".phrase"),
		session: filepath.Join(o.Home, name+".json")}
}

// runLNC pairs with the node over LNC, reports what it says about itself,
// and writes the config of the role with the phrase in a 0600 file.
func (o *Options) runLNC(ctx context.Context, rep *Report) error {
	if err := o.checkLNC(); err != nil {
		return ErrBadOptions.Mark(err)
	}
	phrase, source, err := o.readPhrase()
	if err != nil {
		return err
	}
	if _, err := lightning.PhraseID(phrase); err != nil {
		return ErrBadPhrase.Mark(fmt.Errorf("the pairing phrase from %s: "+
			"%w", source, err))
	}
	seller := o.Role == RoleSeller
	files := o.lncFilesFor(seller)
	if err := o.checkPairing(files.session, phrase); err != nil {
		return err
	}

	info, err := o.pairLNC(ctx, phrase, files.session, rep)
	if err != nil {
		return err
	}
	if err := o.writePhrase(files.phrase, phrase, rep); err != nil {
		return err
	}
	if seller {
		return o.writeServe(o.lncServeAuth(info.Network, files), rep)
	}
	return o.writeFetch(o.lncFetchSection(files), rep)
}

// readPhrase reads the pairing phrase: from standard input with
// --lnc-phrase-stdin (without echo on a terminal), else from
// $L402_LNC_PHRASE. source names where it came from, for messages.
func (o *Options) readPhrase() (phrase, source string, err error) {
	if !o.LNC.PhraseStdin {
		phrase = strings.TrimSpace(o.getenv(lightning.PhraseEnv))
		if phrase == "" {
			return "", "", ErrBadOptions.Mark(errors.New("no pairing " +
				"phrase: pass --lnc-phrase-stdin and type or pipe it, " +
				"or set $" + lightning.PhraseEnv))
		}
		return phrase, "$" + lightning.PhraseEnv, nil
	}

	if f, ok := o.IO.In.(*os.File); ok && o.IO.InTTY {
		fmt.Fprint(o.IO.ErrOut, "LNC pairing phrase (not shown): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(o.IO.ErrOut)
		if err != nil {
			return "", "", fmt.Errorf("unable to read the pairing "+
				"phrase: %w", err)
		}
		phrase = string(b)
	} else {
		line, err := bufio.NewReader(io.LimitReader(o.IO.In, 4096)).
			ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", "", fmt.Errorf("unable to read the pairing "+
				"phrase from standard input: %w", err)
		}
		phrase = line
	}
	phrase = strings.TrimSpace(phrase)
	if phrase == "" {
		return "", "", ErrBadOptions.Mark(errors.New("--lnc-phrase-stdin: " +
			"standard input holds no pairing phrase"))
	}
	return phrase, "standard input", nil
}

// checkPairing refuses, without --force, to pair with a phrase while the
// session file holds a completed pairing of another phrase: pairing
// replaces those keys, and the session they open would be lost.
func (o *Options) checkPairing(session, phrase string) error {
	keys, ok, err := lightning.FileSessionStore{Path: session}.Load()
	if err != nil {
		return ErrSessionExists.Mark(fmt.Errorf("%w; or pass --force to "+
			"pair afresh", err))
	}
	id, _ := lightning.PhraseID(phrase)
	if !ok || len(keys.Remote) == 0 || keys.PhraseID == id || o.Force {
		return nil
	}
	return ErrSessionExists.Mark(fmt.Errorf("%s holds the keys of "+
		"another LNC pairing; pairing with this phrase replaces them and "+
		"ends the use of that session: pass --force to do it", session))
}

// pairLNC connects once over LNC, which pairs (or resumes) the session
// and stores its keys, and asks the node for its info. A session that may
// not call GetInfo is reported, not refused.
func (o *Options) pairLNC(ctx context.Context, phrase, session string,
	rep *Report) (lightning.Info, error) {

	dial := o.LNC.Dial
	if dial == nil {
		dial = func(ctx context.Context, cfg lightning.LNCConfig) (
			lightning.Node, error) {

			return lightning.NewLNC(ctx, cfg)
		}
	}
	mailbox := o.mailbox()
	node, err := dial(ctx, lightning.LNCConfig{
		Name:        "lnc via " + mailbox,
		Phrase:      phrase,
		MailboxAddr: mailbox,
		DevServer:   o.LNC.DevServer,
		Store:       lightning.FileSessionStore{Path: session},
	})
	if err != nil {
		return lightning.Info{}, ErrLNCUnreachable.Mark(err)
	}
	defer node.Close()

	rep.Lnd = &LndInfo{Source: "lnc", Host: "lnc via " + mailbox,
		Mailbox: mailbox, SessionFile: session, Network: o.Lnd.Network}
	ictx, cancel := context.WithTimeout(ctx, lncInfoTimeout)
	defer cancel()
	info, err := node.Info(ictx)
	switch {
	case errors.Is(err, lightning.ErrPermissionDenied):
		rep.Lnd.Notes = append(rep.Lnd.Notes, "the LNC session may not "+
			"call GetInfo, so the node's alias, pubkey and network are "+
			"not known here", lncReconnectNote)
		if o.Lnd.Network == "" && o.Role == RoleSeller {
			rep.Warnings = append(rep.Warnings, "the node's network is "+
				"unknown: serve takes authenticator.network on trust; "+
				"pass --network to write it")
		}
		return lightning.Info{Network: o.Lnd.Network}, nil

	case err != nil:
		return info, ErrLNCUnreachable.Mark(fmt.Errorf("paired over "+
			"LNC, but GetInfo failed: %w", err))

	case o.Lnd.Network != "" && info.Network != o.Lnd.Network:
		return info, ErrWrongNetwork.Mark(fmt.Errorf("--network is %s "+
			"but the node behind the LNC session is on %s",
			o.Lnd.Network, info.Network))
	}
	rep.Lnd.Notes = append(rep.Lnd.Notes, lncReconnectNote)
	rep.Lnd.Alias, rep.Lnd.Pubkey = info.Alias, info.Pubkey
	rep.Lnd.Network, rep.Lnd.Synced = info.Network, info.Synced
	if !info.Synced {
		rep.Warnings = append(rep.Warnings, "the node is not synced to "+
			"the chain yet: payments and invoices may fail until it is")
	}
	return info, nil
}

// writePhrase keeps the pairing phrase in a 0600 file for serve or fetch,
// which need it with the session keys each time they connect.
func (o *Options) writePhrase(path, phrase string, rep *Report) error {
	body := []byte(phrase + "\n")
	if old, err := os.ReadFile(path); err == nil && string(old) ==
		string(body) {
		rep.Files = append(rep.Files, File{Path: path, Status: "unchanged"})
		return nil
	}
	if err := os.MkdirAll(o.Home, 0o700); err != nil {
		return err
	}
	if err := macaroons.WriteSecretFile(path, body, true); err != nil {
		return err
	}
	rep.Files = append(rep.Files, File{Path: path, Status: "written"})
	return nil
}

// lncServeAuth is serve.yaml's authenticator over LNC.
func (o *Options) lncServeAuth(network string, f lncFiles) serveAuth {
	return serveAuth{Network: network, PassphraseFile: f.phrase,
		MailboxAddress: o.mailbox(), DevServer: o.LNC.DevServer,
		SessionFile: f.session}
}

// lncFetchSection is fetch.yaml's lnc section.
func (o *Options) lncFetchSection(f lncFiles) fetchValues {
	return fetchValues{LNC: &fetchLNC{MailboxAddress: o.mailbox(),
		PhraseFile: f.phrase, SessionFile: f.session,
		DevServer: o.LNC.DevServer}}
}
