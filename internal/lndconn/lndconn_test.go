package lndconn

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lnctest"
	"github.com/l402/l402/internal/lnddetect"
	"gopkg.in/macaroon.v2"
)

// isolated returns options with an empty home and environment, so that
// no lnd of the machine's is found.
func isolated(t *testing.T) Options {
	t.Helper()
	return Options{Home: t.TempDir(),
		Getenv: func(string) string { return "" }}
}

// lndDir makes an lnd directory whose fake tls.cert is the one given and
// whose networks each hold an admin.macaroon.
func lndDir(t *testing.T, cert string, networks ...string) string {
	t.Helper()
	dir := t.TempDir()
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.cert"), pem,
		0o600); err != nil {
		t.Fatal(err)
	}
	m, err := macaroon.New(make([]byte, 32), []byte("id"), "lnd",
		macaroon.V2)
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := m.MarshalBinary()
	for _, n := range networks {
		macDir := filepath.Join(dir, "data", "chain", "bitcoin", n)
		if err := os.MkdirAll(macDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(macDir, "admin.macaroon"), mac,
			0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOptions(t *testing.T) {
	o := Options{Network: "testnet3"}
	if err := o.Check(); err != nil || o.Network != "testnet" {
		t.Fatalf("Check: %v %q", err, o.Network)
	}
	o.Network = "moonnet"
	if err := o.Check(); err == nil ||
		!strings.HasPrefix(err.Error(), "--network: ") {
		t.Fatalf("Check moonnet: %v", err)
	}

	o = Options{Network: "regtest", Macaroon: "/m/admin.macaroon"}
	if o.Located() {
		t.Error("--network and --macaroon say where lnd is")
	}
	if d := o.detect(); d.MacaroonDir != "/m" {
		t.Errorf("--macaroon's directory: %+v", d)
	}
	o.Host = "h:1"
	if !o.Located() || !reflect.DeepEqual(o.Given(),
		[]string{"network", "lnd-host", "macaroon"}) {
		t.Errorf("Located %v, Given %v", o.Located(), o.Given())
	}
	o.LndDir = "/lnd"
	if d := o.detect(); d.MacaroonDir != "" {
		t.Errorf("--lnddir: the macaroon's directory is used: %+v", d)
	}
}

// TestFindHooks: Find asks the hooks for the network and lnd's directory
// when it cannot tell, and falls back to a config's lnd only when no flag
// said where lnd is.
func TestFindHooks(t *testing.T) {
	f := lnctest.StartFakeLnd(t, "bob", "regtest")
	dir := lndDir(t, f.CertPath, "regtest", "testnet")

	o := isolated(t)
	o.LndDir = dir
	_, err := Find(o, Hooks{})
	if fault.Code(err) != "ambiguous_network" {
		t.Fatalf("no hook: %v", err)
	}
	var asked []string
	res, err := Find(o, Hooks{Network: func(n []string) (string, error) {
		asked = slices.Sorted(slices.Values(n))
		return "regtest", nil
	}})
	if err != nil || res.Network != "regtest" ||
		!reflect.DeepEqual(asked, []string{"regtest", "testnet"}) {
		t.Fatalf("network hook: %+v %v (asked %v)", res, err, asked)
	}

	o = isolated(t)
	o.Network = "regtest"
	res, err = Find(o, Hooks{LndDir: func() (string, error) {
		return dir, nil
	}})
	if err != nil || res.LndDir != dir {
		t.Fatalf("lnddir hook: %+v %v", res, err)
	}
	_, err = Find(o, Hooks{LndDir: func() (string, error) {
		return "", errors.New("no answer")
	}})
	if fault.Code(err) != "lnd_not_found" ||
		!strings.Contains(err.Error(), "no answer") {
		t.Fatalf("lnddir hook fails: %v", err)
	}

	// The fallback: its network yields to --network, its path is the
	// source; a flag that says where lnd is turns it off.
	cfgDir := t.TempDir()
	fallback := func() (lnddetect.Options, string) {
		return lnddetect.Options{Network: "testnet", LndHost: f.Host,
			TLSCertPath: f.CertPath, MacaroonDir: cfgDir}, "serve.yaml"
	}
	res, err = Find(o, Hooks{Fallback: fallback})
	if err != nil || res.Source != "serve.yaml" || res.RPCHost != f.Host ||
		res.Network != "regtest" {
		t.Fatalf("fallback: %+v %v", res, err)
	}
	o.Host = f.Host
	if _, err = Find(o, Hooks{Fallback: fallback}); fault.Code(err) !=
		"lnd_not_found" {
		t.Fatalf("fallback with --lnd-host: %v", err)
	}
	o.Host = ""
	_, err = Find(o, Hooks{Fallback: func() (lnddetect.Options, string) {
		return lnddetect.Options{LndDir: filepath.Join(cfgDir, "nope")},
			"fetch.yaml"
	}})
	if err == nil || !strings.Contains(err.Error(), "the lnd of fetch.yaml") {
		t.Fatalf("bad fallback: %v", err)
	}
}

// TestDial: Dial calls GetInfo with the chosen macaroon and checks the
// network; each failure is a Problem with its cause.
func TestDial(t *testing.T) {
	ctx := context.Background()
	f := lnctest.StartFakeLnd(t, "bob", "regtest")
	res := &lnddetect.Result{RPCHost: f.Host, TLSCertPath: f.CertPath,
		Network: "regtest", MacaroonDir: t.TempDir()}

	node, err := Dial(ctx, res, Macaroon{File: f.MacaroonPath})
	if err != nil || node.Info.Alias != "bob" ||
		node.Info.Network != "regtest" ||
		node.MacaroonPath != f.MacaroonPath {
		t.Fatalf("Dial: %+v %v", node, err)
	}
	if _, err := node.Lnd.Info(ctx); err != nil {
		t.Fatalf("the connection is not kept: %v", err)
	}
	node.Close()

	wrong := *res
	wrong.Network = "mainnet"
	_, err = Dial(ctx, &wrong, Macaroon{File: f.MacaroonPath})
	if fault.Code(err) != "wrong_network" {
		t.Fatalf("wrong network: %v", err)
	}

	// None of the names is usable: the first one's error, with the
	// hint; a file that cannot be read: no hint.
	_, err = Dial(ctx, res, Macaroon{Names: []string{"admin", "readonly"},
		Hint: "or pass --macaroon"})
	if fault.Code(err) != "file_missing" ||
		!strings.Contains(err.Error(), "admin.macaroon") ||
		!strings.HasSuffix(err.Error(), "; or pass --macaroon") {
		t.Fatalf("no usable name: %v", err)
	}
	_, err = Dial(ctx, res, Macaroon{File: filepath.Join(t.TempDir(),
		"nope"), Hint: "or pass --macaroon"})
	if fault.Code(err) != "file_missing" ||
		strings.Contains(err.Error(), "; or pass") {
		t.Fatalf("unreadable file: %v", err)
	}

	// Nothing listens: lnd_unreachable, naming the host.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := *res
	gone.RPCHost = ln.Addr().String()
	ln.Close()
	_, err = Dial(ctx, &gone, Macaroon{File: f.MacaroonPath})
	var p *lnddetect.Problem
	if !errors.As(err, &p) || p.Cause != lnddetect.CauseUnreachable ||
		!strings.Contains(err.Error(), gone.RPCHost) {
		t.Fatalf("unreachable: %v", err)
	}
}

// TestNodeError: a failed call keeps its message and gets lnd's cause
// when there is one.
func TestNodeError(t *testing.T) {
	plain := errors.New("lnd baked a macaroon l402 cannot read")
	if NodeError(plain) != plain {
		t.Error("an unknown cause was wrapped")
	}
	err := NodeError(errors.New("rpc error: permission denied"))
	if fault.Code(err) != "macaroon_permission" ||
		err.Error() != "rpc error: permission denied" {
		t.Errorf("permission: %v", err)
	}
}
