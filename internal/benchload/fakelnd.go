package benchload

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"gopkg.in/macaroon.v2"
)

// FakeLnd answers the lnd calls l402 makes (GetInfo, AddInvoice,
// LookupInvoice, DecodePayReq, SendPaymentV2, TrackPaymentV2) over
// lnd's gRPC wire protocol, with TLS and a macaroon file as lnd has
// them, from an in-memory node: serve and fetch run against it
// unchanged, as whole processes, without a chain.
type FakeLnd struct {
	// Host, CertPath and MacaroonDir are what serve.yaml's
	// authenticator and fetch.yaml's lnd block name;
	// MacaroonDir/invoice.macaroon and admin.macaroon are the same
	// macaroon, which FakeLnd does not check.
	Host, CertPath, MacaroonDir string

	node *lightning.MemoryNode
	srv  *grpc.Server
}

// StartFakeLnd serves node on a free 127.0.0.1 port, with its
// certificate and macaroons in dir, until Stop.
func StartFakeLnd(dir string, node *lightning.MemoryNode) (*FakeLnd,
	error) {

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cert, certPath, err := selfSigned(dir)
	if err != nil {
		return nil, err
	}
	mac, err := macaroon.New(make([]byte, 32), []byte("bench"), "lnd",
		macaroon.V2)
	if err != nil {
		return nil, err
	}
	macBytes, err := mac.MarshalBinary()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"invoice.macaroon", "admin.macaroon"} {
		if err := os.WriteFile(filepath.Join(dir, name), macBytes,
			0o600); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &FakeLnd{Host: ln.Addr().String(), CertPath: certPath,
		MacaroonDir: dir, node: node}
	f.srv = grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(&cert)),
		grpc.UnknownServiceHandler(f.serve))
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Stop stops the server.
func (f *FakeLnd) Stop() { f.srv.Stop() }

// serve answers one call.
func (f *FakeLnd) serve(_ any, stream grpc.ServerStream) error {
	ctx := stream.Context()
	method, _ := grpc.MethodFromServerStream(stream)
	switch method {
	case "/lnrpc.Lightning/GetInfo":
		if err := stream.RecvMsg(&lndrpc.GetInfoRequest{}); err != nil {
			return err
		}
		info, err := f.node.Info(ctx)
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		return stream.SendMsg(&lndrpc.GetInfoResponse{
			IdentityPubkey: info.Pubkey, Alias: info.Alias,
			SyncedToChain: true, Version: "benchload",
			Chains: []*lndrpc.Chain{{Network: info.Network}}})

	case "/lnrpc.Lightning/AddInvoice":
		req := &lndrpc.Invoice{}
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		inv, err := f.node.AddInvoice(ctx, lightning.InvoiceRequest{
			AmountSat: req.Value, Memo: req.Memo,
			Expiry: time.Duration(req.Expiry) * time.Second})
		if err != nil {
			return status.Error(codes.Internal, err.Error())
		}
		return stream.SendMsg(&lndrpc.AddInvoiceResponse{
			RHash: inv.PaymentHash[:], PaymentRequest: inv.PaymentRequest})

	case "/lnrpc.Lightning/LookupInvoice":
		req := &lndrpc.PaymentHash{}
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		inv, err := f.node.LookupInvoice(ctx, l402.Hash(req.RHash))
		if err != nil {
			return status.Error(codes.NotFound, "unable to locate invoice")
		}
		state := lndrpc.Invoice_OPEN
		switch inv.State {
		case lightning.InvoiceSettled:
			state = lndrpc.Invoice_SETTLED
		case lightning.InvoiceCanceled:
			state = lndrpc.Invoice_CANCELED
		}
		return stream.SendMsg(&lndrpc.Invoice{
			RHash: req.RHash, Value: inv.AmountSat,
			PaymentRequest: inv.PaymentRequest,
			CreationDate:   inv.CreatedAt.Unix(),
			Expiry:         int64(inv.Expiry / time.Second),
			AmtPaidMsat:    inv.AmountPaidMsat, State: state})

	case "/lnrpc.Lightning/DecodePayReq":
		req := &lndrpc.PayReqString{}
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		pr, err := f.node.DecodePayReq(ctx, req.PayReq)
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		return stream.SendMsg(&lndrpc.PayReq{
			Destination: pr.Destination,
			PaymentHash: pr.PaymentHash.String(),
			NumSatoshis: pr.AmountMsat / 1000, NumMsat: pr.AmountMsat,
			Timestamp:   pr.Timestamp.Unix(),
			Expiry:      int64(pr.Expiry / time.Second),
			Description: pr.Description})

	case "/routerrpc.Router/SendPaymentV2":
		req := &lndrpc.SendPaymentRequest{}
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		p, err := f.node.Pay(ctx, lightning.PayRequest{
			PaymentRequest: req.PaymentRequest,
			MaxFeeSat:      req.FeeLimitSat})
		if err != nil && p.PaymentHash == (l402.Hash{}) {
			return status.Error(codes.Unknown, err.Error())
		}
		return stream.SendMsg(paymentMsg(p))

	case "/routerrpc.Router/TrackPaymentV2":
		req := &lndrpc.TrackPaymentRequest{}
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		p, err := f.node.TrackPayment(ctx, l402.Hash(req.PaymentHash))
		if errors.Is(err, lightning.ErrPaymentNotFound) {
			return status.Error(codes.NotFound, "payment isn't initiated")
		}
		if err != nil {
			return status.Error(codes.Unknown, err.Error())
		}
		return stream.SendMsg(paymentMsg(p))
	}
	return status.Errorf(codes.Unimplemented, "benchload's lnd does not "+
		"answer %s", method)
}

// paymentMsg is lnd's form of a payment update.
func paymentMsg(p lightning.Payment) *lndrpc.Payment {
	msg := &lndrpc.Payment{PaymentHash: p.PaymentHash.String(),
		ValueMsat: p.ValueMsat, ValueSat: p.ValueMsat / 1000,
		FeeMsat: p.FeeMsat, FeeSat: p.FeeMsat / 1000}
	switch p.Status {
	case lightning.PaymentSucceeded:
		msg.Status = lndrpc.Payment_SUCCEEDED
		msg.PaymentPreimage = p.Preimage.String()
	case lightning.PaymentFailed:
		msg.Status = lndrpc.Payment_FAILED
		msg.FailureReason = lndrpc.PaymentFailureReason_FAILURE_REASON_ERROR
	default:
		msg.Status = lndrpc.Payment_IN_FLIGHT
	}
	return msg
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir
// (tls.cert, tls.key) and returns them.
func selfSigned(dir string) (tls.Certificate, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl,
		&key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	certPath := filepath.Join(dir, "tls.cert")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Bytes: keyDER})
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		return tls.Certificate{}, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM,
		0o600); err != nil {
		return tls.Certificate{}, "", err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("self-signed pair: %w", err)
	}
	return pair, certPath, nil
}
