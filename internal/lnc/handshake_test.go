package lnc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightninglabs/lightning-node-connect/mailbox"
	"github.com/lightningnetwork/lnd/keychain"
)

// node is the upstream mailbox module's server side of a session, the
// oracle this client must interoperate with.
type node struct {
	key      *btcec.PrivateKey
	connData *mailbox.ConnData
}

// newNode returns a node side for entropy that sends auth in act two.
func newNode(t *testing.T, entropy Entropy, auth []byte) *node {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &node{key: key, connData: mailbox.NewConnData(
		&keychain.PrivKeyECDH{PrivKey: key}, nil, entropy[:], auth, nil,
		nil)}
}

// serve runs one handshake of the node on conn, with the pattern its
// connection data calls for (XX until it knows the client's key), and
// returns its machine on done.
func (n *node) serve(t *testing.T, conn net.Conn, maxVersion byte,
	done chan<- *mailbox.Machine, errc chan<- error) {

	m, err := mailbox.NewBrontideMachine(&mailbox.BrontideMachineConfig{
		ConnData:            n.connData,
		Initiator:           false,
		HandshakePattern:    n.connData.HandshakePattern(),
		MinHandshakeVersion: mailbox.MinHandshakeVersion,
		MaxHandshakeVersion: maxVersion,
	})
	if err != nil {
		errc <- err
		return
	}
	go func() {
		if err := m.DoHandshake(conn); err != nil {
			conn.Close()
			errc <- err
			return
		}
		done <- m
	}()
}

