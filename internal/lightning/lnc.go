package lightning

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/l402/l402/internal/lnc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
)

// DefaultMailboxAddr is Lightning Labs' public LNC mailbox, the one
// Lightning Terminal's pairing phrases use unless told otherwise.
const DefaultMailboxAddr = "mailbox.terminal.lightning.today:443"

// DefaultLNCTimeout bounds reaching the node through the mailbox: the
// mailbox dial, the pairing handshake and the first gRPC connection.
const DefaultLNCTimeout = 30 * time.Second

// LNCConfig says how to reach a node through Lightning Node Connect.
type LNCConfig struct {
	// Name names the node in errors; it defaults to "lnc via <mailbox>".
	Name string

	// Phrase is the pairing phrase of the node's LNC session: ten words
	// separated by spaces. It is a secret: never log it.
	Phrase string

	// MailboxAddr is the mailbox's host:port; it defaults to
	// DefaultMailboxAddr.
	MailboxAddr string

	// DevServer skips the verification of the mailbox's TLS certificate,
	// for a test mailbox with a self-signed one. The LNC session itself
	// stays end-to-end encrypted and authenticated by the phrase.
	DevServer bool

	// Timeout bounds connecting; zero means DefaultLNCTimeout.
	Timeout time.Duration

	// CallTimeout bounds each call; zero means DefaultCallTimeout.
	CallTimeout time.Duration

	// Store keeps the session's static keys between connections; nil
	// keeps them in memory only, so each process pairs anew.
	Store SessionStore
}

// LNC must implement Node.
var _ Node = (*LNC)(nil)

// LNC is a Node reached through Lightning Node Connect. Its calls are the
// same gRPC calls as Lnd's, carried over the LNC connection; the node side
// (Lightning Terminal) supplies the macaroon in the handshake.
type LNC struct {
	*Lnd

	mailbox *grpc.ClientConn
	client  *lnc.Client
}

// Close implements Node: it ends the LNC connection and the mailbox's.
// The LNC client goes first: it stops retrying the mailbox, so that a
// mailbox that is gone does not hold the goodbye (go-back-n's FIN, tried
// for a second) and gRPC's close.
func (l *LNC) Close() error {
	l.client.Close()
	err := l.Lnd.Close()
	if mErr := l.mailbox.Close(); err == nil {
		err = mErr
	}
	return err
}

// NewLNC connects to a node through an LNC mailbox and waits, at most
// cfg.Timeout and while ctx lasts, until the node has answered the
// handshake. The first connection with a phrase pairs: the keys it makes
// are saved in cfg.Store before the phrase is spent.
func NewLNC(ctx context.Context, cfg LNCConfig) (*LNC, error) {
	addr := cfg.MailboxAddr
	if addr == "" {
		addr = DefaultMailboxAddr
	}
	name := cfg.Name
	if name == "" {
		name = "lnc via " + addr
	}
	fail := func(err error) (*LNC, error) {
		return nil, &CallError{Node: name, Call: "connect", Err: err}
	}

	entropy, err := parsePhrase(cfg.Phrase)
	if err != nil {
		return fail(err)
	}
	store := cfg.Store
	if store == nil {
		store = &MemorySessionStore{}
	}
	sess, err := openLNCSession(store, entropy)
	if err != nil {
		return fail(err)
	}

	l, err := dialLNC(ctx, cfg, addr, sess)
	if err != nil {
		return fail(err)
	}
	l.Lnd.name = name
	return l, nil
}

// parsePhrase checks a pairing phrase and returns its entropy. Its errors
// never repeat the phrase or a word of it.
func parsePhrase(phrase string) ([]byte, error) {
	entropy, err := lnc.ParsePhrase(phrase)
	if err != nil {
		return nil, err
	}
	return entropy[:], nil
}

// lncSession is the client's side of one pairing: its keys, where they
// are kept, and the connection data the handshake uses.
type lncSession struct {
	store  SessionStore
	config lnc.Config

	mu      sync.Mutex
	keys    LNCKeys
	saveErr error
}

// openLNCSession loads the keys stored for a phrase, or makes and saves
// new ones when none are stored or they belong to another phrase.
func openLNCSession(store SessionStore, entropy []byte) (*lncSession,
	error) {

	id := phraseID(entropy)
	keys, ok, err := store.Load()
	if err != nil {
		return nil, err
	}
	if !ok || subtle.ConstantTimeCompare([]byte(keys.PhraseID),
		[]byte(id)) != 1 {

		priv, err := btcec.NewPrivateKey()
		if err != nil {
			return nil, fmt.Errorf("unable to make an LNC key: %w",
				err)
		}
		keys = LNCKeys{PhraseID: id, Local: priv.Serialize()}
		if err := store.Save(keys); err != nil {
			return nil, err
		}
	}

	local, _ := btcec.PrivKeyFromBytes(keys.Local)
	var remote *btcec.PublicKey
	if len(keys.Remote) > 0 {
		remote, err = btcec.ParsePubKey(keys.Remote)
		if err != nil {
			return nil, fmt.Errorf("the stored LNC node key is not "+
				"a public key (%v): remove the session keys in %s "+
				"to pair again", err, describeStore(store))
		}
	}

	s := &lncSession{store: store, keys: keys}
	s.config = lnc.Config{Local: local, Remote: remote,
		OnRemoteStatic: s.onRemoteStatic}
	copy(s.config.Entropy[:], entropy)
	return s, nil
}

