package l402

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestDeriveRootKeyVector pins the derivation byte for byte, so that
// every replica, and every later version, derives the keys of tokens
// already sold: HMAC-SHA256(secret, "l402 root key v1\x00" ||
// sha256(identifier)), computed here by Python's hmac module.
func TestDeriveRootKeyVector(t *testing.T) {
	secret := make([]byte, RootKeySecretSize)
	for i := range secret {
		secret[i] = byte(i)
	}
	var hash Hash
	var tok TokenID
	for i := range hash {
		hash[i], tok[i] = 0xaa, 0xbb
	}
	got, err := DeriveRootKey(secret, NewIdentifier(hash, tok))
	if err != nil {
		t.Fatal(err)
	}
	const want = "c2073947c80aa6aa46196da45b3c623b1394f4feb7eff0cbdd94abd083cb26f2"
	if hex.EncodeToString(got) != want {
		t.Fatalf("derived %x, want %s", got, want)
	}
	other, _ := DeriveRootKey(secret, NewIdentifier(hash, TokenID{1}))
	if bytes.Equal(other, got) {
		t.Fatal("two identifiers derive one root key")
	}
}

// TestDeriveRootKeyRefusesBadSecrets: a secret that is not exactly 32
// bytes (none read, or a damaged row) derives nothing, so that no token
// is ever minted under a key anyone could compute.
func TestDeriveRootKeyRefusesBadSecrets(t *testing.T) {
	id := NewIdentifier(Hash{1}, TokenID{2})
	for _, n := range []int{0, 16, 31, 33, 64} {
		if k, err := DeriveRootKey(make([]byte, n), id); err == nil {
			t.Errorf("a %d-byte secret derived %x", n, k)
		}
	}
	if _, err := DeriveRootKey(make([]byte, RootKeySecretSize),
		Identifier{Version: 1}); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("an unknown version: %v", err)
	}
}

// fallbackLookup gives a first root key and, counted, a fallback one
// (nil: the token is unknown to the fallback).
type fallbackLookup struct {
	first, fallback []byte
	fallbacks       int
}

// RootKey implements RootKeyLookup.
func (f *fallbackLookup) RootKey(Identifier) ([]byte, error) {
	return f.first, nil
}

// FallbackRootKey implements FallbackLookup.
func (f *fallbackLookup) FallbackRootKey(Identifier) ([]byte, error) {
	f.fallbacks++
	if f.fallback == nil {
		return nil, ErrUnknownToken
	}
	return f.fallback, nil
}

// TestVerifyFallsBackOnce: a token signed under the first root key needs
// no fallback; one signed under the fallback's key (a stored key from
// before derivation) verifies with one fallback lookup; one signed under
// neither, or unknown to the fallback, is refused as badly signed after
// at most one.
func TestVerifyFallsBackOnce(t *testing.T) {
	first := bytes.Repeat([]byte{1}, RootKeySize)
	stored := bytes.Repeat([]byte{2}, RootKeySize)
	forged := bytes.Repeat([]byte{3}, RootKeySize)
	preimage := Preimage{9}
	id := NewIdentifier(preimage.Hash(), TokenID{4})
	cases := []struct {
		name          string
		signedWith    []byte
		fallback      []byte
		wantErr       error
		wantFallbacks int
	}{
		{"derived", first, stored, nil, 0},
		{"stored", stored, stored, nil, 1},
		{"forged", forged, stored, ErrBadSignature, 1},
		{"forged, nothing stored", forged, nil, ErrBadSignature, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mac, err := Mint(c.signedWith, id)
			if err != nil {
				t.Fatal(err)
			}
			lookup := &fallbackLookup{first: first, fallback: c.fallback}
			_, _, err = verifySigned(mac, preimage, lookup)
			if c.wantErr == nil && err != nil ||
				c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("verify: %v, want %v", err, c.wantErr)
			}
			if lookup.fallbacks != c.wantFallbacks {
				t.Fatalf("%d fallback lookups, want %d", lookup.fallbacks,
					c.wantFallbacks)
			}
		})
	}
}

// TestMintDerived: the token is the one Mint makes under the derived
// key, signature and all, and a bad secret mints nothing.
func TestMintDerived(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, RootKeySecretSize)
	id := NewIdentifier(Hash{1}, TokenID{2})
	got, err := MintDerived(secret, id)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := DeriveRootKey(secret, id)
	want, _ := Mint(key, id)
	if !bytes.Equal(got.Signature(), want.Signature()) {
		t.Fatalf("signature %x, want %x", got.Signature(), want.Signature())
	}
	if m, err := MintDerived(secret[:31], id); err == nil {
		t.Fatalf("a 31-byte secret minted %v", m)
	}
}
