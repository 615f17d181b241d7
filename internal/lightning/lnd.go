package lightning

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// DefaultCallTimeout bounds every lnd call that has no tighter deadline.
const DefaultCallTimeout = 30 * time.Second

// DefaultPayTimeout is how long lnd may look for a route when a
// PayRequest names no timeout.
const DefaultPayTimeout = 60 * time.Second

// The lnd methods l402 calls, by their full gRPC names. The messages are
// l402's own copies (package lndrpc) of lnd's, the same on the wire, so
// that the l402 binary does not link lnd's server packages: their
// initialisation alone cost 20 ms at every start.
const (
	methodGetInfo        = "/lnrpc.Lightning/GetInfo"
	methodAddInvoice     = "/lnrpc.Lightning/AddInvoice"
	methodLookupInvoice  = "/lnrpc.Lightning/LookupInvoice"
	methodListInvoices   = "/lnrpc.Lightning/ListInvoices"
	methodSubscribeInvs  = "/lnrpc.Lightning/SubscribeInvoices"
	methodDecodePayReq   = "/lnrpc.Lightning/DecodePayReq"
	methodSendPaymentV2  = "/routerrpc.Router/SendPaymentV2"
	methodTrackPaymentV2 = "/routerrpc.Router/TrackPaymentV2"
	methodListChannels   = "/lnrpc.Lightning/ListChannels"
	methodChannelBalance = "/lnrpc.Lightning/ChannelBalance"
)

// LndConfig says how to reach one lnd node.
type LndConfig struct {
	// Name names the node in errors; it defaults to Host.
	Name string

	// Host is lnd's gRPC address, host:port.
	Host string

	// TLSCertPath is lnd's tls.cert.
	TLSCertPath string

	// MacaroonPath or MacaroonHex is the macaroon to call with; exactly
	// one must be set.
	MacaroonPath string
	MacaroonHex  string

	// CallTimeout bounds each call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
}

// Lnd must implement Node.
var _ Node = (*Lnd)(nil)

// Lnd is a Node backed by lnd over gRPC.
type Lnd struct {
	name        string
	callTimeout time.Duration
	conn        *lazyConn

	mu      sync.Mutex
	network string // cached from the first GetInfo
}

// macaroonCredential sends a hex macaroon with every call, as lnd expects.
type macaroonCredential string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (m macaroonCredential) GetRequestMetadata(context.Context,
	...string) (map[string]string, error) {

	return map[string]string{"macaroon": string(m)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: a
// macaroon is a bearer secret and never travels in the clear.
func (m macaroonCredential) RequireTransportSecurity() bool { return true }

// NewLnd prepares a connection to lnd. It reads the TLS certificate and the
// macaroon now, so that a missing or unreadable file is reported at once;
// the certificate is parsed and gRPC's connection made on the first call
// (a cached `l402 fetch` makes none).
func NewLnd(cfg LndConfig) (*Lnd, error) {
	name := cfg.Name
	if name == "" {
		name = cfg.Host
	}
	fail := func(err error) (*Lnd, error) {
		return nil, &CallError{Node: name, Call: "connect", Err: err}
	}
	if cfg.Host == "" {
		return fail(errors.New("no lnd host:port given"))
	}

	pemBytes, err := os.ReadFile(cfg.TLSCertPath)
	if err != nil {
		return fail(fmt.Errorf("unable to read TLS certificate: %w", err))
	}
	noCert := fmt.Errorf("TLS certificate %s holds no PEM certificate",
		cfg.TLSCertPath)
	if !hasPEMCertificate(pemBytes) {
		return fail(noCert)
	}

	macHex, err := loadMacaroon(cfg.MacaroonPath, cfg.MacaroonHex)
	if err != nil {
		return fail(err)
	}

	dial := func() (*grpc.ClientConn, error) {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, &CallError{Node: name, Call: "connect", Err: noCert}
		}
		conn, err := grpc.NewClient(cfg.Host,
			grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
				RootCAs:    pool,
				MinVersion: tls.VersionTLS12,
			})),
			grpc.WithPerRPCCredentials(macaroonCredential(macHex)),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(50<<20)),

			// Notice a dead connection during a long TrackPayment; lnd
			// allows pings every 5 seconds at most.
			grpc.WithKeepaliveParams(keepalive.ClientParameters{
				Time:    30 * time.Second,
				Timeout: 20 * time.Second,
			}),
		)
		if err != nil {
			return nil, &CallError{Node: name, Call: "connect", Err: err}
		}
		return conn, nil
	}

	timeout := cfg.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return &Lnd{
		name:        name,
		callTimeout: timeout,
		conn:        &lazyConn{dial: dial},
	}, nil
}

