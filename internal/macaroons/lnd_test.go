package macaroons

import (
	"context"
	"net"
	"testing"

	"github.com/l402/l402/internal/lightning"
	lndmacaroons "github.com/lightningnetwork/lnd/macaroons"
	"google.golang.org/grpc/peer"
	"gopkg.in/macaroon-bakery.v2/bakery"
)

// testRootKey is the root key of the test's lnd macaroon service.
var testRootKey = make([]byte, lndmacaroons.RootKeyLen)

// fixedRootKeyStore is an lnd root key store with one key for every ID,
// handing out the root key ID the context names, as lnd's store does.
type fixedRootKeyStore struct{}

// Get implements bakery.RootKeyStore.
func (fixedRootKeyStore) Get(context.Context, []byte) ([]byte, error) {
	return testRootKey, nil
}

// RootKey implements bakery.RootKeyStore.
func (fixedRootKeyStore) RootKey(ctx context.Context) ([]byte, []byte,
	error) {

	id, err := lndmacaroons.RootKeyIDFromContext(ctx)
	return testRootKey, id, err
}

// lndService returns lnd's own macaroon service, with the caveat checkers
// lnd registers for ipaddr and iprange (time-before is the bakery's).
func lndService(t testing.TB) *lndmacaroons.Service {
	t.Helper()
	svc, err := lndmacaroons.NewService(fixedRootKeyStore{}, "lnd", false,
		lndmacaroons.IPLockChecker, lndmacaroons.IPRangeLockChecker)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// bakeLnd bakes a macaroon the way lnd's BakeMacaroon does, in its binary
// form.
func bakeLnd(t testing.TB, rootKeyID string,
	perms []lightning.Permission) []byte {

	t.Helper()
	ops := make([]bakery.Op, 0, len(perms))
	for _, p := range perms {
		ops = append(ops, bakery.Op{Entity: p.Entity, Action: p.Action})
	}
	m, err := lndService(t).NewMacaroon(context.Background(),
		[]byte(rootKeyID), ops...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.M().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lndAllows asks lnd's macaroon service whether the macaroon may call the
// method from the client address, as lnd's interceptor does.
func lndAllows(t *testing.T, mac []byte, method, clientIP string) error {
	t.Helper()
	ctx := peer.NewContext(context.Background(), &peer.Peer{
		Addr: &net.TCPAddr{IP: net.ParseIP(clientIP), Port: 40000},
	})

	// The coarse permission no role holds: only the uri: one can allow.
	required := []bakery.Op{{Entity: "nothing", Action: "read"}}
	return lndService(t).CheckMacAuth(ctx, mac, required, method)
}
