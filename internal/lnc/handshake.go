package lnc

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"golang.org/x/crypto/hkdf"
	"golang.org/x/crypto/scrypt"
)

// The handshake versions a node may answer with. Version 0 carries the
// auth data in a fixed 500-byte payload, version 1 in a length-prefixed
// one, and version 2 is version 1 with the promise that later connections
// use the KK pattern with the static keys this one exchanged.
const (
	version0 byte = 0
	version1 byte = 1
	version2 byte = 2
)

const (
	// pubKeySize is the size of a compressed secp256k1 point.
	pubKeySize = 33

	// v0PayloadSize is the fixed size of act two's payload in version 0.
	v0PayloadSize = 500

	// maxAuthData bounds the auth data a node may send in act two: a
	// macaroon in hex is a few kilobytes; a length past this is refused
	// before anything is allocated for it.
	maxAuthData = 1 << 20

	// xxName and kkName are the Noise protocol names of the pairing and
	// the resumption handshakes.
	xxName = "Noise_XXeke+SPAKE2_secp256k1_ChaChaPoly_SHA256"
	kkName = "Noise_KK_secp256k1_ChaChaPoly_SHA256"

	// The stretching of the phrase's entropy into the SPAKE2 password:
	// scrypt with the entropy as both the password and the salt.
	scryptN      = 1 << 16
	scryptR      = 8
	scryptP      = 1
	scryptKeyLen = 32
)

// prologue is mixed into every LNC handshake, binding it to LNC.
var prologue = []byte("lightning-node-connect")

// spakeGenerator is the point N the SPAKE2 mask multiplies by the
// password: found by try-and-increment from SHA-256 of "Lightning Node
// Connect", so that nobody knows its discrete logarithm. It is parsed
// on first use, not at every start of the binary (a point
// decompression, about 1% of a cached `l402 fetch`'s instructions).
var spakeGenerator = sync.OnceValue(func() *btcec.PublicKey {
	return mustPoint("0254a58cd0f31c008fd0bc9b2dd5ba586144933829" +
		"f6da33ac4130b555fb5ea32c")
})

// mustPoint parses a compressed point that is a constant of the protocol.
func mustPoint(s string) *btcec.PublicKey {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	p, err := btcec.ParsePubKey(b)
	if err != nil {
		panic(err)
	}
	return p
}

var (
	// errWrongPhrase is returned when a pairing handshake fails to
	// authenticate the node's answer: the node holds another phrase (or
	// someone who does not know it answered).
	errWrongPhrase = errors.New("the node's handshake answer does not " +
		"authenticate: the pairing phrase is not the node's")

	// errWrongKeys is returned when a resumption handshake fails to
	// authenticate: the node no longer has the session of these keys.
	errWrongKeys = errors.New("the node's handshake answer does not " +
		"authenticate with the stored session keys")
)

// HandshakeResult is what a completed handshake hands the transport.
type HandshakeResult struct {
	// RemoteStatic is the node's long-term key.
	RemoteStatic *btcec.PublicKey

	// AuthData is what the node sent in act two: header lines that carry
	// the macaroon. It is a secret.
	AuthData []byte

	// Version is the handshake version both sides agreed on.
	Version byte

	send, recv aead
}

// handshakeState is the initiator's side of a Noise handshake: the
// chaining key, the transcript hash, the handshake cipher and the keys.
type handshakeState struct {
	cipher aead
	ck     [32]byte
	h      [32]byte

	local     *btcec.PrivateKey
	eph       *btcec.PrivateKey
	remote    *btcec.PublicKey
	remoteEph *btcec.PublicKey

	version    byte
	minVersion byte
	maxVersion byte
}

// newHandshakeState starts the transcript with the protocol name and the
// prologue, and, for KK, both static keys known beforehand (ours first, as
// the initiator's).
func newHandshakeState(name string, local *btcec.PrivateKey,
	remote *btcec.PublicKey) *handshakeState {

	s := &handshakeState{local: local, remote: remote}
	s.h = sha256.Sum256([]byte(name))
	s.ck = s.h
	s.cipher.setKey([32]byte{})
	s.mixHash(prologue)
	if remote != nil {
		s.mixHash(local.PubKey().SerializeCompressed())
		s.mixHash(remote.SerializeCompressed())
	}
	return s
}

