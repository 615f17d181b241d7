package lnc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"google.golang.org/grpc/credentials"
)

// handshakeTimeout bounds each wait for the node's part of the Noise
// handshake, as the node bounds its own.
const handshakeTimeout = 5 * time.Second

// Config is what a Client needs to reach one node.
type Config struct {
	// Entropy is the pairing phrase's: it names the mailbox until the
	// static keys are known, and authenticates the pairing.
	Entropy Entropy

	// Local is the client's long-term key, made once per pairing.
	Local *btcec.PrivateKey

	// Remote is the node's long-term key from an earlier pairing, nil
	// if there was none: with it, the client resumes with KK on the
	// mailbox the two keys name; without it, it pairs with XX.
	Remote *btcec.PublicKey

	// OnRemoteStatic is called when a pairing learns the node's key,
	// before the handshake's last act: an error aborts the pairing and
	// leaves the phrase unspent. It may be nil.
	OnRemoteStatic func(*btcec.PublicKey) error

	// Mailbox is the hashmail service of the mailbox server.
	Mailbox Mailbox

	// MailboxAddr is the mailbox server's host:port, for errors.
	MailboxAddr string
}

// Client is the client side of Lightning Node Connect for one node: a
// gRPC dialer that reaches the node through a mailbox, and the transport
// and per-call credentials that run the Noise handshake over it and send
// the macaroon the node gave in it. gRPC may dial again after a
// connection ends; each dial uses the keys the last handshake left.
type Client struct {
	cfg Config

	// life ends with Close: it stops every retry of the mailbox.
	life   context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	remote *btcec.PublicKey
	auth   []byte
	status Status
	conn   *mailboxConn
	closed bool
}

// NewClient returns a client for cfg; nothing is dialled until gRPC
// dials.
func NewClient(cfg Config) *Client {
	life, cancel := context.WithCancel(context.Background())
	return &Client{cfg: cfg, life: life, cancel: cancel,
		remote: cfg.Remote}
}

// sessionID names the session's mailbox: SHA-512 of the phrase's entropy
// while the node's key is unknown, and afterwards of an HMAC, keyed with
// the static keys' Diffie-Hellman, of "mailbox".
func sessionID(entropy Entropy, local *btcec.PrivateKey,
	remote *btcec.PublicKey) [64]byte {

	if remote == nil {
		return sha512.Sum512(entropy[:])
	}
	shared := ecdh(local, remote)
	mac := hmac.New(sha256.New, shared[:])
	mac.Write([]byte("mailbox"))
	return sha512.Sum512(mac.Sum(nil))
}

// setStatus records what the mailbox said last. A plain failure to
// connect does not hide that the session was not found or is in use: the
// retry that follows fails for that reason too.
func (c *Client) setStatus(s Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == StatusNotConnected && (c.status == StatusSessionNotFound ||
		c.status == StatusSessionInUse) {

		return
	}
	c.status = s
}

// Status returns what the mailbox said last about the session.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Dial opens a mailbox connection to the node, for
// grpc.WithContextDialer. A previous connection is waited for first: the
// mailbox lets one client at a time read a stream.
func (c *Client) Dial(ctx context.Context, _ string) (net.Conn, error) {
	c.mu.Lock()
	prev := c.conn
	c.mu.Unlock()
	if prev != nil {
		select {
		case <-prev.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.life.Done():
			return nil, errClosed
		}
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	sid := sessionID(c.cfg.Entropy, c.cfg.Local, c.remote)
	c.mu.Unlock()

	conn, err := dialMailbox(ctx, c.life, c.cfg.Mailbox, c.cfg.MailboxAddr,
		sid, c.setStatus, func() { c.setStatus(StatusSessionNotFound) })
	if err != nil {
		return nil, err
	}

	// A Close while this dial ran did not see the new connection.
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.Close()
		return nil, errClosed
	}
	c.conn = conn
	c.mu.Unlock()
	return conn, nil
}

// Close ends the client's current connection and stops its retries.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conn := c.conn
	c.mu.Unlock()

	if conn != nil {
		conn.Close()
	}
	c.cancel()
	return nil
}

