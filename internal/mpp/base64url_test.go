package mpp

import (
	"encoding/hex"
	"testing"
)

// TestBase64URLVectors checks Decode and Encode against
// testdata/base64url.json: what is read, what is refused, and that what
// is written has no padding.
func TestBase64URLVectors(t *testing.T) {
	var v struct {
		Cases []struct {
			Name    string `json:"name"`
			Encoded string `json:"encoded"`
			Hex     string `json:"hex"`
			Padded  bool   `json:"padded"`
			Error   bool   `json:"error"`
		} `json:"cases"`
	}
	loadJSON(t, "base64url.json", &v)
	if len(v.Cases) < 10 {
		t.Fatalf("only %d cases", len(v.Cases))
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Decode(c.Encoded)
			if c.Error {
				if err == nil {
					t.Fatalf("decoded %x, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != c.Hex {
				t.Fatalf("decoded %x, want %s", got, c.Hex)
			}
			if !c.Padded && Encode(got) != c.Encoded {
				t.Fatalf("encoded %q, want %q", Encode(got), c.Encoded)
			}
		})
	}
}