// newEntropy returns a random phrase's entropy.
func newEntropy(t *testing.T) Entropy {
	t.Helper()
	_, e, err := mailbox.NewPassphraseEntropy()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newKey returns a fresh private key.
func newKey(t *testing.T) *btcec.PrivateKey {
	t.Helper()
	k, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// exchange sends count messages each way between the client's Conn and
// the node's machine, enough to cross a key rotation when count > 1000.
func exchange(t *testing.T, c *Conn, m *mailbox.Machine, nodeSide net.Conn,
	count int) {

	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < count; i++ {
			msg := []byte(fmt.Sprintf("node %d", i))
			if err := m.WriteMessage(msg); err != nil {
				errc <- err
				return
			}
			if _, err := m.Flush(nodeSide); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < count; i++ {
		want := fmt.Sprintf("node %d", i)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil ||
			string(got) != want {

			t.Fatalf("message %d from the node: %q %v", i, got, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	go func() {
		for i := 0; i < count; i++ {
			if _, err := fmt.Fprintf(c, "client %d", i); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < count; i++ {
		got, err := m.ReadMessage(nodeSide)
		if err != nil || string(got) != fmt.Sprintf("client %d", i) {
			t.Fatalf("message %d from the client: %q %v", i, got, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestPairThenResumeWithMailboxNode: the client pairs (XX with the masked
// ephemeral) with the mailbox module's node side at every handshake
// version the node may choose, gets the auth data, learns the node's key
// before act three only at version 2, and talks across a key rotation in
// both directions; at version 2 it then resumes with KK.
func TestPairThenResumeWithMailboxNode(t *testing.T) {
	auth := []byte("Macaroon: 0201036c6e64")
	for _, version := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("version %d", version), func(t *testing.T) {
			entropy := newEntropy(t)
			n := newNode(t, entropy, auth)
			local := newKey(t)

			clientSide, nodeSide := net.Pipe()
			defer clientSide.Close()
			done := make(chan *mailbox.Machine, 1)
			errc := make(chan error, 1)
			n.serve(t, nodeSide, version, done, errc)

			var learned *btcec.PublicKey
			res, err := pairHandshake(clientSide, PairConfig{
				Entropy: entropy, Local: local,
				OnRemoteStatic: func(k *btcec.PublicKey) error {
					learned = k
					return nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			var m *mailbox.Machine
			select {
			case m = <-done:
			case err := <-errc:
				t.Fatalf("node: %v", err)
			}
			if res.Version != version ||
				!bytes.Equal(res.AuthData, auth) ||
				!res.RemoteStatic.IsEqual(n.key.PubKey()) {

				t.Fatalf("result: version %d, auth %q", res.Version,
					res.AuthData)
			}
			if (learned != nil) != (version == 2) {
				t.Fatalf("OnRemoteStatic called: %v", learned != nil)
			}
			exchange(t, newConn(clientSide, res), m, nodeSide, 1100)
			if version < 2 {
				return
			}

			// The node now knows the client's key: KK.
			if !n.connData.RemoteKey().IsEqual(local.PubKey()) {
				t.Fatal("the node did not keep the client's key")
			}
			clientSide, nodeSide = net.Pipe()
			defer clientSide.Close()
			n.serve(t, nodeSide, version, done, errc)
			res, err = resumeHandshake(clientSide, local, learned)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case m = <-done:
			case err := <-errc:
				t.Fatalf("node: %v", err)
			}
			if !bytes.Equal(res.AuthData, auth) {
				t.Fatalf("KK auth data %q", res.AuthData)
			}
			exchange(t, newConn(clientSide, res), m, nodeSide, 3)
		})
	}
}

// TestPairRefused: a wrong phrase is refused as such; a failing
// OnRemoteStatic stops before act three, so the node keeps no key and
// the phrase stays unspent; a resumption with keys the node does not
// know fails.
func TestPairRefused(t *testing.T) {
	// The node unmasks act one's key with its own phrase: the
	// transcripts differ, act one's tag fails, and the node hangs up.
	t.Run("wrong phrase", func(t *testing.T) {
		n := newNode(t, newEntropy(t), []byte("Macaroon: 00"))
		clientSide, nodeSide := net.Pipe()
		defer clientSide.Close()
		errc := make(chan error, 1)
		n.serve(t, nodeSide, 2, make(chan *mailbox.Machine, 1), errc)
		res, err := pairHandshake(clientSide, PairConfig{
			Entropy: newEntropy(t), Local: newKey(t)})
		if err == nil || res != nil {
			t.Fatal("paired with a wrong phrase")
		}
		if err := <-errc; err == nil {
			t.Fatal("the node accepted a wrong phrase")
		}
		if n.connData.RemoteKey() != nil {
			t.Fatal("the node kept a key from a wrong phrase")
		}
	})

	t.Run("save fails", func(t *testing.T) {
		entropy := newEntropy(t)
		n := newNode(t, entropy, nil)
		clientSide, nodeSide := net.Pipe()
		errc := make(chan error, 1)
		n.serve(t, nodeSide, 2, make(chan *mailbox.Machine, 1), errc)
		fail := errors.New("disk full")
		_, err := pairHandshake(clientSide, PairConfig{
			Entropy: entropy, Local: newKey(t),
			OnRemoteStatic: func(*btcec.PublicKey) error {
				return fail
			},
		})
		if !errors.Is(err, fail) {
			t.Fatalf("got %v, want the save's error", err)
		}
		clientSide.Close()
		if err := <-errc; err == nil {
			t.Fatal("the node completed a handshake without act three")
		}
		if n.connData.RemoteKey() != nil {
			t.Fatal("the node spent the phrase")
		}
	})

	t.Run("unknown keys", func(t *testing.T) {
		n := newNode(t, newEntropy(t), nil)
		if err := n.connData.SetRemote(newKey(t).PubKey()); err != nil {
			t.Fatal(err)
		}
		clientSide, nodeSide := net.Pipe()
		defer clientSide.Close()
		errc := make(chan error, 1)
		n.serve(t, nodeSide, 2, make(chan *mailbox.Machine, 1), errc)
		_, err := resumeHandshake(clientSide, newKey(t), n.key.PubKey())
		if err == nil {
			t.Fatal("resumed with keys the node does not know")
		}
		if err := <-errc; err == nil {
			t.Fatal("the node accepted unknown keys")
		}
	})
}

// TestReadVersionRefusesUnknown: a node answering with a version past 2
// is refused with the version named.
func TestReadVersionRefusesUnknown(t *testing.T) {
	s := &handshakeState{minVersion: version0, maxVersion: version2}
	err := s.readVersion(bytes.NewReader([]byte{3}))
	if err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("got %v", err)
	}
}