// mixHash folds data into the transcript hash, which every later
// handshake ciphertext authenticates as its associated data.
func (s *handshakeState) mixHash(data []byte) {
	d := sha256.New()
	d.Write(s.h[:])
	d.Write(data)
	d.Sum(s.h[:0])
}

// mixKey folds the output of a Diffie-Hellman into the chaining key and
// takes the next handshake key from it.
func (s *handshakeState) mixKey(secret [32]byte) {
	r := hkdf.New(sha256.New, secret[:], s.ck[:], nil)
	var temp [32]byte
	_, _ = io.ReadFull(r, s.ck[:])
	_, _ = io.ReadFull(r, temp[:])
	s.cipher.setKey(temp)
}

// encryptAndHash seals plain under the transcript and adds the result to
// it.
func (s *handshakeState) encryptAndHash(plain []byte) []byte {
	ct := s.cipher.seal(nil, s.h[:], plain)
	s.mixHash(ct)
	return ct
}

// decryptAndHash opens ct under the transcript and adds ct to it.
func (s *handshakeState) decryptAndHash(ct []byte) ([]byte, error) {
	plain, err := s.cipher.open(s.h[:], ct)
	if err != nil {
		return nil, err
	}
	s.mixHash(ct)
	return plain, nil
}

// ecdh is lnd's Diffie-Hellman: SHA-256 of the compressed shared point.
func ecdh(priv *btcec.PrivateKey, pub *btcec.PublicKey) [32]byte {
	var p, r btcec.JacobianPoint
	pub.AsJacobian(&p)
	btcec.ScalarMultNonConst(&priv.Key, &p, &r)
	r.ToAffine()
	return sha256.Sum256(btcec.NewPublicKey(&r.X, &r.Y).SerializeCompressed())
}

// stretchPhrase turns the phrase's entropy into the SPAKE2 password
// scalar. scrypt makes each guess of a phrase cost the attacker memory
// and time.
func stretchPhrase(entropy Entropy) (*btcec.ModNScalar, error) {
	key, err := scrypt.Key(entropy[:], entropy[:], scryptN, scryptR,
		scryptP, scryptKeyLen)
	if err != nil {
		return nil, fmt.Errorf("unable to stretch the pairing phrase: %w",
			err)
	}
	pw := new(btcec.ModNScalar)
	pw.SetByteSlice(key)
	return pw, nil
}

// maskPoint is SPAKE2's mask, e + pw*N, which hides the ephemeral key
// from anyone who does not know the phrase.
func maskPoint(e *btcec.PublicKey, pw *btcec.ModNScalar) (*btcec.PublicKey,
	error) {

	var n, kn, ej, sum btcec.JacobianPoint
	spakeGenerator().AsJacobian(&n)
	btcec.ScalarMultNonConst(pw, &n, &kn)
	e.AsJacobian(&ej)
	btcec.AddNonConst(&ej, &kn, &sum)

	// The point at infinity has no affine form: ToAffine leaves it at
	// (0, 0), which is not on the curve.
	sum.ToAffine()
	if sum.X.IsZero() && sum.Y.IsZero() {
		return nil, errors.New("lnc: masked key is the point at infinity")
	}
	return btcec.NewPublicKey(&sum.X, &sum.Y), nil
}

