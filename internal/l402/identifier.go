package l402

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

const (
	// IdentifierVersion0 is the only identifier version defined by L402.
	IdentifierVersion0 uint16 = 0

	// IdentifierSize is the encoded size of a version 0 identifier: a
	// uint16 version, a 32-byte payment hash and a 32-byte token ID.
	IdentifierSize = 2 + HashSize + TokenIDSize

	// HashSize is the size of a payment hash and of a preimage.
	HashSize = 32

	// TokenIDSize is the size of the random token ID.
	TokenIDSize = 32
)

var (
	// ErrUnknownVersion is returned for an identifier whose version is
	// not one this package knows.
	ErrUnknownVersion = errors.New("unknown L402 identifier version")

	// ErrIdentifierSize is returned for an identifier of the wrong length.
	ErrIdentifierSize = errors.New("L402 identifier has the wrong length")
)

// Hash is a payment hash: the SHA-256 of a preimage.
type Hash [HashSize]byte

// String returns the hash in lower-case hex, the form lnd prints.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Preimage is the secret revealed by paying an invoice.
type Preimage [HashSize]byte

// Hash returns the payment hash that the preimage unlocks.
func (p Preimage) Hash() Hash { return sha256.Sum256(p[:]) }

// String returns the preimage in lower-case hex, the form used on the wire.
func (p Preimage) String() string { return hex.EncodeToString(p[:]) }

// ParsePreimage decodes a 64-character hex preimage.
func ParsePreimage(s string) (Preimage, error) {
	var p Preimage
	if len(s) != 2*HashSize {
		return p, fmt.Errorf("preimage must be %d hex characters, got %d",
			2*HashSize, len(s))
	}
	if _, err := hex.Decode(p[:], []byte(s)); err != nil {
		return p, fmt.Errorf("preimage is not hex: %w", err)
	}
	return p, nil
}

// ParseHash decodes a 64-character hex payment hash.
func ParseHash(s string) (Hash, error) {
	p, err := ParsePreimage(s)
	if err != nil {
		return Hash{}, fmt.Errorf("payment hash: %w", err)
	}
	return Hash(p), nil
}

// TokenID is the random part of an identifier that names one token.
type TokenID [TokenIDSize]byte

// String returns the token ID in lower-case hex.
func (t TokenID) String() string { return hex.EncodeToString(t[:]) }

// Identifier is the decoded identifier of an L402 macaroon. It binds the
// macaroon to the payment hash of its invoice.
type Identifier struct {
	Version     uint16
	PaymentHash Hash
	TokenID     TokenID
}

// NewIdentifier returns a version 0 identifier for the payment hash and
// token ID.
func NewIdentifier(hash Hash, id TokenID) Identifier {
	return Identifier{
		Version:     IdentifierVersion0,
		PaymentHash: hash,
		TokenID:     id,
	}
}

// Encode returns the 66-byte big-endian wire form of the identifier. It
// refuses versions it could not decode again.
func (id Identifier) Encode() ([]byte, error) {
	if id.Version != IdentifierVersion0 {
		return nil, fmt.Errorf("%w: %d", ErrUnknownVersion, id.Version)
	}

	b := make([]byte, IdentifierSize)
	binary.BigEndian.PutUint16(b[:2], id.Version)
	copy(b[2:2+HashSize], id.PaymentHash[:])
	copy(b[2+HashSize:], id.TokenID[:])
	return b, nil
}

// Key returns the key under which the token's root key is stored:
// sha256 of the encoded identifier.
func (id Identifier) Key() ([32]byte, error) {
	b, err := id.Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// DecodeIdentifier parses the wire form of an identifier. Only version 0 is
// known, and it must be exactly 66 bytes long.
func DecodeIdentifier(b []byte) (Identifier, error) {
	var id Identifier
	if len(b) < 2 {
		return id, fmt.Errorf("%w: %d bytes", ErrIdentifierSize, len(b))
	}

	id.Version = binary.BigEndian.Uint16(b[:2])
	if id.Version != IdentifierVersion0 {
		return id, fmt.Errorf("%w: %d", ErrUnknownVersion, id.Version)
	}
	if len(b) != IdentifierSize {
		return id, fmt.Errorf("%w: %d bytes, want %d", ErrIdentifierSize,
			len(b), IdentifierSize)
	}

	copy(id.PaymentHash[:], b[2:2+HashSize])
	copy(id.TokenID[:], b[2+HashSize:])
	return id, nil
}
