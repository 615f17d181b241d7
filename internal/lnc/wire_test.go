package lnc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
)

// testKeys returns a sending and a receiving aead with the same key, as
// the two ends of one direction have.
func testKeys() (send, recv aead) {
	var k, salt [32]byte
	k[0], salt[0] = 1, 2
	send.salt, recv.salt = salt, salt
	send.setKey(k)
	recv.setKey(k)
	return send, recv
}

// TestFrameRoundTrip: frames of every size class open to what was sealed,
// across a key rotation; a flipped bit or a truncated frame is refused.
func TestFrameRoundTrip(t *testing.T) {
	send, recv := testKeys()
	var wire bytes.Buffer
	sizes := []int{0, 1, 100, maxFrame}
	for i := 0; i < 1200; i++ {
		sizes = append(sizes, i%7)
	}
	for _, n := range sizes {
		frame, err := sealFrame(&send, bytes.Repeat([]byte{byte(n)}, n))
		if err != nil {
			t.Fatal(err)
		}
		wire.Write(frame)
	}
	for i, n := range sizes {
		got, err := openFrame(&recv, &wire)
		if err != nil || !bytes.Equal(got,
			bytes.Repeat([]byte{byte(n)}, n)) {

			t.Fatalf("frame %d (%d bytes): %v", i, n, err)
		}
	}
	if _, err := sealFrame(&send, make([]byte, maxFrame+1)); err == nil {
		t.Fatal("sealed a frame past 65535 bytes")
	}

	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"header bit", func(b []byte) []byte { b[0] ^= 1; return b }},
		{"body bit", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"header only", func(b []byte) []byte {
			return b[:frameHeaderSize]
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			send, recv := testKeys()
			frame, _ := sealFrame(&send, []byte("macaroon"))
			_, err := openFrame(&recv, bytes.NewReader(tc.damage(frame)))
			if err == nil {
				t.Fatal("a damaged frame opened")
			}
		})
	}
}

// TestConnSplitsLargeWrites: a write past one frame's size arrives whole,
// in frames of at most 65535 bytes each sent as one message.
func TestConnSplitsLargeWrites(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s1, r1 := testKeys()
	s2, r2 := testKeys()
	client := &Conn{raw: a, send: s1, recv: r2}
	peer := &Conn{raw: b, send: s2, recv: r1}

	msg := make([]byte, 3*maxFrame+17)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	errc := make(chan error, 1)
	go func() {
		n, err := client.Write(msg)
		if err == nil && n != len(msg) {
			err = io.ErrShortWrite
		}
		errc <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("write: %v, equal %v", err, bytes.Equal(got, msg))
	}
}

// TestParseMsg: go-back-n messages frame and parse back; short, lying or
// foreign-version messages are refused.
func TestParseMsg(t *testing.T) {
	for _, p := range [][]byte{nil, {1}, bytes.Repeat([]byte{9}, 70000)} {
		got, err := parseMsg(frameMsg(p))
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%d bytes: %v", len(p), err)
		}
	}
	for name, b := range map[string][]byte{
		"empty":   {},
		"short":   {0, 0, 0},
		"version": {1, 0, 0, 0, 0},
		"lying":   {0, 0, 0, 0, 9, 1},
		"huge":    {0, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, err := parseMsg(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestPairRefusesUnauthenticatedAnswer: an act two whose sealed static
// key does not open under the transcript is the wrong phrase's; in KK, one
// whose payload does not open is the wrong keys'.
func TestPairRefusesUnauthenticatedAnswer(t *testing.T) {
	pw, err := stretchPhrase(Entropy{1})
	if err != nil {
		t.Fatal(err)
	}
	eph, _ := btcec.NewPrivateKey()
	answer := append([]byte{version2}, eph.PubKey().SerializeCompressed()...)
	answer = append(answer, make([]byte, pubKeySize+macSize)...)
	local, _ := btcec.NewPrivateKey()
	_, err = pairWithPassword(&fakeNode{r: bytes.NewReader(answer)},
		PairConfig{Local: local}, pw)
	if !errors.Is(err, errWrongPhrase) {
		t.Fatalf("got %v, want errWrongPhrase", err)
	}

	// KK's act two: e, then a sealed length that does not open.
	answer = append([]byte{version2}, eph.PubKey().SerializeCompressed()...)
	answer = append(answer, make([]byte, 4+macSize)...)
	remote, _ := btcec.NewPrivateKey()
	_, err = resumeHandshake(&fakeNode{r: bytes.NewReader(answer)}, local,
		remote.PubKey())
	if !errors.Is(err, errWrongKeys) {
		t.Fatalf("got %v, want errWrongKeys", err)
	}
}

// fakeNode answers a handshake with fixed bytes and swallows what the
// client sends.
type fakeNode struct {
	r io.Reader
}

// Read implements io.Reader.
func (f *fakeNode) Read(b []byte) (int, error) { return f.r.Read(b) }

// Write implements io.Writer.
func (f *fakeNode) Write(b []byte) (int, error) { return len(b), nil }

// TestParseAuthData: the macaroon line and others become headers; lines
// without a name and a value are skipped.
func TestParseAuthData(t *testing.T) {
	got := parseAuthData([]byte("Macaroon: 0201ab\r\nbroken\r\n: x\r\n" +
		"Other: a: b"))
	if len(got) != 2 || got["Macaroon"] != "0201ab" ||
		got["Other"] != "a: b" {

		t.Fatalf("got %q", got)
	}
}
