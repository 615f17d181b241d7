package lnddetect

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProber answers Probe with a fixed answer and records the call.
type fakeProber struct {
	info NodeInfo
	err  error

	host, cert, macaroon string
}

// Probe implements Prober.
func (f *fakeProber) Probe(_ context.Context, host, cert,
	macaroon string) (NodeInfo, error) {

	f.host, f.cert, f.macaroon = host, cert, macaroon
	return f.info, f.err
}

// TestVerifyNetwork checks GetInfo's chain and network against the
// network l402 was told.
func TestVerifyNetwork(t *testing.T) {
	cases := []struct {
		want  string
		info  NodeInfo
		ok    bool
		words string
	}{
		{"regtest", NodeInfo{Chain: "bitcoin", Network: "regtest"}, true,
			""},
		{"testnet3", NodeInfo{Chain: "bitcoin", Network: "testnet"},
			true, ""},
		{"mainnet", NodeInfo{Network: "mainnet"}, true, ""},
		{"mainnet", NodeInfo{Chain: "bitcoin", Network: "regtest"},
			false, "lnd runs on regtest, not mainnet: pass --network " +
				"regtest"},
		{"testnet", NodeInfo{Chain: "bitcoin", Network: "testnet4"},
			false, "--network testnet4"},
		{"mainnet", NodeInfo{Chain: "litecoin", Network: "mainnet"},
			false, "bitcoin only"},
		{"moon", NodeInfo{Chain: "bitcoin", Network: "mainnet"}, false,
			"unknown network"},
	}
	for _, c := range cases {
		err := VerifyNetwork(c.want, c.info)
		if (err == nil) != c.ok ||
			(err != nil && !strings.Contains(err.Error(), c.words)) {

			t.Errorf("VerifyNetwork(%s, %+v) = %v", c.want, c.info,
				err)
		}
	}
}

// TestVerify checks the verify step with a fake prober.
func TestVerify(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.lnd(dir, "regtest")
	r := mustFind(t, tr.opts())
	ctx := context.Background()

	p := &fakeProber{info: NodeInfo{Alias: "bob", Pubkey: "02ab",
		Chain: "bitcoin", Network: "regtest", SyncedToChain: true}}
	info, err := Verify(ctx, p, r, "")
	if err != nil || info.Alias != "bob" {
		t.Fatalf("Verify: %+v, %v", info, err)
	}
	if p.host != "localhost:10009" ||
		p.cert != filepath.Join(dir, "tls.cert") ||
		filepath.Base(p.macaroon) != "readonly.macaroon" {

		t.Errorf("probed %s %s %s", p.host, p.cert, p.macaroon)
	}
	if s := info.String(); !strings.Contains(s, "bob (02ab) on bitcoin "+
		"regtest, synced to chain") {

		t.Errorf("String: %q", s)
	}

	p.info.Network = "mainnet"
	_, err = Verify(ctx, p, r, "admin")
	ve, ok := errorAs[*VerifyError](err)
	if !ok || ve.Cause != CauseWrongNetwork ||
		filepath.Base(p.macaroon) != "admin.macaroon" {

		t.Errorf("wrong network: %v", err)
	}

	p.err = unknown("wallet locked, unlock it to enable full RPC access")
	_, err = Verify(ctx, p, r, "")
	if ve, ok := errorAs[*VerifyError](err); !ok ||
		ve.Cause != CauseWalletLocked ||
		!strings.Contains(err.Error(), "lncli unlock") {

		t.Errorf("locked: %v", err)
	}
}

// TestVerifyFiles checks that Verify reports unusable files before any
// call.
func TestVerifyFiles(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.macaroons(filepath.Join(dir, "data", "chain", "bitcoin", "regtest"),
		"invoice")
	r := mustFind(t, tr.opts())
	p := &fakeProber{}

	_, err := Verify(context.Background(), p, r, "")
	if ve, ok := errorAs[*VerifyError](err); !ok ||
		ve.Cause != CauseFileMissing ||
		!strings.Contains(err.Error(), "tls.cert does not exist") {

		t.Errorf("no cert: %v", err)
	}

	tr.write(filepath.Join(dir, "tls.cert"), testCert)
	r = mustFind(t, tr.opts())
	_, err = Verify(context.Background(), p, r, "")
	if !errors.Is(err, ErrMissing) ||
		!strings.Contains(err.Error(), "admin.macaroon does not exist") {

		t.Errorf("no admin or readonly: %v", err)
	}
	if p.host != "" {
		t.Error("probed without usable files")
	}
}
