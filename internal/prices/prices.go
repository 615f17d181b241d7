package prices

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/l402/l402/internal/prices/pricesrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

const (
	// DefaultTimeout bounds each call when Config.Timeout is zero.
	DefaultTimeout = 5 * time.Second

	// MaxPriceSats is the largest price accepted from a price server:
	// 21 million bitcoin in satoshis, more than can ever exist.
	MaxPriceSats = 21_000_000 * 100_000_000

	// maxReconnectDelay caps the wait between reconnection attempts, so a
	// price server that comes back is used again within seconds rather
	// than after gRPC's default two minutes.
	maxReconnectDelay = 5 * time.Second
)

var (
	// ErrZeroPrice is wrapped by Price when the server answers 0. Aperture
	// reads 0 as "this request is free" and lets it through unpaid; a
	// caller that wants the same must check for this error on purpose,
	// because 0 is also what a server sends when it forgets to set the
	// field.
	ErrZeroPrice = errors.New("zero price")

	// ErrBadPrice is wrapped when the server answers a negative price,
	// cost or balance, or one above MaxPriceSats (Price, and the metered
	// calls of metered.go).
	ErrBadPrice = errors.New("price out of range")
)

// Config says where a price server is and how to reach it. It mirrors a
// service's dynamicprice section in Aperture's configuration.
type Config struct {
	// Address is the server's host:port (Aperture's grpcaddress).
	Address string

	// Insecure connects in plaintext, without TLS.
	Insecure bool

	// TLSCertPath is a PEM file holding the certificate, or its CA, that
	// the server's TLS certificate must chain to. When empty, the
	// system's roots are used.
	TLSCertPath string

	// Timeout bounds each call; zero means DefaultTimeout.
	Timeout time.Duration
}

// Client asks one price server for prices. It is safe for concurrent use.
type Client struct {
	addr    string
	timeout time.Duration
	conn    *grpc.ClientConn
	rpc     pricesrpc.PricesClient
}

// Dial prepares a client for the price server in cfg. Like grpc.NewClient it
// does not connect yet: an unreachable server shows up as an error from the
// first Price call, not from Dial.
func Dial(cfg Config) (*Client, error) {
	timeout, err := cfg.timeout()
	if err != nil {
		return nil, err
	}

	creds, err := cfg.credentials()
	if err != nil {
		return nil, err
	}

	conn, err := grpc.NewClient(
		cfg.Address,
		grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepaliveParams),
		grpc.WithConnectParams(connectParams(timeout)),
	)
	if err != nil {
		return nil, fmt.Errorf("price server %s: unable to set up a gRPC "+
			"client: %w", cfg.Address, err)
	}

	return &Client{
		addr:    cfg.Address,
		timeout: timeout,
		conn:    conn,
		rpc:     pricesrpc.NewPricesClient(conn),
	}, nil
}

// keepaliveParams pings a connection that has a call in flight but has gone
// quiet for five minutes, the most often a gRPC server with default settings
// accepts, and never pings an idle one (such a server answers GOAWAY,
// "too_many_pings"). Enabling keepalive also makes gRPC set TCP_USER_TIMEOUT
// to Timeout, so a connection whose peer vanished (a dropped NAT entry, a
// rebooted host) is closed 10 seconds after a call goes unacknowledged, and
// the next call reconnects instead of timing out again.
var keepaliveParams = keepalive.ClientParameters{
	Time:                5 * time.Minute,
	Timeout:             10 * time.Second,
	PermitWithoutStream: false,
}

// connectParams retries a lost connection quickly and gives each attempt as
// long as one call may take.
func connectParams(timeout time.Duration) grpc.ConnectParams {
	b := backoff.DefaultConfig
	b.MaxDelay = maxReconnectDelay

	return grpc.ConnectParams{Backoff: b, MinConnectTimeout: timeout}
}

// timeout checks the address and returns the per-call timeout to use.
func (cfg Config) timeout() (time.Duration, error) {
	switch {
	case cfg.Address == "":
		return 0, errors.New("price server: no address: set " +
			"dynamicprice.grpcaddress to the server's host:port")

	case cfg.Timeout < 0:
		return 0, fmt.Errorf("price server %s: timeout %v is negative: "+
			"use a positive duration, or 0 for the default of %v",
			cfg.Address, cfg.Timeout, DefaultTimeout)

	case cfg.Timeout == 0:
		return DefaultTimeout, nil
	}

	return cfg.Timeout, nil
}