// loadMacaroon returns the hex macaroon from a file or from hex.
func loadMacaroon(path, hexMac string) (string, error) {
	switch {
	case path != "" && hexMac != "":
		return "", errors.New("give a macaroon file or hex, not both")

	case hexMac != "":
		if _, err := hex.DecodeString(hexMac); err != nil {
			return "", fmt.Errorf("macaroon is not hex: %w", err)
		}
		return hexMac, nil

	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("unable to read macaroon: %w", err)
		}
		if len(b) == 0 {
			return "", fmt.Errorf("macaroon file %s is empty", path)
		}
		return hex.EncodeToString(b), nil
	}
	return "", errors.New("no macaroon given")
}

// Conn returns the gRPC connection, for callers that need lnd calls beyond
// Node (the regtest harness, bake); it is made on its first call.
func (l *Lnd) Conn() grpc.ClientConnInterface { return l.conn }

// Name returns the name the node's errors use.
func (l *Lnd) Name() string { return l.name }

// Close implements Node.
func (l *Lnd) Close() error { return l.conn.Close() }

// callCtx bounds a call by the call timeout.
func (l *Lnd) callCtx(ctx context.Context) (context.Context,
	context.CancelFunc) {

	return context.WithTimeout(ctx, l.callTimeout)
}

// ErrMacaroonExpired is returned when lnd refused the call because a
// time-before caveat of the macaroon has passed. It always comes with
// ErrPermissionDenied: errors.Is holds for both.
var ErrMacaroonExpired = errors.New("the macaroon has expired: bake or " +
	"attenuate a new one")

// callError wraps an error of one call with the node's name and the call,
// and marks the conditions callers branch on.
func (l *Lnd) callError(call string, err error) error {
	msg := status.Convert(err).Message()
	switch {
	case strings.Contains(msg, "macaroon has expired"):
		err = fmt.Errorf("%w (%w): %s", ErrMacaroonExpired,
			ErrPermissionDenied, msg)
	case strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "caveat") &&
			strings.Contains(msg, "not satisfied"):
		err = fmt.Errorf("%w: %s", ErrPermissionDenied, msg)
	case strings.Contains(msg, "invoice is already paid"):
		err = fmt.Errorf("%w: %s", ErrAlreadyPaid, msg)
	case strings.Contains(msg, "payment is in transition"),
		strings.Contains(msg, "payment already exists"):
		err = fmt.Errorf("%w: %s", ErrPaymentInFlight, msg)
	case strings.Contains(msg, "payment isn't initiated"):
		err = fmt.Errorf("%w: %s", ErrPaymentNotFound, msg)
	case strings.Contains(msg, "unable to locate invoice"),
		status.Code(err) == codes.NotFound && call == "LookupInvoice":
		err = fmt.Errorf("%w: %s", ErrInvoiceNotFound, msg)
	}
	return &CallError{Node: l.name, Call: call, Err: err}
}

// AddInvoice implements Node.
func (l *Lnd) AddInvoice(ctx context.Context, req InvoiceRequest) (Invoice,
	error) {

	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	// lnd counts expiry in whole seconds and reads 0 as its default.
	expiry := req.Expiry
	if expiry <= 0 {
		expiry = DefaultInvoiceExpiry
	}
	secs := int64(math.Ceil(expiry.Seconds()))

	created := time.Now()
	resp := &lndrpc.AddInvoiceResponse{}
	err := l.conn.Invoke(ctx, methodAddInvoice, &lndrpc.Invoice{
		Memo:   req.Memo,
		Value:  req.AmountSat,
		Expiry: secs,
	}, resp)
	if err != nil {
		return Invoice{}, l.callError("AddInvoice", err)
	}
	if len(resp.RHash) != l402.HashSize {
		return Invoice{}, l.callError("AddInvoice", fmt.Errorf(
			"lnd returned a %d-byte payment hash", len(resp.RHash)))
	}
	return Invoice{
		PaymentRequest: resp.PaymentRequest,
		PaymentHash:    l402.Hash(resp.RHash),
		AmountSat:      req.AmountSat,
		Memo:           req.Memo,
		State:          InvoiceOpen,
		CreatedAt:      time.Unix(created.Unix(), 0),
		Expiry:         time.Duration(secs) * time.Second,
		AddIndex:       resp.AddIndex,
	}, nil
}

