package l402

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// vector is one entry of testdata/vectors.json: a token minted by
// gopkg.in/macaroon.v2 v2.1.0 that must reproduce byte for byte.
type vector struct {
	Name        string   `json:"name"`
	Preimage    string   `json:"preimage"`
	PaymentHash string   `json:"payment_hash"`
	TokenID     string   `json:"token_id"`
	RootKey     string   `json:"root_key"`
	Caveats     []string `json:"caveats"`
	Service     string   `json:"service"`
	Macaroon    string   `json:"macaroon_base64"`
}

// loadVectors reads the shared test vectors.
func loadVectors(t testing.TB) []vector {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

// mustHex32 decodes a 64-character hex string.
func mustHex32(t testing.TB, s string) [32]byte {
	t.Helper()
	p, err := ParsePreimage(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return p
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			preimage := Preimage(mustHex32(t, v.Preimage))
			hash := preimage.Hash()
			if hash.String() != v.PaymentHash {
				t.Fatalf("payment hash %s, want %s", hash, v.PaymentHash)
			}
			rootKey := mustHex32(t, v.RootKey)
			id := NewIdentifier(hash, TokenID(mustHex32(t, v.TokenID)))

			var caveats []Caveat
			for _, s := range v.Caveats {
				c, err := DecodeCaveat(s)
				if err != nil {
					t.Fatal(err)
				}
				caveats = append(caveats, c)
			}

			mac, err := Mint(rootKey[:], id, caveats...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := EncodeMacaroonBase64(mac)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Macaroon {
				t.Fatalf("macaroon\n got %s\nwant %s", got, v.Macaroon)
			}

			// The vector decodes and verifies as well.
			dec, err := DecodeMacaroonBase64(v.Macaroon)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := base64.StdEncoding.DecodeString(v.Macaroon)
			again, _ := dec.MarshalBinary()
			if !bytes.Equal(raw, again) {
				t.Fatal("decode and encode do not round-trip")
			}
			lookup := RootKeyFunc(func(Identifier) ([]byte, error) {
				return rootKey[:], nil
			})
			gotID, err := Verify(dec, preimage, lookup, Target{
				Service: v.Service, Now: time.Unix(1_700_000_000, 0),
			})
			if err != nil {
				t.Fatal(err)
			}
			if gotID != id {
				t.Fatalf("identifier %+v, want %+v", gotID, id)
			}
		})
	}
}
