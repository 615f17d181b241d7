package l402

import (
	"bytes"
	"errors"
	"testing"
)

func TestIdentifierRoundTrip(t *testing.T) {
	var hash Hash
	var tid TokenID
	for i := range hash {
		hash[i] = byte(i)
		tid[i] = byte(255 - i)
	}
	id := NewIdentifier(hash, tid)
	b, err := id.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != IdentifierSize || IdentifierSize != 66 {
		t.Fatalf("encoded %d bytes, want 66", len(b))
	}
	if b[0] != 0 || b[1] != 0 || !bytes.Equal(b[2:34], hash[:]) ||
		!bytes.Equal(b[34:], tid[:]) {
		t.Fatalf("unexpected layout %x", b)
	}
	got, err := DecodeIdentifier(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != id {
		t.Fatalf("got %+v, want %+v", got, id)
	}
}

func TestDecodeIdentifierRejects(t *testing.T) {
	good, _ := NewIdentifier(Hash{1}, TokenID{2}).Encode()
	v1 := append([]byte{}, good...)
	v1[1] = 1

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrIdentifierSize},
		{"one byte", []byte{0}, ErrIdentifierSize},
		{"short", good[:65], ErrIdentifierSize},
		{"long", append(append([]byte{}, good...), 0), ErrIdentifierSize},
		{"version 1", v1, ErrUnknownVersion},
		{"version 0xffff", append([]byte{0xff, 0xff}, good[2:]...),
			ErrUnknownVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeIdentifier(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	if _, err := (Identifier{Version: 7}).Encode(); !errors.Is(err,
		ErrUnknownVersion) {
		t.Fatalf("encode of version 7: got %v", err)
	}
}

func TestParsePreimage(t *testing.T) {
	p := Preimage{0xab}
	got, err := ParsePreimage(p.String())
	if err != nil || got != p {
		t.Fatalf("round trip: %v %x", err, got)
	}
	for _, bad := range []string{"", "ab", p.String() + "00",
		"zz" + p.String()[2:]} {
		if _, err := ParsePreimage(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
