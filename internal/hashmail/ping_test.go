package hashmail

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lightninglabs/lightning-node-connect/hashmailrpc"
)

// TestReceiveSocketIsPinged: with PingInterval set, the relay pings a
// receiving websocket, and closes it when no pong comes back within
// PongWait (Aperture's wspinginterval and wspongwait): the stream loses
// its reader. The client here speaks raw websocket frames and never
// answers.
func TestReceiveSocketIsPinged(t *testing.T) {
	r := startRelay(t, Config{PingInterval: 50 * time.Millisecond,
		PongWait: 20 * time.Millisecond})
	ctx := testCtx(t)
	id := newID(t)
	if _, err := r.srv.NewCipherBox(ctx, srvAuth(id)); err != nil {
		t.Fatal(err)
	}

	tc := r.tlsConfig()
	tc.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", r.addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Only a bound on a hung test; nothing is timed.
	conn.SetDeadline(time.Now().Add(20 * time.Second))

	fmt.Fprintf(conn, "GET %s?method=POST HTTP/1.1\r\nHost: relay\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Sec-WebSocket-Version: 13\r\n\r\n", ReceivePath)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	desc, _ := wsMarshal.Marshal(&hashmailrpc.CipherBoxDesc{StreamId: id})
	if _, err := conn.Write(maskedFrame(0x1, desc)); err != nil {
		t.Fatal(err)
	}

	// A ping, then the end: a close frame, or the connection dropped
	// (the websocket library drops it when a pong is late).
	var ops []byte
	for {
		op, err := readFrame(br)
		if errors.Is(err, io.EOF) || op == 0x8 {
			break
		}
		if err != nil {
			t.Fatalf("frames %x, then %v: want a ping, then the end",
				ops, err)
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 || ops[0] != 0x9 {
		t.Fatalf("frames %x: want a ping first", ops)
	}
	waitFor(t, func() bool { return !r.reading(id) })
}

// maskedFrame is one final client frame of opcode op, masked as a client
// must.
func maskedFrame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	default:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	f = append(f, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	return f
}

// readFrame reads one server frame (unmasked) and returns its opcode.
func readFrame(r *bufio.Reader) (byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return 0, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return 0, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return 0, err
	}
	return h[0] & 0x0f, nil
}