// LookupInvoice implements Node.
func (l *Lnd) LookupInvoice(ctx context.Context, hash l402.Hash) (Invoice,
	error) {

	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	inv := &lndrpc.Invoice{}
	err := l.conn.Invoke(ctx, methodLookupInvoice,
		&lndrpc.PaymentHash{RHash: hash[:]}, inv)
	if err != nil {
		return Invoice{}, l.callError("LookupInvoice", err)
	}

	out := convertInvoice(inv)
	out.PaymentHash = hash
	return out, nil
}

// DecodePayReq implements Node.
func (l *Lnd) DecodePayReq(ctx context.Context, payReq string) (PayReq,
	error) {

	network, err := l.cachedNetwork(ctx)
	if err != nil {
		return PayReq{}, err
	}

	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	resp := &lndrpc.PayReq{}
	err = l.conn.Invoke(ctx, methodDecodePayReq,
		&lndrpc.PayReqString{PayReq: payReq}, resp)
	if err != nil {
		return PayReq{}, l.callError("DecodePayReq", err)
	}
	hash, err := l402.ParseHash(resp.PaymentHash)
	if err != nil {
		return PayReq{}, l.callError("DecodePayReq", err)
	}
	return PayReq{
		Network:     network,
		Destination: resp.Destination,
		PaymentHash: hash,
		AmountMsat:  resp.NumMsat,
		Description: resp.Description,
		Timestamp:   time.Unix(resp.Timestamp, 0),
		Expiry:      time.Duration(resp.Expiry) * time.Second,
	}, nil
}

// Pay implements Node with routerrpc's SendPaymentV2.
func (l *Lnd) Pay(ctx context.Context, req PayRequest) (Payment, error) {
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultPayTimeout
	}
	if req.MaxFeeSat < 0 || req.AmountSat < 0 {
		return Payment{}, l.callError("SendPaymentV2",
			errors.New("negative fee limit or amount"))
	}

	// lnd stops trying after TimeoutSeconds; the call's own deadline
	// leaves it room to report the outcome.
	ctx, cancel := context.WithTimeout(ctx, timeout+l.callTimeout)
	defer cancel()

	recv, err := l.paymentStream(ctx, methodSendPaymentV2,
		&lndrpc.SendPaymentRequest{
			PaymentRequest: req.PaymentRequest,
			Amt:            req.AmountSat,
			FeeLimitSat:    req.MaxFeeSat,
			TimeoutSeconds: int32(math.Ceil(timeout.Seconds())),
		})
	var p Payment
	if err == nil {
		p, err = l.follow(recv)
	}
	if err != nil {
		// A refusal before any update, of a payment lnd then has no
		// record of, was never started.
		if p.PaymentHash == (l402.Hash{}) && ctx.Err() == nil &&
			answeredByLnd(err) && l.neverStarted(ctx, req.PaymentRequest) {
			ce := l.callError("SendPaymentV2", err).(*CallError)
			ce.Err = fmt.Errorf("%w: %w", ErrPaymentNotStarted, ce.Err)
			return Payment{}, ce
		}

		// gRPC reports a context that ended as a status: give callers
		// the context's own error to branch on.
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w: %v", cerr, err)
		}
		if p.Status == PaymentInFlight {
			return p, l.callError("SendPaymentV2", err)
		}
		return Payment{}, l.callError("SendPaymentV2", err)
	}
	if p.Status == PaymentFailed {
		return p, l.callError("SendPaymentV2", fmt.Errorf("%w: %s",
			ErrPaymentFailed, p.FailureReason))
	}
	return p, nil
}

