// Package admin is the client side of serve's admin API (Aperture's
// adminrpc.Admin over gRPC), which `l402 admin` calls.
package admin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/l402/l402/internal/adminrpc"
	"github.com/l402/l402/internal/fault"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// The conditions `l402 admin` ends in (docs/cli.md).
var (
	// ErrUnreachable: nothing answers at the admin address, or not in
	// time, or the TLS certificate is not the one trusted.
	ErrUnreachable = fault.New("admin_unreachable",
		"the admin API cannot be reached")

	// ErrUnauthorized: the admin macaroon is missing or not serve's.
	ErrUnauthorized = fault.New("admin_unauthorized",
		"the admin API refused the macaroon")

	// ErrNotFound: no service or token of that name or id.
	ErrNotFound = fault.New("not_found", "not found")

	// ErrRefused: the API refused the request's values (a bad regexp,
	// a negative price, a name taken, ...).
	ErrRefused = fault.New("admin_refused", "the admin API refused the "+
		"request")

	// ErrBadOptions: the options cannot make a connection.
	ErrBadOptions = fault.New("bad_arguments", "bad arguments")
)

// Options say how to reach serve's admin API.
type Options struct {
	// Host is host:port of the admin API: serve's listenaddr, or
	// admin.listenaddr when set.
	Host string

	// MacaroonPath is the admin macaroon serve wrote.
	MacaroonPath string

	// TLSCertPath is the certificate to trust (serve's self-signed
	// tls.cert); empty trusts the system's authorities. Insecure speaks
	// plain h2c, for a serve with insecure: true.
	TLSCertPath string
	Insecure    bool

	// Timeout bounds each call (30s when zero).
	Timeout time.Duration
}

// Client calls one serve's admin API.
type Client struct {
	conn    *grpc.ClientConn
	rpc     adminrpc.AdminClient
	timeout time.Duration
}

// macaroonCred sends the macaroon as the gRPC metadata "macaroon", hex,
// as lnd's and Aperture's clients do.
type macaroonCred struct {
	hex    string
	secure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (m macaroonCred) GetRequestMetadata(context.Context, ...string) (
	map[string]string, error) {

	return map[string]string{"macaroon": m.hex}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (m macaroonCred) RequireTransportSecurity() bool { return m.secure }

// Dial prepares a client; the connection is made on the first call.
func Dial(o Options) (*Client, error) {
	if o.Host == "" {
		return nil, ErrBadOptions.Mark(errors.New("no admin address: " +
			"give --host or a serve.yaml with admin.enabled"))
	}
	raw, err := os.ReadFile(o.MacaroonPath)
	if err != nil {
		return nil, ErrUnauthorized.Mark(fmt.Errorf("unable to read the "+
			"admin macaroon: %w", err))
	}
	creds := insecure.NewCredentials()
	if !o.Insecure {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.TLSCertPath != "" {
			pem, err := os.ReadFile(o.TLSCertPath)
			if err != nil {
				return nil, ErrBadOptions.Mark(fmt.Errorf("unable to read "+
					"the TLS certificate: %w", err))
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, ErrBadOptions.Mark(fmt.Errorf("%s holds no "+
					"PEM certificate", o.TLSCertPath))
			}
		}
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(o.Host,
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(macaroonCred{
			hex: hex.EncodeToString(raw), secure: !o.Insecure}))
	if err != nil {
		return nil, ErrBadOptions.Mark(err)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{conn: conn, rpc: adminrpc.NewAdminClient(conn),
		timeout: timeout}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// call runs one RPC within the timeout and maps its status to l402's
// conditions.
func call[T any](ctx context.Context, c *Client,
	f func(context.Context) (T, error)) (T, error) {

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	out, err := f(ctx)
	if err != nil {
		return out, explain(err)
	}
	return out, nil
}

// explain maps a gRPC status to a condition, keeping serve's message.
func explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return ErrUnreachable.Mark(err)
	}
	msg := errors.New(st.Message())
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		return ErrUnauthorized.Mark(msg)
	case codes.NotFound:
		return ErrNotFound.Mark(msg)
	case codes.InvalidArgument, codes.AlreadyExists,
		codes.FailedPrecondition, codes.OutOfRange:
		return ErrRefused.Mark(msg)
	case codes.Unavailable, codes.DeadlineExceeded:
		return ErrUnreachable.Mark(msg)
	}
	return fmt.Errorf("admin API: %s: %s", st.Code(), st.Message())
}