// credentials returns plaintext when Insecure is set, and otherwise TLS
// verified against TLSCertPath's certificates or the system's roots.
func (cfg Config) credentials() (credentials.TransportCredentials, error) {
	switch {
	case cfg.Insecure && cfg.TLSCertPath != "":
		return nil, fmt.Errorf("price server %s: insecure is set, so "+
			"tlscertpath %q would be ignored: remove one of the two",
			cfg.Address, cfg.TLSCertPath)

	case cfg.Insecure:
		return insecure.NewCredentials(), nil

	case cfg.TLSCertPath == "":
		return credentials.NewTLS(&tls.Config{
			MinVersion: tls.VersionTLS12,
		}), nil
	}

	pool, err := loadCertPool(cfg.TLSCertPath)
	if err != nil {
		return nil, fmt.Errorf("price server %s: %w", cfg.Address, err)
	}

	return credentials.NewTLS(&tls.Config{
		RootCAs:    pool,
		MinVersion: tls.VersionTLS12,
	}), nil
}

// loadCertPool reads the PEM certificates in path into a pool of roots.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unable to read tlscertpath: %w", err)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlscertpath %s holds no PEM "+
			"certificate: point it at the server's tls.cert", path)
	}

	return pool, nil
}

// Price asks the server for the price of r in satoshis, sending what
// Aperture sends: r.URL.Path and the request as text (see requestText). It
// reads at most MaxBodyBytes of r.Body and leaves r.Body readable from the
// start. Each call is bounded by the configured timeout, and by ctx.
func (c *Client) Price(ctx context.Context, r *http.Request) (int64, error) {
	req, err := NewRequest(r)
	if err != nil {
		return 0, fmt.Errorf("price server %s: %w", c.addr, err)
	}

	return c.PriceOf(ctx, req)
}

// PriceOf is Price for a request already serialized (NewRequest,
// RequestWithBody).
func (c *Client) PriceOf(ctx context.Context, r Request) (int64, error) {
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	resp, err := c.rpc.GetPrice(callCtx, &pricesrpc.GetPriceRequest{
		Path:            r.Path,
		HttpRequestText: r.Text,
	})
	if err != nil {
		return 0, c.callError(ctx, "GetPrice", err)
	}

	return c.checkPrice(resp.GetPriceSats())
}

// callError names the server and the gRPC status of a failed call, with a
// hint for the statuses that say what to check. The status stays reachable
// through errors.As and status.Code.
func (c *Client) callError(ctx context.Context, method string, err error) error {
	st := status.Convert(err)

	var msg string
	switch {
	case ended(ctx):
		msg = fmt.Sprintf("price server %s: %s abandoned (%s) "+
			"because the request's own context ended first: %s",
			c.addr, method, st.Code(), st.Message())

	case st.Code() == codes.Unavailable:
		msg = fmt.Sprintf("price server %s is unavailable (%s): check "+
			"that it is running and reachable at that address",
			c.addr, st.Message())

	case st.Code() == codes.DeadlineExceeded:
		msg = fmt.Sprintf("price server %s did not answer %s within "+
			"%v (DeadlineExceeded): check the server, or raise the "+
			"timeout", c.addr, method, c.timeout)

	case st.Code() == codes.Unimplemented:
		msg = fmt.Sprintf("price server %s does not implement "+
			"pricesrpc.Prices/%s (Unimplemented: %s): check the "+
			"address", c.addr, method, st.Message())
		if method != "GetPrice" {
			msg += "; dynamicprice.metered needs a server that " +
				"speaks Aperture's metered pricesrpc"
		}

	default:
		msg = fmt.Sprintf("price server %s answered %s with %s: %s",
			c.addr, method, st.Code(), st.Message())
	}

	return &rpcError{msg: msg, err: err}
}

// ended reports whether ctx is done or past its deadline. The second matters
// because the server's copy of the deadline can fire, and its status arrive,
// before ctx's own timer does.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}

	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// rpcError is a failed call: a message for people, and the gRPC
// error underneath for code.
type rpcError struct {
	msg string
	err error
}

// Error returns the message, which already includes the status.
func (e *rpcError) Error() string { return e.msg }

// Unwrap returns the gRPC error, so status.Code and errors.As see it.
func (e *rpcError) Unwrap() error { return e.err }

// checkPrice accepts a price from 1 sat to MaxPriceSats.
func (c *Client) checkPrice(sats int64) (int64, error) {
	switch {
	case sats == 0:
		return 0, fmt.Errorf("price server %s answered 0 sat (%w): a "+
			"price must be at least 1 sat", c.addr, ErrZeroPrice)

	case sats < 0 || sats > MaxPriceSats:
		return 0, fmt.Errorf("price server %s answered %d sat (%w): a "+
			"price must be 1 to %d sat", c.addr, sats, ErrBadPrice,
			MaxPriceSats)
	}

	return sats, nil
}

// Close closes the connection to the price server.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("price server %s: unable to close the "+
			"connection: %w", c.addr, err)
	}

	return nil
}
