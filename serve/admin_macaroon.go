package serve

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/l402/l402/internal/atomicfile"
	"gopkg.in/macaroon.v2"
)

// The admin macaroon's identifier and location, Aperture's: a macaroon
// aperturecli holds for Aperture has the same shape.
const (
	adminMacaroonID       = "admin"
	adminMacaroonLocation = "aperture"
)

// adminKeyStore is where the admin root key lives: serve's database, so
// that every replica of one database accepts one macaroon.
type adminKeyStore interface {
	AdminRootKey(ctx context.Context, fresh []byte) ([]byte, error)
}

// adminAuth checks admin macaroons in constant time against the one
// macaroon the root key makes: same identifier, no caveat, same
// signature.
type adminAuth struct {
	id        []byte
	signature []byte
}

// ErrAdminMacaroon is the refusal of a missing, malformed or wrong admin
// macaroon.
var ErrAdminMacaroon = errors.New("a valid admin macaroon is required")

// bakeAdminMacaroon reads the admin root key (making it at the first
// start), writes the admin macaroon to path (0600) when no file is there,
// and returns the checker. A file that holds another macaroon is left
// alone, with a warning: it belongs to another database's key.
func bakeAdminMacaroon(ctx context.Context, db adminKeyStore, path string,
	warn func(string)) (*adminAuth, error) {

	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	key, err := db.AdminRootKey(ctx, fresh)
	if err != nil {
		return nil, err
	}
	mac, err := macaroon.New(key, []byte(adminMacaroonID),
		adminMacaroonLocation, macaroon.V2)
	if err != nil {
		return nil, err
	}
	raw, err := mac.MarshalBinary()
	if err != nil {
		return nil, err
	}
	auth := &adminAuth{id: mac.Id(), signature: mac.Signature()}

	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("admin macaroon: %w", err)
	}
	err = atomicfile.WriteNew(path, raw, 0o600)
	switch {
	case errors.Is(err, atomicfile.ErrExists):
		held, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, fmt.Errorf("admin macaroon: %w", rerr)
		}
		if auth.check(hex.EncodeToString(held)) != nil {
			warn(fmt.Sprintf("%s is not this database's admin macaroon "+
				"(another database's key?): it is refused; delete it and "+
				"restart to have serve write the right one", path))
		}
	case err != nil:
		return nil, fmt.Errorf("admin macaroon: %w", err)
	}
	return auth, nil
}

// check verifies a hex-encoded admin macaroon: its identifier and
// signature are compared in constant time, and a caveat (which serve
// would not know how to check) refuses it.
func (a *adminAuth) check(hexMac string) error {
	if hexMac == "" {
		return fmt.Errorf("%w: none was sent", ErrAdminMacaroon)
	}
	raw, err := hex.DecodeString(hexMac)
	if err != nil {
		return fmt.Errorf("%w: it is not hex", ErrAdminMacaroon)
	}
	var mac macaroon.Macaroon
	if err := mac.UnmarshalBinary(raw); err != nil {
		return fmt.Errorf("%w: it is not a macaroon", ErrAdminMacaroon)
	}
	idOK := hmac.Equal(mac.Id(), a.id)
	sigOK := hmac.Equal(mac.Signature(), a.signature)
	if !idOK || !sigOK || len(mac.Caveats()) != 0 {
		return fmt.Errorf("%w: this one is not serve's", ErrAdminMacaroon)
	}
	return nil
}
