package mpp

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// MinSecretSize is the shortest challenge secret accepted: the store makes
// 32 random bytes; anything much shorter is a mistake.
const MinSecretSize = 16

// ErrShortSecret is returned for a challenge secret under MinSecretSize.
var ErrShortSecret = errors.New("challenge secret is too short")

// bindingInput returns the bytes the challenge id is the HMAC of, as
// draft-httpauth-payment-01 recommends and Aperture v0.5.0 computes them:
// realm, method, intent, request, expires, digest and opaque joined with
// '|', an absent optional field an empty slot, and a header slot appended
// only when the challenge has one. The description is not bound. The
// delimiter is not escaped, so a value with a '|' could share its input
// with other fields: such a challenge is refused, which makes the input
// unambiguous.
func bindingInput(c Challenge) (string, error) {
	slots := []string{c.Realm, c.Method, c.Intent, c.Request, c.Expires,
		c.Digest, c.Opaque}
	if c.Header != "" {
		slots = append(slots, c.Header)
	}
	for _, s := range slots {
		if strings.Contains(s, "|") {
			return "", fmt.Errorf("%w: a bound field contains '|'",
				ErrTampered)
		}
	}
	return strings.Join(slots, "|"), nil
}

// ChallengeID returns the id that binds c's fields under secret: the
// base64url (no padding) of HMAC-SHA256(secret, bindingInput). Buyers
// treat ids as opaque; with the same secret the id is the one Aperture
// v0.5.0 computes.
func ChallengeID(secret []byte, c Challenge) (string, error) {
	if len(secret) < MinSecretSize {
		return "", fmt.Errorf("%w: %d bytes, want at least %d",
			ErrShortSecret, len(secret), MinSecretSize)
	}
	in, err := bindingInput(c)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(in))
	return Encode(mac.Sum(nil)), nil
}

// Bind returns c with its id set to ChallengeID, after checking that it is
// complete and that every value fits in a header.
func Bind(secret []byte, c Challenge) (Challenge, error) {
	c.ID = "unset"
	if _, err := c.WWWAuthenticate(); err != nil {
		return Challenge{}, err
	}
	id, err := ChallengeID(secret, c)
	if err != nil {
		return Challenge{}, err
	}
	c.ID = id
	return c, nil
}

// VerifyID checks, in constant time, that c's id is the one secret gives
// its fields: that this server made the challenge and nothing in it was
// changed. It fails with ErrTampered.
func VerifyID(secret []byte, c Challenge) error {
	want, err := ChallengeID(secret, c)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(c.ID)) {
		return fmt.Errorf("%w: the id does not match the challenge's "+
			"fields", ErrTampered)
	}
	return nil
}
