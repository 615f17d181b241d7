package lightning

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning/lndrpc"
	"github.com/l402/l402/internal/lnctest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestLndPayNotStarted: lnd's SendPaymentV2 answering with an error before
// any update, for a payment TrackPaymentV2 then does not know, is
// ErrPaymentNotStarted; a transport error, an update seen first, or a
// payment lnd does know stays a payment whose outcome is not known.
func TestLndPayNotStarted(t *testing.T) {
	_, seller := newPair(t)
	inv, err := seller.AddInvoice(context.Background(),
		InvoiceRequest{AmountSat: 5})
	if err != nil {
		t.Fatal(err)
	}
	notFound := func(grpc.ServerStream) error {
		return status.Error(codes.NotFound, "payment isn't initiated")
	}
	initiated := func(s grpc.ServerStream) error {
		return s.SendMsg(&lndrpc.Payment{PaymentHash: inv.PaymentHash.String(),
			Status: lndrpc.Payment_INITIATED})
	}

	tests := []struct {
		name       string
		send       func(grpc.ServerStream) error
		track      func(grpc.ServerStream) error
		notStarted bool
	}{
		{"refused by lnd", func(grpc.ServerStream) error {
			return status.Error(codes.Unknown, "self-payments not allowed")
		}, notFound, true},
		{"refused by the macaroon", func(grpc.ServerStream) error {
			return status.Error(codes.Unknown, "permission denied")
		}, notFound, true},
		{"refused, but lnd has the payment", func(grpc.ServerStream) error {
			return status.Error(codes.Unknown, "unable to subscribe")
		}, initiated, false},
		{"refused, and tracking fails", func(grpc.ServerStream) error {
			return status.Error(codes.Unknown, "self-payments not allowed")
		}, func(grpc.ServerStream) error {
			return status.Error(codes.Unavailable, "lnd is shutting down")
		}, false},
		{"transport error", func(grpc.ServerStream) error {
			return status.Error(codes.Unavailable, "connection reset")
		}, notFound, false},
		{"error after an update", func(s grpc.ServerStream) error {
			if err := initiated(s); err != nil {
				return err
			}
			return status.Error(codes.Unknown, "stream ended")
		}, notFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := lnctest.StartFakeLnd(t, "alice", "regtest")
			fake.Handle = func(method string, s grpc.ServerStream) error {
				switch method {
				case methodSendPaymentV2:
					if err := s.RecvMsg(&lndrpc.SendPaymentRequest{}); err != nil {
						return err
					}
					return tc.send(s)
				case methodTrackPaymentV2:
					if err := s.RecvMsg(&lndrpc.TrackPaymentRequest{}); err != nil {
						return err
					}
					return tc.track(s)
				}
				return status.Error(codes.Unimplemented, method)
			}
			l, err := NewLnd(LndConfig{Name: "alice", Host: fake.Host,
				TLSCertPath: fake.CertPath, MacaroonPath: fake.MacaroonPath,
				CallTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()

			_, err = l.Pay(context.Background(), PayRequest{
				PaymentRequest: inv.PaymentRequest, Timeout: time.Second})
			if err == nil {
				t.Fatal("paid")
			}
			if got := errors.Is(err, ErrPaymentNotStarted); got != tc.notStarted {
				t.Fatalf("ErrPaymentNotStarted %v, want %v: %v", got,
					tc.notStarted, err)
			}
		})
	}
}
