// Package macaroontest makes macaroons for tests as lnd would bake them,
// without an lnd. Tests only.
package macaroontest

import (
	"strconv"
	"testing"

	"github.com/l402/l402/internal/lightning/lndrpc"
	"github.com/l402/l402/internal/macaroons"
	"google.golang.org/protobuf/proto"
	"gopkg.in/macaroon.v2"
)

// MintRole returns a macaroon with the id lnd would write for the role,
// made with macaroon.v2 directly, in lnd's binary form, with caveats.
func MintRole(t testing.TB, role string, caveats ...string) []byte {
	t.Helper()
	r, err := macaroons.LookupRole(role)
	if err != nil {
		t.Fatal(err)
	}
	id, err := proto.Marshal(&lndrpc.MacaroonId{
		Nonce:     []byte("0123456789abcdef"),
		StorageId: []byte(strconv.FormatUint(r.RootKeyID, 10)),
		Ops:       []*lndrpc.Op{{Entity: "uri", Actions: r.Methods}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := macaroon.New(make([]byte, 32), append([]byte{3}, id...),
		"lnd", macaroon.V2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caveats {
		if err := m.AddFirstPartyCaveat([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
