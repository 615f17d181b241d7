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

// fakeChannels starts a fake lnd whose ListChannels and ChannelBalance
// answer with the given functions, and dials it.
func fakeChannels(t *testing.T, list func(grpc.ServerStream) error,
	balance func(grpc.ServerStream) error) *Lnd {

	t.Helper()
	fake := lnctest.StartFakeLnd(t, "alice", "regtest")
	fake.Handle = func(method string, s grpc.ServerStream) error {
		switch method {
		case methodListChannels:
			if err := s.RecvMsg(&lndrpc.ListChannelsRequest{}); err != nil {
				return err
			}
			return list(s)
		case methodChannelBalance:
			if err := s.RecvMsg(&lndrpc.ChannelBalanceRequest{}); err != nil {
				return err
			}
			return balance(s)
		}
		return status.Error(codes.Unimplemented, method)
	}
	l, err := NewLnd(LndConfig{Name: "alice", Host: fake.Host,
		TLSCertPath: fake.CertPath, MacaroonPath: fake.MacaroonPath,
		CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestLndListChannels: lnd's channels come back with their balances and
// the local reserve, and SpendableSat is what an active one can send.
func TestLndListChannels(t *testing.T) {
	l := fakeChannels(t, func(s grpc.ServerStream) error {
		return s.SendMsg(&lndrpc.ListChannelsResponse{Channels: []*lndrpc.Channel{
			{Active: true, RemotePubkey: "02ab", ChannelPoint: "tx:0",
				ChanId: 7, Capacity: 100_000, LocalBalance: 60_000,
				RemoteBalance: 39_000, LocalConstraints: &lndrpc.ChannelConstraints{
					ChanReserveSat: 1000}},
			{Active: false, ChanId: 8, Capacity: 50_000, LocalBalance: 50_000},
		}})
	}, nil)
	chs, err := l.ListChannels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Channel{
		{ChanID: 7, ChannelPoint: "tx:0", RemotePubkey: "02ab", Active: true,
			CapacitySat: 100_000, LocalBalanceSat: 60_000,
			RemoteBalanceSat: 39_000, LocalReserveSat: 1000},
		{ChanID: 8, CapacitySat: 50_000, LocalBalanceSat: 50_000},
	}
	if len(chs) != 2 || chs[0] != want[0] || chs[1] != want[1] {
		t.Fatalf("channels %+v, want %+v", chs, want)
	}
	if chs[0].SpendableSat() != 59_000 || chs[1].SpendableSat() != 0 {
		t.Fatalf("spendable %d %d", chs[0].SpendableSat(),
			chs[1].SpendableSat())
	}
}

// TestLndChannelBalance: the msat amounts when lnd sends them, else the
// sat ones.
func TestLndChannelBalance(t *testing.T) {
	l := fakeChannels(t, nil, func(s grpc.ServerStream) error {
		return s.SendMsg(&lndrpc.ChannelBalanceResponse{
			LocalBalance:  &lndrpc.Amount{Sat: 70, Msat: 70_500},
			RemoteBalance: &lndrpc.Amount{Sat: 30},
		})
	})
	b, err := l.ChannelBalance(context.Background())
	if err != nil || b != (ChannelBalance{LocalMsat: 70_500,
		RemoteMsat: 30_000}) {
		t.Fatalf("balance %+v %v", b, err)
	}
}

// TestLndChannelsPermissionDenied: a macaroon lnd refuses the calls for
// is ErrPermissionDenied, which callers tell from a node that is down.
func TestLndChannelsPermissionDenied(t *testing.T) {
	denied := func(grpc.ServerStream) error {
		return status.Error(codes.Unknown, "verification failed: "+
			"permission denied")
	}
	l := fakeChannels(t, denied, denied)
	if _, err := l.ListChannels(context.Background()); !errors.Is(err,
		ErrPermissionDenied) {
		t.Fatalf("ListChannels: %v", err)
	}
	if _, err := l.ChannelBalance(context.Background()); !errors.Is(err,
		ErrPermissionDenied) {
		t.Fatalf("ChannelBalance: %v", err)
	}
}