// readPoint reads a compressed point from the node.
func readPoint(r io.Reader) (*btcec.PublicKey, error) {
	var b [pubKeySize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	p, err := btcec.ParsePubKey(b[:])
	if err != nil {
		return nil, fmt.Errorf("lnc: the node sent a malformed key: %w",
			err)
	}
	return p, nil
}

// readVersion reads the version byte of act two and takes it on: the
// responder chooses, within what we support.
func (s *handshakeState) readVersion(r io.Reader) error {
	var v [1]byte
	if _, err := io.ReadFull(r, v[:]); err != nil {
		return err
	}
	if v[0] < s.minVersion || v[0] > s.maxVersion {
		return fmt.Errorf("lnc: the node answered with handshake "+
			"version %d, this client supports %d to %d", v[0],
			s.minVersion, s.maxVersion)
	}
	s.version = v[0]
	return nil
}

// readPayload reads act two's payload, in the layout of the agreed
// version, and returns the auth data it carries.
func (s *handshakeState) readPayload(r io.Reader) ([]byte, error) {
	if s.version == version0 {
		ct := make([]byte, v0PayloadSize+macSize)
		if _, err := io.ReadFull(r, ct); err != nil {
			return nil, err
		}
		p, err := s.decryptAndHash(ct)
		if err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint16(p[:2]))
		if n > v0PayloadSize-2 {
			return nil, fmt.Errorf("lnc: the node's auth data claims "+
				"%d bytes, more than the %d-byte payload", n,
				v0PayloadSize)
		}
		return p[2 : 2+n], nil
	}

	var hdr [4 + macSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	lenBytes, err := s.decryptAndHash(hdr[:])
	if err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lenBytes)
	if n > maxAuthData {
		return nil, fmt.Errorf("lnc: the node's auth data claims %d "+
			"bytes, more than the %d this client accepts", n,
			maxAuthData)
	}
	ct := make([]byte, int(n)+macSize)
	if _, err := io.ReadFull(r, ct); err != nil {
		return nil, err
	}
	return s.decryptAndHash(ct)
}

// split derives the two transport keys from the final chaining key: the
// first is the initiator's sending key. Both ratchet with the chaining
// key as their first salt.
func (s *handshakeState) split() (send, recv aead) {
	r := hkdf.New(sha256.New, nil, s.ck[:], nil)
	var k1, k2 [32]byte
	_, _ = io.ReadFull(r, k1[:])
	_, _ = io.ReadFull(r, k2[:])
	send.salt, recv.salt = s.ck, s.ck
	send.setKey(k1)
	recv.setKey(k2)
	return send, recv
}

// newEphemeral makes the handshake's ephemeral key.
func (s *handshakeState) newEphemeral() error {
	eph, err := btcec.NewPrivateKey()
	if err != nil {
		return fmt.Errorf("unable to make an ephemeral key: %w", err)
	}
	s.eph = eph
	return nil
}

// PairConfig is what a pairing (XX) handshake needs.
type PairConfig struct {
	// Entropy is the pairing phrase's.
	Entropy Entropy

	// Local is the client's long-term key.
	Local *btcec.PrivateKey

	// OnRemoteStatic is called with the node's key once act two has
	// authenticated it and before act three is sent, when the node
	// agrees to version 2 (its later connections use KK with these keys):
	// an error aborts the handshake before the node counts the phrase as
	// spent. It may be nil.
	OnRemoteStatic func(*btcec.PublicKey) error
}

// pairHandshake runs the XX pattern with the SPAKE2-masked ephemeral key
// as the initiator:
//
//	-> me
//	<- e, ee, s, es
//	-> s, se
//
// The phrase authenticates the node: without it, act two's ciphertexts
// do not open.
func pairHandshake(rw io.ReadWriter, cfg PairConfig) (*HandshakeResult,
	error) {

	pw, err := stretchPhrase(cfg.Entropy)
	if err != nil {
		return nil, err
	}
	return pairWithPassword(rw, cfg, pw)
}

