package lnc

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightninglabs/lightning-node-connect/gbn"
)

// FuzzParseMsg: no go-back-n message from the network makes parseMsg
// panic, and what it accepts frames back to the same bytes.
func FuzzParseMsg(f *testing.F) {
	f.Add(frameMsg([]byte("act two")))
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseMsg(b)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(b, frameMsg(p)) {
			t.Fatalf("parsed %x from %x", p, b)
		}
	})
}

// FuzzOpenFrame: no bytes from the network make the transport's frame
// reader panic or accept a frame it was not sent.
func FuzzOpenFrame(f *testing.F) {
	send, _ := testKeys()
	good, _ := sealFrame(&send, []byte("hello"))
	f.Add(good)
	f.Add(make([]byte, frameHeaderSize))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, recv := testKeys()
		p, err := openFrame(&recv, bytes.NewReader(b))
		if err == nil && !(bytes.HasPrefix(b, good) &&
			string(p) == "hello") {

			t.Fatalf("opened %q from %x", p, b)
		}
	})
}

// fuzzPW is a fixed SPAKE2 password, so that the fuzzer does not run
// scrypt for every input.
var fuzzPW = func() *btcec.ModNScalar {
	var k btcec.ModNScalar
	k.SetInt(12345)
	return &k
}()

// FuzzActTwo: no answer from a node makes either handshake panic, and
// none is accepted without the secrets: these bytes were made without
// them.
func FuzzActTwo(f *testing.F) {
	eph, _ := btcec.NewPrivateKey()
	pub := eph.PubKey().SerializeCompressed()
	for _, v := range []byte{0, 1, 2, 3} {
		f.Add(append(append([]byte{v}, pub...), make([]byte, 600)...))
	}
	f.Add([]byte{2, 2})
	local, _ := btcec.NewPrivateKey()
	remote, _ := btcec.NewPrivateKey()
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := pairWithPassword(&fakeNode{r: bytes.NewReader(b)},
			PairConfig{Local: local}, fuzzPW)
		if err == nil || res != nil {
			t.Fatal("paired with a node that knows no phrase")
		}
		res, err = resumeHandshake(&fakeNode{r: bytes.NewReader(b)},
			local, remote.PubKey())
		if err == nil || res != nil {
			t.Fatal("resumed with a node that has no key")
		}
	})
}

// FuzzParseAuthData: no auth data from a node makes parseAuthData panic,
// and every header it returns came from one line of it.
func FuzzParseAuthData(f *testing.F) {
	f.Add([]byte("Macaroon: 0201\r\nX-Other: 1"))
	f.Add([]byte(": \r\n\r\nnocolon"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, value := range parseAuthData(b) {
			if !bytes.Contains(b, []byte(name+": "+value)) {
				t.Fatalf("header %q: %q not in %q", name, value, b)
			}
		}
	})
}

// FuzzCheckPacket: no packet from the mailbox that checkPacket lets
// through makes the gbn module's parser or the chunk guard panic.
func FuzzCheckPacket(f *testing.F) {
	f.Add([]byte{gbn.DATA, 0, 1})
	f.Add([]byte{gbn.DATA, 0, 1, 0, 'x'})
	f.Add([]byte{gbn.SYN, gbnN})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkPacket(b) != nil {
			return
		}
		_, _ = gbn.Deserialize(b)
		g := chunkGuard{synced: true}
		if len(b) > 1 {
			g.expect = b[1]
		}
		_ = g.observe(b)
	})
}