// onRemoteStatic saves the node's static key when the handshake learns
// it. Failing to save fails the handshake: a session whose keys are lost
// could never be resumed.
func (s *lncSession) onRemoteStatic(key *btcec.PublicKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	remote := key.SerializeCompressed()
	if bytes.Equal(remote, s.keys.Remote) {
		return nil
	}
	keys := s.keys
	keys.Remote = remote
	if err := s.store.Save(keys); err != nil {
		s.saveErr = err
		return err
	}
	s.keys = keys
	return nil
}

// paired reports whether the keys hold the node's key from an earlier
// handshake.
func (s *lncSession) paired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys.Remote) > 0
}

// dialLNC opens the mailbox connection and the LNC connection inside it,
// and waits until the latter is ready.
func dialLNC(ctx context.Context, cfg LNCConfig, addr string,
	sess *lncSession) (*LNC, error) {

	// The mailbox is reached over gRPC with TLS; the LNC session inside
	// it is end-to-end encrypted whatever the mailbox's certificate.
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.DevServer {
		tlsCfg.InsecureSkipVerify = true
	}
	mboxConn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		return nil, fmt.Errorf("mailbox address %q: %w", addr, err)
	}

	lncCfg := sess.config
	lncCfg.Mailbox = lnc.NewMailbox(mboxConn)
	lncCfg.MailboxAddr = addr
	client := lnc.NewClient(lncCfg)
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithContextDialer(client.Dial),
		grpc.WithTransportCredentials(client.Credentials()),
		grpc.WithPerRPCCredentials(client.CallCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(50<<20)),
	)
	if err != nil {
		client.Close()
		mboxConn.Close()
		return nil, err
	}

	// The connection is made already: the lazy one never dials.
	l := &LNC{Lnd: &Lnd{conn: &lazyConn{conn: conn}}, mailbox: mboxConn,
		client: client}
	l.Lnd.callTimeout = cfg.CallTimeout
	if l.Lnd.callTimeout <= 0 {
		l.Lnd.callTimeout = DefaultCallTimeout
	}

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultLNCTimeout
	}
	if err := waitReady(ctx, conn, timeout); err != nil {
		l.Close()
		return nil, sess.explain(err, addr, timeout, client.Status())
	}
	return l, nil
}

// waitReady waits until a gRPC connection is ready.
func waitReady(ctx context.Context, conn *grpc.ClientConn,
	timeout time.Duration) error {

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	conn.Connect()
	for {
		state := conn.GetState()
		if state == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, state) {
			return ctx.Err()
		}
	}
}

// explain turns a failed wait into an error that says what to check,
// from what the mailbox client saw last.
func (s *lncSession) explain(err error, addr string, timeout time.Duration,
	status lnc.Status) error {

	s.mu.Lock()
	saveErr := s.saveErr
	s.mu.Unlock()

	switch {
	case saveErr != nil:
		return fmt.Errorf("the LNC handshake could not save the "+
			"node's key: %w", saveErr)

	case !errors.Is(err, context.DeadlineExceeded):
		return err

	case status == lnc.StatusSessionNotFound && s.paired():
		return fmt.Errorf("mailbox %s has no LNC session for the keys "+
			"stored in %s after %s: the node may have revoked or "+
			"renewed the session; remove the stored keys and pair "+
			"with the new phrase", addr, describeStore(s.store),
			timeout)

	case status == lnc.StatusSessionNotFound:
		return fmt.Errorf("mailbox %s has no LNC session for this "+
			"pairing phrase after %s: check the phrase, and that "+
			"the session is active on the node and not used by "+
			"another client already", addr, timeout)

	case status == lnc.StatusSessionInUse:
		return fmt.Errorf("the LNC session at mailbox %s is in use by "+
			"another client: close it, or create another session",
			addr)

	case status == lnc.StatusConnected:
		return fmt.Errorf("the node did not complete the LNC handshake "+
			"through mailbox %s within %s: check that the phrase "+
			"belongs to this node's session", addr, timeout)
	}
	return fmt.Errorf("mailbox %s unreachable after %s: check "+
		"mailboxaddress, the network, and the mailbox's TLS "+
		"certificate (devserver skips its verification, for a test "+
		"mailbox only)", addr, timeout)
}
