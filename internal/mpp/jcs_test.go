package mpp

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"testing"
)

// TestCanonicalJSONVectors checks CanonicalJSON against
// testdata/jcs.json: RFC 8785's own examples and the cases where JCS and
// encoding/json part.
func TestCanonicalJSONVectors(t *testing.T) {
	var v struct {
		Objects []struct {
			Name      string `json:"name"`
			Input     string `json:"input"`
			Canonical string `json:"canonical"`
			Error     bool   `json:"error"`
		} `json:"objects"`
		Numbers []struct {
			IEEE754 string `json:"ieee754"`
			JSON    string `json:"json"`
		} `json:"numbers"`
	}
	loadJSON(t, "jcs.json", &v)
	if len(v.Objects) < 10 || len(v.Numbers) < 20 {
		t.Fatalf("only %d objects, %d numbers", len(v.Objects),
			len(v.Numbers))
	}
	for _, c := range v.Objects {
		t.Run(c.Name, func(t *testing.T) {
			got, err := CanonicalJSON([]byte(c.Input))
			if c.Error {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.Canonical {
				t.Fatalf("got  %s\nwant %s", got, c.Canonical)
			}

			// The canonical form is a fixed point.
			again, err := CanonicalJSON(got)
			if err != nil || string(again) != c.Canonical {
				t.Fatalf("canonical form changes: %s, %v", again, err)
			}
		})
	}
	for _, n := range v.Numbers {
		t.Run("number "+n.IEEE754, func(t *testing.T) {
			b, err := hex.DecodeString(n.IEEE754)
			if err != nil {
				t.Fatal(err)
			}
			f := math.Float64frombits(binary.BigEndian.Uint64(b))
			in := "[" + strconv.FormatFloat(f, 'g', -1, 64) + "]"
			got, err := CanonicalJSON([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "["+n.JSON+"]" {
				t.Fatalf("%s: got %s, want [%s]", in, got, n.JSON)
			}
		})
	}
}

// TestCanonicalOfAStruct checks that Canonical undoes encoding/json's
// HTML escapes and sorts the struct's members.
func TestCanonicalOfAStruct(t *testing.T) {
	got, err := Canonical(ChargeRequest{Amount: "1", Currency: "sat",
		Description: "Q&A <b>", MethodDetails: ChargeDetails{
			Invoice: "lnbc1", PaymentHash: "ab", Network: "regtest"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"amount":"1","currency":"sat","description":"Q&A <b>",` +
		`"methodDetails":{"invoice":"lnbc1","network":"regtest",` +
		`"paymentHash":"ab"}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
