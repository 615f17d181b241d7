package l402

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"gopkg.in/macaroon.v2"
)

// Location is the macaroon location every L402 implementation uses.
const Location = "lsat"

// RootKeySize is the size of a token's root key.
const RootKeySize = 32

var (
	// ErrPreimageMismatch is returned when a preimage does not hash to
	// the payment hash in the token's identifier.
	ErrPreimageMismatch = errors.New("preimage does not match the token's " +
		"payment hash")

	// ErrBadSignature is returned when a macaroon's HMAC chain does not
	// verify under its root key.
	ErrBadSignature = errors.New("macaroon signature is invalid")

	// ErrUnknownToken is what a RootKeyLookup returns (wrapped or not)
	// when it has no root key for an identifier.
	ErrUnknownToken = errors.New("unknown token")
)

// RootKeyLookup finds the root key a token was minted with. Implementations
// may cache: a root key never changes.
type RootKeyLookup interface {
	RootKey(id Identifier) ([]byte, error)
}

// FallbackLookup is a RootKeyLookup that may hold a second root key for
// a token, asked for only when the macaroon does not verify under the
// first: serve derives a token's root key first and reads a stored one
// (a token minted before root keys were derived) only then, so that a
// token costs at most one lookup of the second kind, whether it is
// valid or forged.
type FallbackLookup interface {
	RootKeyLookup
	FallbackRootKey(id Identifier) ([]byte, error)
}

// A Confirmer is a RootKeyLookup that holds a token whose signature and
// preimage verified to one more condition before the token is taken (and
// a Verifier remembers it): serve's derived root keys prove only that the
// macaroon was made by a holder of the secret, so serve confirms that the
// token was issued. Confirm is asked only after the signature verified,
// so that a forgery costs it nothing.
type Confirmer interface {
	RootKeyLookup
	Confirm(id Identifier) error
}

// RootKeyFunc adapts a function to RootKeyLookup.
type RootKeyFunc func(id Identifier) ([]byte, error)

// RootKey calls f.
func (f RootKeyFunc) RootKey(id Identifier) ([]byte, error) { return f(id) }

// Mint creates a version 2 macaroon for the identifier under the root key,
// with the given first-party caveats in order.
func Mint(rootKey []byte, id Identifier, caveats ...Caveat) (
	*macaroon.Macaroon, error) {

	if len(rootKey) != RootKeySize {
		return nil, fmt.Errorf("root key must be %d bytes, got %d",
			RootKeySize, len(rootKey))
	}
	idBytes, err := id.Encode()
	if err != nil {
		return nil, err
	}

	mac, err := macaroon.New(rootKey, idBytes, Location, macaroon.V2)
	if err != nil {
		return nil, fmt.Errorf("unable to create macaroon: %w", err)
	}
	for _, c := range caveats {
		if err := mac.AddFirstPartyCaveat([]byte(c.String())); err != nil {
			return nil, fmt.Errorf("unable to add caveat %q: %w",
				c.Condition, err)
		}
	}
	return mac, nil
}

// AddCaveats returns a copy of mac narrowed by the caveats; mac itself is
// left as it was.
func AddCaveats(mac *macaroon.Macaroon, caveats ...Caveat) (
	*macaroon.Macaroon, error) {

	out := mac.Clone()
	for _, c := range caveats {
		if err := out.AddFirstPartyCaveat([]byte(c.String())); err != nil {
			return nil, fmt.Errorf("unable to add caveat %q: %w",
				c.Condition, err)
		}
	}
	return out, nil
}

// Caveats decodes the first-party caveats of a macaroon in order. L402
// tokens never carry third-party caveats, so one is an error.
func Caveats(mac *macaroon.Macaroon) ([]Caveat, error) {
	raw := mac.Caveats()
	out := make([]Caveat, 0, len(raw))
	for _, c := range raw {
		if len(c.VerificationId) != 0 || c.Location != "" {
			return nil, fmt.Errorf("%w: third-party caveats are not "+
				"used by L402", ErrCaveatMalformed)
		}
		cav, err := DecodeCaveat(string(c.Id))
		if err != nil {
			return nil, err
		}
		out = append(out, cav)
	}
	return out, nil
}

// TokenIdentifier decodes the identifier of a macaroon.
func TokenIdentifier(mac *macaroon.Macaroon) (Identifier, error) {
	return DecodeIdentifier(mac.Id())
}

// Verify checks a paid token for a request: the preimage must hash to the
// identifier's payment hash, the HMAC chain must verify under the root key
// that lookup returns, and the caveats must allow the target. It returns the
// token's identifier. It makes no Lightning call.
func Verify(mac *macaroon.Macaroon, preimage Preimage, lookup RootKeyLookup,
	t Target) (Identifier, error) {

	id, caveats, err := verifySigned(mac, preimage, lookup)
	if err != nil {
		return id, err
	}
	if err := CheckCaveats(caveats, t); err != nil {
		return id, err
	}
	return id, nil
}

// verifySigned is what Verify checks that does not depend on the
// request: the payment proof and the HMAC chain. It returns the token's
// identifier and its caveats, decoded.
func verifySigned(mac *macaroon.Macaroon, preimage Preimage,
	lookup RootKeyLookup) (Identifier, []Caveat, error) {

	id, err := TokenIdentifier(mac)
	if err != nil {
		return id, nil, err
	}

	// The payment proof first: it is the cheapest check and needs no
	// root key.
	hash := preimage.Hash()
	if subtle.ConstantTimeCompare(hash[:], id.PaymentHash[:]) != 1 {
		return id, nil, ErrPreimageMismatch
	}

	if err := verifyChain(mac, id, lookup); err != nil {
		return id, nil, err
	}
	if c, ok := lookup.(Confirmer); ok {
		if err := c.Confirm(id); err != nil {
			return id, nil, err
		}
	}

	// Only caveats covered by a valid signature are read.
	caveats, err := Caveats(mac)
	if err != nil {
		return id, nil, err
	}
	return id, caveats, nil
}

// verifyChain checks mac's HMAC chain under the root key lookup gives for
// id, or, when it does not verify and lookup is a FallbackLookup, under
// the one root key its fallback gives. A fallback that knows no key for
// id leaves the macaroon refused as badly signed.
func verifyChain(mac *macaroon.Macaroon, id Identifier,
	lookup RootKeyLookup) error {

	rootKey, err := lookup.RootKey(id)
	if err != nil {
		return fmt.Errorf("unable to find root key: %w", err)
	}
	_, verr := mac.VerifySignature(rootKey, nil)
	if verr == nil {
		return nil
	}
	fb, ok := lookup.(FallbackLookup)
	if !ok {
		return fmt.Errorf("%w: %v", ErrBadSignature, verr)
	}
	rootKey, err = fb.FallbackRootKey(id)
	switch {
	case errors.Is(err, ErrUnknownToken):
		return fmt.Errorf("%w: %v", ErrBadSignature, verr)
	case err != nil:
		return fmt.Errorf("unable to find root key: %w", err)
	}
	if _, err := mac.VerifySignature(rootKey, nil); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}
