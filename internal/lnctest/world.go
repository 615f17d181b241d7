package lnctest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// World is a whole LNC setup for unit tests: a mailbox relay served over
// TLS and HTTP/2 on 127.0.0.1, a FakeLnd, and a Bridge in front of the
// fake through the relay.
type World struct {
	// RelayAddr is the relay's host:port; clients reach it with
	// devserver (its certificate is the test server's own).
	RelayAddr string

	Fake   *FakeLnd
	Bridge *Bridge

	// StopRelay stops the relay before the test ends; it is also
	// called when the test ends.
	StopRelay func()
}

// StartWorld serves relay (a hashmail.Server's Handler, whose Close is
// closeRelay) and puts a bridge in front of a FakeLnd answering GetInfo
// with alias and network. Everything stops when the test ends.
func StartWorld(t testing.TB, relay http.Handler, closeRelay func(),
	alias, network string) *World {

	t.Helper()
	ts := httptest.NewUnstartedServer(relay)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			closeRelay()
			ts.Close()
		})
	}
	t.Cleanup(stop)

	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	fake := StartFakeLnd(t, alias, network)
	bridge, err := Start(Config{
		MailboxAddr:  ts.Listener.Addr().String(),
		MailboxTLS:   &tls.Config{RootCAs: pool},
		LndHost:      fake.Host,
		LndCertPath:  fake.CertPath,
		MacaroonPath: fake.MacaroonPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bridge.Close)
	return &World{RelayAddr: ts.Listener.Addr().String(), Fake: fake,
		Bridge: bridge, StopRelay: stop}
}