// answeredByLnd tells whether err is a status lnd (its handler or its
// macaroon check) answered with, rather than one of the transport: a
// connection lost, a deadline, a stream reset. Only then has lnd done
// with the call, so that what it has no record of now it never will.
// AlreadyExists is lnd's "already paid" or "in flight", never a refusal.
func answeredByLnd(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.OK, codes.Unavailable, codes.DeadlineExceeded,
		codes.Canceled, codes.Internal, codes.ResourceExhausted,
		codes.Aborted, codes.DataLoss, codes.AlreadyExists:
		return false
	}
	return true
}

// notStartedCheck bounds the TrackPaymentV2 call that checks a refused
// payment: a payment lnd does know is waited for no longer than this.
const notStartedCheck = 5 * time.Second

// neverStarted asks lnd whether it has a record of the payment of
// payReq, and reports true only when lnd says it has none.
func (l *Lnd) neverStarted(ctx context.Context, payReq string) bool {
	network, err := l.cachedNetwork(ctx)
	if err != nil {
		return false
	}
	inv, err := DecodeInvoice(payReq, network)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, notStartedCheck)
	defer cancel()
	_, err = l.TrackPayment(ctx, inv.PaymentHash)
	return errors.Is(err, ErrPaymentNotFound)
}

// TrackPayment implements Node with routerrpc's TrackPaymentV2.
func (l *Lnd) TrackPayment(ctx context.Context, hash l402.Hash) (Payment,
	error) {

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = l.callCtx(ctx)
		defer cancel()
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	recv, err := l.paymentStream(streamCtx, methodTrackPaymentV2,
		&lndrpc.TrackPaymentRequest{PaymentHash: hash[:]})
	if err != nil {
		return Payment{}, l.callError("TrackPaymentV2", err)
	}
	p, err := l.follow(recv)
	if err != nil {
		// Still in flight when the caller stopped waiting: that is an
		// answer, not an error.
		if p.Status == PaymentInFlight && ctx.Err() != nil {
			return p, nil
		}
		return Payment{}, l.callError("TrackPaymentV2", err)
	}
	if p.PaymentHash != hash {
		return Payment{}, l.callError("TrackPaymentV2", fmt.Errorf(
			"lnd answered for payment %s, not %s", p.PaymentHash, hash))
	}
	return p, nil
}

// paymentStream starts a server-streaming call that answers with payment
// updates, and returns the function that reads the next one.
func (l *Lnd) paymentStream(ctx context.Context, method string,
	req any) (func() (*lndrpc.Payment, error), error) {

	cs, err := l.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true},
		method)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(req); err != nil {
		return nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return nil, err
	}
	return func() (*lndrpc.Payment, error) {
		p := &lndrpc.Payment{}
		if err := cs.RecvMsg(p); err != nil {
			return nil, err
		}
		return p, nil
	}, nil
}

// follow reads payment updates until the payment is final. When the stream
// ends first it returns the last update seen with the stream's error.
func (l *Lnd) follow(recv func() (*lndrpc.Payment, error)) (Payment, error) {
	var last Payment
	for {
		msg, err := recv()
		if err != nil {
			if err == io.EOF {
				err = errors.New("lnd closed the payment stream " +
					"before the payment was final")
			}
			return last, err
		}

		p, err := convertPayment(msg)
		if err != nil {
			return last, err
		}
		last = p
		if p.Status == PaymentSucceeded || p.Status == PaymentFailed {
			return p, nil
		}
	}
}

// convertPayment turns lnd's payment update into a Payment, checking that a
// claimed preimage really is the payment hash's.
func convertPayment(msg *lndrpc.Payment) (Payment, error) {
	hash, err := l402.ParseHash(msg.PaymentHash)
	if err != nil {
		return Payment{}, err
	}
	p := Payment{
		PaymentHash: hash,
		ValueMsat:   msg.ValueMsat,
		FeeMsat:     msg.FeeMsat,
	}

	switch msg.Status {
	case lndrpc.Payment_SUCCEEDED:
		p.Status = PaymentSucceeded
		pre, err := l402.ParsePreimage(msg.PaymentPreimage)
		if err != nil {
			return Payment{}, fmt.Errorf("payment succeeded with a bad "+
				"preimage: %w", err)
		}
		if pre.Hash() != hash {
			return Payment{}, errors.New("payment succeeded with a " +
				"preimage that does not match its hash")
		}
		p.Preimage = pre

	case lndrpc.Payment_FAILED:
		p.Status = PaymentFailed
		p.FailureReason = msg.FailureReason.String()

	case lndrpc.Payment_IN_FLIGHT, lndrpc.Payment_INITIATED:
		p.Status = PaymentInFlight

	default:
		p.Status = PaymentUnknown
	}
	return p, nil
}

