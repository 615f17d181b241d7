package bake

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning/lndrpc"
	"github.com/l402/l402/internal/macaroons"
	"google.golang.org/protobuf/proto"
	"gopkg.in/macaroon.v2"
)

// mintRole returns a macaroon with the id lnd would write for the role,
// made with macaroon.v2 directly, in lnd's binary form.
func mintRole(t *testing.T, role string, caveats ...string) []byte {
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

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// duration returns a pointer to d, as Caveats.Timeout takes it.
func duration(d time.Duration) *time.Duration { return &d }

// isolated returns lnd options that find no lnd: an empty home and an
// empty environment.
func isolated(t *testing.T) Options {
	t.Helper()
	return Options{Lnd: lndOptions(t)}
}
