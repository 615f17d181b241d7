package regtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// ServeYAML returns a serve.yaml that sells one service, name at path
// prefix /name, forwarding to backend (host:port) for price sats, with
// invoices from the node's lnd through its invoice macaroon. It listens on
// a free 127.0.0.1 port, without TLS.
func (n *Node) ServeYAML(name, backend string, price int64) string {
	return fmt.Sprintf(`listenaddr: "127.0.0.1:0"
insecure: true
authenticator:
  network: %s
  lndhost: %q
  tlspath: %q
  macdir: %q
services:
  - name: %s
    hostregexp: ".*"
    pathregexp: "^/%s"
    address: %q
    protocol: http
    price: %d
`, Network, n.RPCHost, n.TLSCertPath, n.MacaroonDir, name, name, backend,
		price)
}

// FetchYAML returns a fetch.yaml that pays through the node's lnd, with
// extra lines (such as "maxcost: 100\n") appended.
func (n *Node) FetchYAML(extra string) string {
	return fmt.Sprintf("lnd:\n  host: %s\n  tlscertpath: %s\n"+
		"  macaroonpath: %s\n", n.RPCHost, n.TLSCertPath,
		n.AdminMacaroonPath) + extra
}

// listeningRe finds the address in l402 serve's start-up line.
var listeningRe = regexp.MustCompile(`listening on https?://(\S+),`)

// WaitServeListening reads l402 serve's stderr, handing each line to echo,
// and returns the address once serve says it listens. It keeps reading
// (and echoing) after that, until the stream ends.
func WaitServeListening(stderr io.Reader, echo func(string),
	timeout time.Duration) (string, error) {

	found := make(chan string, 1)
	go func() {
		defer close(found)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			echo(sc.Text())
			if m := listeningRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			return "", errors.New("l402 serve exited before listening")
		}
		return addr, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("l402 serve did not listen within %s",
			timeout)
	}
}