// Info implements Node with GetInfo.
func (l *Lnd) Info(ctx context.Context) (Info, error) {
	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	resp := &lndrpc.GetInfoResponse{}
	err := l.conn.Invoke(ctx, methodGetInfo, &lndrpc.GetInfoRequest{}, resp)
	if err != nil {
		return Info{}, l.callError("GetInfo", err)
	}
	info := Info{
		Pubkey:      resp.IdentityPubkey,
		Alias:       resp.Alias,
		BlockHeight: resp.BlockHeight,
		Synced:      resp.SyncedToChain,
		Version:     resp.Version,
	}
	if len(resp.Chains) > 0 {
		info.Network = resp.Chains[0].Network
	}

	l.mu.Lock()
	l.network = info.Network
	l.mu.Unlock()
	return info, nil
}

// ListChannels implements Node with ListChannels (lnd's offchain:read).
func (l *Lnd) ListChannels(ctx context.Context) ([]Channel, error) {
	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	resp := &lndrpc.ListChannelsResponse{}
	err := l.conn.Invoke(ctx, methodListChannels,
		&lndrpc.ListChannelsRequest{}, resp)
	if err != nil {
		return nil, l.callError("ListChannels", err)
	}
	out := make([]Channel, 0, len(resp.Channels))
	for _, c := range resp.Channels {
		ch := Channel{
			ChanID:           c.ChanId,
			ChannelPoint:     c.ChannelPoint,
			RemotePubkey:     c.RemotePubkey,
			Active:           c.Active,
			CapacitySat:      c.Capacity,
			LocalBalanceSat:  c.LocalBalance,
			RemoteBalanceSat: c.RemoteBalance,
		}
		if lc := c.LocalConstraints; lc != nil &&
			lc.ChanReserveSat <= math.MaxInt64 {
			ch.LocalReserveSat = int64(lc.ChanReserveSat)
		}
		out = append(out, ch)
	}
	return out, nil
}

// ChannelBalance implements Node with ChannelBalance (lnd's offchain:read,
// and the one balance call of l402's pay-only role).
func (l *Lnd) ChannelBalance(ctx context.Context) (ChannelBalance, error) {
	ctx, cancel := l.callCtx(ctx)
	defer cancel()

	resp := &lndrpc.ChannelBalanceResponse{}
	err := l.conn.Invoke(ctx, methodChannelBalance,
		&lndrpc.ChannelBalanceRequest{}, resp)
	if err != nil {
		return ChannelBalance{}, l.callError("ChannelBalance", err)
	}
	return ChannelBalance{LocalMsat: amountMsat(resp.LocalBalance),
		RemoteMsat: amountMsat(resp.RemoteBalance)}, nil
}

// amountMsat returns an lnrpc.Amount in msat: its msat when set, else its
// sat; 0 for none, and the largest int64 for a value beyond it.
func amountMsat(a *lndrpc.Amount) int64 {
	switch {
	case a == nil:
		return 0
	case a.Msat > 0:
		return clampInt64(a.Msat)
	case a.Sat > math.MaxInt64/1000:
		return math.MaxInt64
	}
	return int64(a.Sat) * 1000
}

// clampInt64 returns v, or the largest int64 when v is beyond it.
func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// cachedNetwork returns the node's network, asking it once.
func (l *Lnd) cachedNetwork(ctx context.Context) (string, error) {
	l.mu.Lock()
	network := l.network
	l.mu.Unlock()
	if network != "" {
		return network, nil
	}

	info, err := l.Info(ctx)
	if err != nil {
		return "", err
	}
	return info.Network, nil
}