// pairWithPassword is pairHandshake with the phrase already stretched.
func pairWithPassword(rw io.ReadWriter, cfg PairConfig,
	pw *btcec.ModNScalar) (*HandshakeResult, error) {

	s := newHandshakeState(xxName, cfg.Local, nil)
	s.minVersion, s.maxVersion = version0, version2
	s.version = s.minVersion

	// Act one: the masked ephemeral key. The transcript holds the
	// unmasked one, so a node that unmasks with another phrase fails
	// act two's authentication.
	if err := s.newEphemeral(); err != nil {
		return nil, err
	}
	me, err := maskPoint(s.eph.PubKey(), pw)
	if err != nil {
		return nil, err
	}
	act1 := []byte{s.version}
	s.mixHash(s.eph.PubKey().SerializeCompressed())
	act1 = append(act1, me.SerializeCompressed()...)
	act1 = append(act1, s.encryptAndHash(nil)...)
	if _, err := rw.Write(act1); err != nil {
		return nil, fmt.Errorf("unable to send act one: %w", err)
	}

	// Act two: e, ee, s, es and the auth data.
	if err := s.readVersion(rw); err != nil {
		return nil, err
	}
	if s.remoteEph, err = readPoint(rw); err != nil {
		return nil, err
	}
	s.mixHash(s.remoteEph.SerializeCompressed())
	s.mixKey(ecdh(s.eph, s.remoteEph))

	var sealedStatic [pubKeySize + macSize]byte
	if _, err := io.ReadFull(rw, sealedStatic[:]); err != nil {
		return nil, err
	}
	static, err := s.decryptAndHash(sealedStatic[:])
	if errors.Is(err, errDecrypt) {
		return nil, errWrongPhrase
	}
	if err != nil {
		return nil, err
	}
	if s.remote, err = btcec.ParsePubKey(static); err != nil {
		return nil, fmt.Errorf("lnc: the node's static key is "+
			"malformed: %w", err)
	}
	s.mixKey(ecdh(s.eph, s.remote))
	auth, err := s.readPayload(rw)
	if err != nil {
		return nil, err
	}

	if s.version >= version2 && cfg.OnRemoteStatic != nil {
		if err := cfg.OnRemoteStatic(s.remote); err != nil {
			return nil, err
		}
	}

	// Act three: our static key, se, and an empty payload.
	act3 := []byte{s.version}
	act3 = append(act3, s.encryptAndHash(
		s.local.PubKey().SerializeCompressed())...)
	s.mixKey(ecdh(s.local, s.remoteEph))
	act3 = append(act3, s.encryptAndHash(nil)...)
	if _, err := rw.Write(act3); err != nil {
		return nil, fmt.Errorf("unable to send act three: %w", err)
	}

	res := &HandshakeResult{RemoteStatic: s.remote, AuthData: auth,
		Version: s.version}
	res.send, res.recv = s.split()
	return res, nil
}

// resumeHandshake runs the KK pattern as the initiator, with both static
// keys known from the pairing:
//
//	-> s
//	<- s
//	...
//	-> e, es, ss
//	<- e, ee, se
func resumeHandshake(rw io.ReadWriter, local *btcec.PrivateKey,
	remote *btcec.PublicKey) (*HandshakeResult, error) {

	s := newHandshakeState(kkName, local, remote)
	s.minVersion, s.maxVersion = version2, version2
	s.version = version2

	// Act one: e, es, ss and an empty payload.
	if err := s.newEphemeral(); err != nil {
		return nil, err
	}
	act1 := []byte{s.version}
	eph := s.eph.PubKey().SerializeCompressed()
	s.mixHash(eph)
	act1 = append(act1, eph...)
	s.mixKey(ecdh(s.eph, s.remote))
	s.mixKey(ecdh(s.local, s.remote))
	act1 = append(act1, s.encryptAndHash(nil)...)
	if _, err := rw.Write(act1); err != nil {
		return nil, fmt.Errorf("unable to send act one: %w", err)
	}

	// Act two: e, ee, se and the auth data.
	if err := s.readVersion(rw); err != nil {
		return nil, err
	}
	var err error
	if s.remoteEph, err = readPoint(rw); err != nil {
		return nil, err
	}
	s.mixHash(s.remoteEph.SerializeCompressed())
	s.mixKey(ecdh(s.eph, s.remoteEph))
	s.mixKey(ecdh(s.local, s.remoteEph))
	auth, err := s.readPayload(rw)
	if errors.Is(err, errDecrypt) {
		return nil, errWrongKeys
	}
	if err != nil {
		return nil, err
	}

	res := &HandshakeResult{RemoteStatic: s.remote, AuthData: auth,
		Version: s.version}
	res.send, res.recv = s.split()
	return res, nil
}
