package lnc

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
)

const (
	// maxFrame is the largest plaintext one transport frame carries: its
	// length travels in 16 bits.
	maxFrame = math.MaxUint16

	// frameHeaderSize is the sealed length: two bytes and their tag.
	frameHeaderSize = 2 + macSize
)

// sealFrame encrypts one frame: the sealed length, then the sealed body.
// Each is its own AEAD message with no associated data, so each advances
// the nonce.
func sealFrame(a *aead, plain []byte) ([]byte, error) {
	if len(plain) > maxFrame {
		return nil, errors.New("lnc: frame larger than 65535 bytes")
	}
	var length [2]byte
	binary.BigEndian.PutUint16(length[:], uint16(len(plain)))
	out := make([]byte, 0, frameHeaderSize+len(plain)+macSize)
	out = a.seal(out, nil, length[:])
	return a.seal(out, nil, plain), nil
}

// openFrame reads and decrypts one frame from r.
func openFrame(a *aead, r io.Reader) ([]byte, error) {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	length, err := a.open(nil, hdr[:])
	if err != nil {
		return nil, err
	}
	body := make([]byte, int(binary.BigEndian.Uint16(length))+macSize)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return a.open(nil, body)
}

// Conn is an LNC connection after the handshake: Noise transport frames
// over the mailbox stream. gRPC reads and writes it as a byte stream.
type Conn struct {
	raw    net.Conn
	remote *btcec.PublicKey

	readMu  sync.Mutex
	recv    aead
	pending []byte
	readErr error

	writeMu  sync.Mutex
	send     aead
	writeErr error
}

// newConn wraps raw with the keys of a completed handshake.
func newConn(raw net.Conn, res *HandshakeResult) *Conn {
	return &Conn{raw: raw, remote: res.RemoteStatic, recv: res.recv,
		send: res.send}
}

// Read implements net.Conn. After a frame fails to authenticate, every
// read fails: the stream can no longer be trusted.
func (c *Conn) Read(b []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()

	for len(c.pending) == 0 {
		if c.readErr != nil {
			return 0, c.readErr
		}
		c.pending, c.readErr = openFrame(&c.recv, c.raw)
	}
	n := copy(b, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// Write implements net.Conn: b is split into frames of at most 65535
// bytes, each written as one mailbox message. After a failed write the
// nonces are out of step with the node's, so every later write fails.
func (c *Conn) Write(b []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()

	written := 0
	for written < len(b) && c.writeErr == nil {
		chunk := b[written:min(len(b), written+maxFrame)]
		var frame []byte
		frame, c.writeErr = sealFrame(&c.send, chunk)
		if c.writeErr != nil {
			break
		}
		if _, c.writeErr = c.raw.Write(frame); c.writeErr != nil {
			break
		}
		written += len(chunk)
	}
	return written, c.writeErr
}

// Close implements net.Conn.
func (c *Conn) Close() error { return c.raw.Close() }

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.raw.SetReadDeadline(t)
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.raw.SetWriteDeadline(t)
}

// RemoteStatic returns the node's long-term key.
func (c *Conn) RemoteStatic() *btcec.PublicKey { return c.remote }