// Credentials returns the gRPC transport credentials that run the Noise
// handshake on each connection Dial returns.
func (c *Client) Credentials() credentials.TransportCredentials {
	return &transportCreds{c: c}
}

// CallCredentials returns the gRPC per-call credentials: the auth data
// (the macaroon) the node sent in the last handshake.
func (c *Client) CallCredentials() credentials.PerRPCCredentials {
	return callCreds{c: c}
}

// handshake runs the Noise handshake the client's keys call for on raw.
func (c *Client) handshake(raw net.Conn) (*HandshakeResult, error) {
	c.mu.Lock()
	remote := c.remote
	c.mu.Unlock()

	if remote != nil {
		return resumeHandshake(raw, c.cfg.Local, remote)
	}
	return pairHandshake(raw, PairConfig{
		Entropy:        c.cfg.Entropy,
		Local:          c.cfg.Local,
		OnRemoteStatic: c.cfg.OnRemoteStatic,
	})
}

// transportCreds are the Client's credentials.TransportCredentials.
type transportCreds struct {
	c *Client
}

// authInfo is what gRPC learns of an LNC connection's security.
type authInfo struct {
	credentials.CommonAuthInfo
}

// AuthType implements credentials.AuthInfo.
func (authInfo) AuthType() string { return "lnc" }

// ClientHandshake implements credentials.TransportCredentials: it runs
// the handshake, each wait bounded by handshakeTimeout and the whole by
// ctx, and keeps the node's key and auth data for the next dial and the
// calls.
func (t *transportCreds) ClientHandshake(ctx context.Context, _ string,
	raw net.Conn) (net.Conn, credentials.AuthInfo, error) {

	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()

	if err := raw.SetReadDeadline(time.Now().Add(
		handshakeTimeout)); err != nil {

		return nil, nil, err
	}
	res, err := t.c.handshake(raw)
	if err != nil {
		raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, nil, fmt.Errorf("lnc handshake: %w", err)
	}
	if err := raw.SetReadDeadline(time.Time{}); err != nil {
		raw.Close()
		return nil, nil, err
	}

	t.c.mu.Lock()
	if res.Version >= version2 {
		t.c.remote = res.RemoteStatic
	}
	t.c.auth = res.AuthData
	t.c.mu.Unlock()

	info := authInfo{credentials.CommonAuthInfo{
		SecurityLevel: credentials.PrivacyAndIntegrity}}
	return newConn(raw, res), info, nil
}

// ServerHandshake implements credentials.TransportCredentials; this is
// the client side only.
func (t *transportCreds) ServerHandshake(net.Conn) (net.Conn,
	credentials.AuthInfo, error) {

	return nil, nil, errors.New("lnc: the client has no server side")
}

// Info implements credentials.TransportCredentials.
func (t *transportCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "lnc",
		ServerName: "lnd"}
}

// Clone implements credentials.TransportCredentials: the clone shares the
// client, whose keys every connection uses.
func (t *transportCreds) Clone() credentials.TransportCredentials {
	return &transportCreds{c: t.c}
}

// OverrideServerName implements credentials.TransportCredentials; LNC
// authenticates keys, not names.
func (t *transportCreds) OverrideServerName(string) error { return nil }

// callCreds are the Client's credentials.PerRPCCredentials.
type callCreds struct {
	c *Client
}

// GetRequestMetadata implements credentials.PerRPCCredentials: each
// "Name: value" line of the auth data is a header of the call.
func (p callCreds) GetRequestMetadata(context.Context, ...string) (
	map[string]string, error) {

	p.c.mu.Lock()
	auth := p.c.auth
	p.c.mu.Unlock()
	return parseAuthData(auth), nil
}

// parseAuthData reads the node's auth data: "Name: value" lines separated
// by CRLF, each a header of every call. Other lines are skipped.
func parseAuthData(auth []byte) map[string]string {
	md := map[string]string{}
	for _, line := range strings.Split(string(auth), "\r\n") {
		name, value, ok := strings.Cut(line, ": ")
		if !ok || name == "" {
			continue
		}
		md[name] = value
	}
	return md
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: the
// macaroon only travels inside the Noise connection.
func (callCreds) RequireTransportSecurity() bool { return true }
