package l402

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"gopkg.in/macaroon.v2"
)

// RootKeySecretSize is the size of the secret root keys are derived from.
const RootKeySecretSize = 32

// rootKeyLabel separates root key derivation from every other use of the
// secret's HMAC: a derived root key is HMAC-SHA256(secret, label || key),
// key being sha256(identifier), Identifier.Key.
const rootKeyLabel = "l402 root key v1\x00"

// DeriveRootKey returns the root key of the token with identifier id
// under secret: a server that holds the secret derives the key again to
// verify, so that no per-token key is stored, and none can be lost
// between a challenge and its payment. The secret must be
// RootKeySecretSize bytes; a shorter one (a zero-length secret that was
// never read, say) is refused, never used.
func DeriveRootKey(secret []byte, id Identifier) ([]byte, error) {
	if len(secret) != RootKeySecretSize {
		return nil, fmt.Errorf("the root key secret must be %d bytes, "+
			"got %d", RootKeySecretSize, len(secret))
	}
	key, err := id.Key()
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(rootKeyLabel))
	mac.Write(key[:])
	return mac.Sum(make([]byte, 0, RootKeySize)), nil
}

// MintDerived mints the token with identifier id under the root key
// secret derives for it (DeriveRootKey), the only kind serve sells: its
// challenges, and tests that sign as a holder of the secret would.
func MintDerived(secret []byte, id Identifier, caveats ...Caveat) (
	*macaroon.Macaroon, error) {

	key, err := DeriveRootKey(secret, id)
	if err != nil {
		return nil, err
	}
	return Mint(key, id, caveats...)
}
