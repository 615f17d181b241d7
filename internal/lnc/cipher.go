package lnc

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

const (
	// macSize is the size of a ChaCha20-Poly1305 tag.
	macSize = 16

	// rotateAfter is how many messages one key seals or opens before both
	// sides ratchet it forward, as Brontide does.
	rotateAfter = 1000
)

// errDecrypt is returned for any ciphertext that fails authentication. It
// says no more, so that it tells an attacker nothing.
var errDecrypt = errors.New("lnc: message authentication failed")

// aead is one direction's ChaCha20-Poly1305 key with its nonce counter,
// and the salt its key ratchet uses.
type aead struct {
	key   [32]byte
	salt  [32]byte
	nonce uint64
	c     cipher.AEAD
}

// setKey starts key with a zero nonce.
func (a *aead) setKey(key [32]byte) {
	a.key = key
	a.nonce = 0

	// The key is 32 bytes, the only size New refuses nothing for.
	a.c, _ = chacha20poly1305.New(a.key[:])
}

// nonceBytes is the 96-bit nonce for the current counter: four zero
// bytes, then the counter little-endian.
func (a *aead) nonceBytes() []byte {
	var n [chacha20poly1305.NonceSize]byte
	binary.LittleEndian.PutUint64(n[4:], a.nonce)
	return n[:]
}

// advance counts one message and, every rotateAfter messages, ratchets
// the key: HKDF-SHA256 of the key with the salt gives the next salt and
// the next key.
func (a *aead) advance() {
	a.nonce++
	if a.nonce != rotateAfter {
		return
	}
	r := hkdf.New(sha256.New, a.key[:], a.salt[:], nil)
	var next [32]byte
	_, _ = io.ReadFull(r, a.salt[:])
	_, _ = io.ReadFull(r, next[:])
	a.setKey(next)
}

// seal encrypts and authenticates plain with ad, appending to dst.
func (a *aead) seal(dst, ad, plain []byte) []byte {
	out := a.c.Seal(dst, a.nonceBytes(), plain, ad)
	a.advance()
	return out
}

// open authenticates and decrypts sealed with ad. The nonce advances
// whether or not it succeeds: a failure ends the connection anyway.
func (a *aead) open(ad, sealed []byte) ([]byte, error) {
	plain, err := a.c.Open(nil, a.nonceBytes(), sealed, ad)
	a.advance()
	if err != nil {
		return nil, errDecrypt
	}
	return plain, nil
}
