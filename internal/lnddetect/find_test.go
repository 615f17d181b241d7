package lnddetect

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestFindDefault finds a plain ~/.lnd on regtest with lnd's defaults.
func TestFindDefault(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.lnd(dir, "regtest")

	r := mustFind(t, tr.opts())
	macDir := filepath.Join(dir, "data", "chain", "bitcoin", "regtest")
	want := Result{
		LndDir:      dir,
		Network:     "regtest",
		RPCHost:     "localhost:10009",
		TLSCertPath: filepath.Join(dir, "tls.cert"),
		MacaroonDir: macDir,
		Source:      "~/.lnd",
	}
	got := *r
	got.Macaroons, got.Notes = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for _, name := range []string{"admin", "invoice", "readonly"} {
		path, err := r.Macaroon(name)
		if err != nil || path != filepath.Join(macDir, name+".macaroon") {
			t.Errorf("Macaroon(%s) = %q, %v", name, path, err)
		}
	}
	if _, err := r.TLSCert(); err != nil {
		t.Errorf("TLSCert: %v", err)
	}
}

// TestFindOrder checks that --lnddir beats $LND_DIR, which beats ~/.lnd,
// and that the others are noted.
func TestFindOrder(t *testing.T) {
	tr := newTree(t)
	flagDir, envDir, home := tr.path("flag"), tr.path("env"),
		tr.path(".lnd")
	for _, d := range []string{flagDir, envDir, home} {
		tr.lnd(d, "regtest")
	}
	tr.env["LND_DIR"] = envDir

	opts := tr.opts()
	opts.LndDir = flagDir
	if r := mustFind(t, opts); r.LndDir != flagDir ||
		r.Source != "--lnddir" {

		t.Errorf("with --lnddir: %s from %s", r.LndDir, r.Source)
	}

	r := mustFind(t, tr.opts())
	if r.LndDir != envDir || r.Source != "$LND_DIR" {
		t.Errorf("with $LND_DIR: %s from %s", r.LndDir, r.Source)
	}
	if !hasNote(r, "also found lnd at "+home) {
		t.Errorf("~/.lnd not noted: %q", r.Notes)
	}

	delete(tr.env, "LND_DIR")
	if r := mustFind(t, tr.opts()); r.LndDir != home {
		t.Errorf("without flags: %s", r.LndDir)
	}
}

// TestFindLndDirFlag checks "~" expansion and the errors for a bad
// --lnddir, which never falls back to another directory.
func TestFindLndDirFlag(t *testing.T) {
	tr := newTree(t)
	tr.lnd(tr.path(".lnd"), "regtest")
	tr.lnd(tr.path("node"), "regtest")

	opts := tr.opts()
	opts.LndDir = "~/node"
	if r := mustFind(t, opts); r.LndDir != tr.path("node") {
		t.Errorf("~/node is %s", r.LndDir)
	}

	opts.LndDir = tr.path("nope")
	_, err := Find(opts)
	if err == nil || !strings.Contains(err.Error(), "--lnddir") ||
		!strings.Contains(err.Error(), "does not exist") {

		t.Errorf("missing --lnddir: %v", err)
	}

	opts.LndDir = tr.path(".lnd", "tls.cert")
	if _, err := Find(opts); err == nil ||
		!strings.Contains(err.Error(), "not a directory") {

		t.Errorf("file as --lnddir: %v", err)
	}
}

// TestFindStaleEnv checks that a $LND_DIR that is gone is noted and
// skipped.
func TestFindStaleEnv(t *testing.T) {
	tr := newTree(t)
	tr.lnd(tr.path(".lnd"), "mainnet")
	tr.env["LND_DIR"] = tr.path("gone")

	r := mustFind(t, tr.opts())
	if r.Source != "~/.lnd" || !hasNote(r, "$LND_DIR") {
		t.Errorf("source %s, notes %q", r.Source, r.Notes)
	}
}

// TestFindPlatformDirs checks macOS's and Windows' default directories,
// which are searched only on those systems.
func TestFindPlatformDirs(t *testing.T) {
	tr := newTree(t)
	mac := tr.path("Library", "Application Support", "Lnd")
	tr.lnd(mac, "mainnet")
	win := filepath.Join(tr.root, "AppData", "Local", "Lnd")
	tr.lnd(win, "testnet")
	tr.env["LOCALAPPDATA"] = filepath.Join(tr.root, "AppData", "Local")

	opts := tr.opts()
	if _, err := Find(opts); !isNotFound(err) {
		t.Errorf("linux found %v", err)
	}

	opts.GOOS = "darwin"
	r := mustFind(t, opts)
	if r.LndDir != mac || r.Source != "~/Library/Application Support/Lnd" {
		t.Errorf("darwin: %s from %s", r.LndDir, r.Source)
	}

	opts.GOOS = "windows"
	r = mustFind(t, opts)
	if r.LndDir != win || r.Network != "testnet" {
		t.Errorf("windows: %s on %s", r.LndDir, r.Network)
	}
}

// isNotFound says whether err is a *NotFoundError.
func isNotFound(err error) bool {
	_, ok := errorAs[*NotFoundError](err)
	return ok
}

// TestFindNotFound checks the error when there is no lnd, and that it
// names where Find looked and which flags to pass.
func TestFindNotFound(t *testing.T) {
	tr := newTree(t)
	tr.mkdir(tr.path(".lnd")) // Empty: not lnd's.

	_, err := Find(tr.opts())
	nf, ok := errorAs[*NotFoundError](err)
	if !ok {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{tr.path(".lnd"),
		tr.sys("/mnt/hdd/mynode/lnd"), "--lnddir", "--lnd-host"} {

		if !strings.Contains(nf.Error(), want) {
			t.Errorf("%q lacks %q", nf.Error(), want)
		}
	}
}

// TestFindSkipsEmptyDir checks that a directory that is not lnd's does not
// hide one that is.
func TestFindSkipsEmptyDir(t *testing.T) {
	tr := newTree(t)
	tr.mkdir(tr.path(".lnd"))
	umbrel := tr.sys("/home/umbrel/umbrel/app-data/lightning/data/lnd")
	tr.lnd(umbrel, "mainnet")

	r := mustFind(t, tr.opts())
	if r.LndDir != umbrel || r.Source != "Umbrel" {
		t.Errorf("got %s from %s", r.LndDir, r.Source)
	}
	if !hasNote(r, "holds no tls.cert, lnd.conf or data/") {
		t.Errorf("notes %q", r.Notes)
	}
}

// TestFindAppliances finds each node distribution's layout.
func TestFindAppliances(t *testing.T) {
	cases := []struct {
		dir    func(tr *tree) string
		source string
	}{
		{func(tr *tree) string {
			return tr.path("umbrel", "app-data", "lightning", "data",
				"lnd")
		}, "Umbrel"},
		{func(tr *tree) string {
			return tr.sys("/home/umbrel/umbrel/app-data/lightning/" +
				"data/lnd")
		}, "Umbrel"},
		{func(tr *tree) string { return tr.path("umbrel", "lnd") },
			"Umbrel (before 0.5)"},
		{func(tr *tree) string { return tr.sys("/mnt/hdd/app-data/lnd") },
			"RaspiBlitz"},
		{func(tr *tree) string { return tr.sys("/mnt/hdd/lnd") },
			"RaspiBlitz"},
		{func(tr *tree) string { return tr.sys("/data/lnd") },
			"RaspiBolt"},
		{func(tr *tree) string { return tr.sys("/mnt/hdd/mynode/lnd") },
			"myNode"},
	}
	for _, c := range cases {
		tr := newTree(t)
		dir := c.dir(tr)
		tr.lnd(dir, "mainnet")
		// Umbrel's own lnd.conf (umbrel-apps lightning/data/lnd):
		// the network is on lnd's command line, not here.
		tr.conf(filepath.Join(dir, "lnd.conf"),
			"[Application Options]", "maxpendingchannels=3",
			"[Bitcoin]", "bitcoin.defaultchanconfs=2")

		r := mustFind(t, tr.opts())
		if r.LndDir != dir || r.Source != c.source ||
			r.Network != "mainnet" {

			t.Errorf("%s: got %s from %s on %s", c.source, r.LndDir,
				r.Source, r.Network)
		}
	}
}

// TestFindConf checks what lnd.conf changes.
func TestFindConf(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		check func(t *testing.T, tr *tree, r *Result)
	}{{
		name:  "rpclisten on all interfaces",
		lines: []string{"[Application Options]", "rpclisten=0.0.0.0:10010"},
		check: wantHost("127.0.0.1:10010"),
	}, {
		name:  "first rpclisten",
		lines: []string{"rpclisten=[::]:10011", "rpclisten=10.0.0.1:1"},
		check: wantHost("[::1]:10011"),
	}, {
		name:  "bare port",
		lines: []string{"rpclisten=10012"},
		check: wantHost("localhost:10012"),
	}, {
		name:  "network flag as 1",
		lines: []string{"[Bitcoin]", "bitcoin.mainnet=1"},
		check: wantNetwork("mainnet"),
	}, {
		name:  "testnet is testnet3",
		lines: []string{"bitcoin.testnet=true"},
		check: wantNetwork("testnet"),
	}, {
		name: "flag turned off again",
		lines: []string{"bitcoin.testnet=true", "; later",
			"bitcoin.testnet=false", "bitcoin.regtest="},
		check: wantNetwork("regtest"),
	}, {
		name:  "several flags fall back to the macaroons",
		lines: []string{"bitcoin.mainnet=1", "bitcoin.signet=1"},
		check: func(t *testing.T, tr *tree, r *Result) {
			wantNetwork("regtest")(t, tr, r)
			if !hasNote(r, "several networks") {
				t.Errorf("notes %q", r.Notes)
			}
		},
	}, {
		name: "datadir and tlscertpath in the default lnddir",
		lines: []string{"datadir=~/other/data",
			"tlscertpath=$HOME/other/tls.cert"},
		check: func(t *testing.T, tr *tree, r *Result) {
			want := tr.path("other", "data", "chain", "bitcoin",
				"regtest")
			if r.MacaroonDir != want ||
				r.TLSCertPath != tr.path("other", "tls.cert") {

				t.Errorf("macaroons %s, cert %s", r.MacaroonDir,
					r.TLSCertPath)
			}
		},
	}, {
		name:  "adminmacaroonpath",
		lines: []string{"adminmacaroonpath=~/secret/admin.macaroon"},
		check: func(t *testing.T, tr *tree, r *Result) {
			path, err := r.Macaroon("admin")
			if err != nil || path != tr.path("secret",
				"admin.macaroon") {

				t.Errorf("admin %s, %v", path, err)
			}
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t)
			dir := tr.path(".lnd")
			tr.lnd(dir, "regtest")
			tr.lnd(tr.path("other"), "regtest")
			tr.macaroons(tr.path("secret"), "admin")
			tr.conf(filepath.Join(dir, "lnd.conf"), c.lines...)
			c.check(t, tr, mustFind(t, tr.opts()))
		})
	}
}

// wantHost checks the RPC host.
func wantHost(host string) func(*testing.T, *tree, *Result) {
	return func(t *testing.T, _ *tree, r *Result) {
		t.Helper()
		if r.RPCHost != host {
			t.Errorf("host %s, want %s", r.RPCHost, host)
		}
	}
}

// wantNetwork checks the network and that the macaroon directory follows.
func wantNetwork(network string) func(*testing.T, *tree, *Result) {
	return func(t *testing.T, _ *tree, r *Result) {
		t.Helper()
		if r.Network != network ||
			filepath.Base(r.MacaroonDir) != network {

			t.Errorf("network %s in %s, want %s", r.Network,
				r.MacaroonDir, network)
		}
	}
}

// TestFindNonDefaultLndDir checks that, as in lnd, datadir and
// tlscertpath in the config file of a non-default lnddir are ignored,
// unless only they exist.
func TestFindNonDefaultLndDir(t *testing.T) {
	tr := newTree(t)
	dir := tr.path("node")
	tr.lnd(dir, "regtest")
	tr.lnd(tr.path("elsewhere"), "regtest")
	tr.conf(filepath.Join(dir, "lnd.conf"), "datadir=~/elsewhere/data")

	opts := tr.opts()
	opts.LndDir = dir
	r := mustFind(t, opts)
	if !strings.HasPrefix(r.MacaroonDir, filepath.Join(dir, "data")) ||
		!hasNote(r, "lnd ignores it") {

		t.Errorf("macaroons in %s, notes %q", r.MacaroonDir, r.Notes)
	}

	// Started with --configfile only: the data is where lnd.conf says.
	if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	r = mustFind(t, opts)
	if !strings.HasPrefix(r.MacaroonDir, tr.path("elsewhere", "data")) {
		t.Errorf("macaroons in %s", r.MacaroonDir)
	}
}

// TestFindConfLndDir checks lnddir= in lnd.conf.
func TestFindConfLndDir(t *testing.T) {
	tr := newTree(t)
	tr.conf(tr.path(".lnd", "lnd.conf"), "lnddir=~/real",
		"bitcoin.signet=1")
	tr.lnd(tr.path("real"), "signet")

	r := mustFind(t, tr.opts())
	if r.LndDir != tr.path("real") || r.Network != "signet" ||
		r.TLSCertPath != tr.path("real", "tls.cert") {

		t.Errorf("got %+v", r)
	}
}

// TestFindLitdIntegrated finds lnd run by litd: lit.conf's lnd.* options
// and its network, with lnd's data in lnd's default directory.
func TestFindLitdIntegrated(t *testing.T) {
	tr := newTree(t)
	tr.lnd(tr.path(".lnd"), "testnet", "regtest")
	// The example lit.conf of lightning-terminal's
	// docs/config-lnd-integrated.md, cut down.
	tr.conf(tr.path(".lit", "lit.conf"),
		"# Application Options",
		"httpslisten=0.0.0.0:8443",
		"lnd-mode=integrated",
		"network=testnet",
		"# Lnd",
		"lnd.lnddir=~/.lnd",
		"lnd.rpclisten=0.0.0.0:10009",
		"lnd.bitcoin.node=bitcoind")

	r := mustFind(t, tr.opts())
	if r.Source != "litd ~/.lit" || r.LndDir != tr.path(".lnd") ||
		r.Network != "testnet" || r.RPCHost != "127.0.0.1:10009" {

		t.Errorf("got %+v", r)
	}
}

// TestFindLitdOwnLndDir finds litd's lnd in a directory of its own.
func TestFindLitdOwnLndDir(t *testing.T) {
	tr := newTree(t)
	tr.lnd(tr.path(".lit", "lnd"), "mainnet")
	tr.conf(tr.path(".lit", "lit.conf"), "lnd-mode=integrated",
		"lnd.lnddir=~/.lit/lnd", "lnd.rpclisten=localhost:10019")

	r := mustFind(t, tr.opts())
	if r.LndDir != tr.path(".lit", "lnd") || r.Network != "mainnet" ||
		r.RPCHost != "localhost:10019" {

		t.Errorf("got %+v", r)
	}
}

// TestFindLitdRemote uses lit.conf's remote.lnd.* options when litd
// talks to an lnd elsewhere.
func TestFindLitdRemote(t *testing.T) {
	tr := newTree(t)
	macDir := filepath.Join(tr.root, "srv", "lnd", "regtest")
	tr.macaroons(macDir)
	tr.write(filepath.Join(tr.root, "srv", "lnd", "tls.cert"), testCert)
	tr.conf(tr.path(".lit", "lit.conf"),
		"network=regtest",
		"remote.lnd.rpcserver=10.0.0.2:10009",
		"remote.lnd.macaroonpath="+filepath.Join(macDir,
			"admin.macaroon"),
		"remote.lnd.tlscertpath="+filepath.Join(tr.root, "srv", "lnd",
			"tls.cert"))

	r := mustFind(t, tr.opts())
	if r.RPCHost != "10.0.0.2:10009" || r.Network != "regtest" ||
		r.MacaroonDir != macDir || r.TLSCertProblem != "" ||
		!strings.Contains(r.Source, "remote mode") {

		t.Errorf("got %+v", r)
	}
	if _, err := r.Macaroon("admin"); err != nil {
		t.Error(err)
	}
}

// TestFindNetworks checks the choice among the networks with macaroons.
func TestFindNetworks(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.lnd(dir, "regtest", "mainnet")
	tr.mkdir(filepath.Join(dir, "data", "chain", "bitcoin", "signet"))

	_, err := Find(tr.opts())
	amb, ok := errorAs[*AmbiguousNetworkError](err)
	if !ok {
		t.Fatalf("got %v", err)
	}
	if !slices.Equal(amb.Networks, []string{"mainnet", "regtest"}) ||
		!strings.Contains(amb.Error(), "--network") {

		t.Errorf("got %v: %q", amb.Networks, amb.Error())
	}

	opts := tr.opts()
	opts.Network = "regtest"
	if r := mustFind(t, opts); r.Network != "regtest" {
		t.Errorf("--network regtest gave %s", r.Network)
	}

	opts.Network = "testnet3"
	r := mustFind(t, opts)
	if r.Network != "testnet" || !hasNote(r, "only for mainnet, regtest") {
		t.Errorf("testnet3 gave %s, notes %q", r.Network, r.Notes)
	}
	if _, err := r.Macaroon("admin"); !errors.Is(err, ErrMissing) ||
		!strings.Contains(err.Error(), "--network") {

		t.Errorf("admin on testnet: %v", err)
	}

	opts.Network = "bitcoin"
	if _, err := Find(opts); err == nil ||
		!strings.Contains(err.Error(), "mainnet, testnet") {

		t.Errorf("bad --network: %v", err)
	}
}

// TestFindNoMacaroons checks the error when nothing tells the network.
func TestFindNoMacaroons(t *testing.T) {
	tr := newTree(t)
	tr.lnd(tr.path(".lnd"))
	tr.mkdir(tr.path(".lnd", "data", "chain", "bitcoin", "mainnet"))

	_, err := Find(tr.opts())
	nn, ok := errorAs[*NoNetworkError](err)
	if !ok || !strings.Contains(nn.Error(), "lncli create") {
		t.Fatalf("got %v", err)
	}
}

// TestFindFlags checks that flags override what was found, and that flags
// alone are enough when no lnd directory exists.
func TestFindFlags(t *testing.T) {
	tr := newTree(t)
	tr.lnd(tr.path(".lnd"), "regtest")
	tr.macaroons(tr.path("baked", "mainnet"), "invoice")
	tr.write(tr.path("copy", "tls.cert"), testCert)

	opts := tr.opts()
	opts.LndHost = "node.example:10019"
	opts.TLSCertPath = "~/copy/tls.cert"
	opts.MacaroonDir = "~/baked/mainnet"
	r := mustFind(t, opts)
	if r.RPCHost != "node.example:10019" ||
		r.TLSCertPath != tr.path("copy", "tls.cert") ||
		r.MacaroonDir != tr.path("baked", "mainnet") ||
		r.Network != "mainnet" || len(r.Macaroons) != 1 {

		t.Errorf("got %+v", r)
	}

	if err := os.RemoveAll(tr.path(".lnd")); err != nil {
		t.Fatal(err)
	}
	opts.LndHost = "node.example"
	r = mustFind(t, opts)
	if r.Source != "flags" || r.RPCHost != "node.example:10009" {
		t.Errorf("flags only: %+v", r)
	}
}

// TestFindMissingFiles checks the reports of a missing certificate and a
// missing macaroon.
func TestFindMissingFiles(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.macaroons(filepath.Join(dir, "data", "chain", "bitcoin", "regtest"),
		"admin")

	r := mustFind(t, tr.opts())
	_, err := r.TLSCert()
	if !errors.Is(err, ErrMissing) ||
		!strings.Contains(err.Error(), "start lnd") {

		t.Errorf("TLSCert: %v", err)
	}
	_, err = r.Macaroon("invoice")
	if !errors.Is(err, ErrMissing) ||
		!strings.Contains(err.Error(), "l402 bake invoice-only") ||
		!strings.Contains(err.Error(), "l402 setup --bake") {

		t.Errorf("Macaroon(invoice): %v", err)
	}
}

// TestFindDamagedFiles checks empty and garbled files.
func TestFindDamagedFiles(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.lnd(dir, "regtest")
	macDir := filepath.Join(dir, "data", "chain", "bitcoin", "regtest")
	tr.write(filepath.Join(macDir, "invoice.macaroon"), nil)
	tr.write(filepath.Join(macDir, "readonly.macaroon"), []byte("0201"))
	tr.write(filepath.Join(dir, "tls.cert"), []byte("hello"))

	r := mustFind(t, tr.opts())
	for name, want := range map[string]string{
		"invoice":  "is empty",
		"readonly": "is not a binary macaroon",
	} {
		_, err := r.Macaroon(name)
		if !errors.Is(err, ErrBadFile) ||
			!strings.Contains(err.Error(), want) {

			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := r.TLSCert(); !errors.Is(err, ErrBadFile) {
		t.Errorf("TLSCert: %v", err)
	}
}

// TestFindPermissionDenied checks the reports of files l402 may not read,
// through an FS that refuses them (the tests run as root).
func TestFindPermissionDenied(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.lnd(dir, "mainnet")
	tr.conf(filepath.Join(dir, "lnd.conf"), "rpclisten=0.0.0.0:10010")
	macDir := filepath.Join(dir, "data", "chain", "bitcoin", "mainnet")
	admin := filepath.Join(macDir, "admin.macaroon")

	opts := tr.opts()
	opts.FS = denyFS{
		read: map[string]bool{
			admin:                          true,
			filepath.Join(dir, "lnd.conf"): true,
			filepath.Join(dir, "tls.cert"): true,
		},
		list: map[string]bool{macDir: true},
	}
	r := mustFind(t, opts)

	_, err := r.Macaroon("admin")
	if !errors.Is(err, fs.ErrPermission) ||
		!strings.Contains(err.Error(), "permission denied (mode 0600)") ||
		!strings.Contains(err.Error(), "run as the user that owns") ||
		!strings.Contains(err.Error(), "mode 0600 and pass") {

		t.Errorf("admin: %v", err)
	}
	if _, err := r.Macaroon("invoice"); err != nil {
		t.Errorf("invoice, found by name in an unlistable dir: %v", err)
	}
	if _, err := r.TLSCert(); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("TLSCert: %v", err)
	}
	if r.RPCHost != "localhost:10009" || !hasNote(r, "lnd.conf") {
		t.Errorf("unreadable lnd.conf: host %s, notes %q", r.RPCHost,
			r.Notes)
	}
}

// TestFindChainDirDenied checks the report when the directories of the
// networks cannot be looked into.
func TestFindChainDirDenied(t *testing.T) {
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.lnd(dir, "mainnet")

	opts := tr.opts()
	opts.FS = denyFS{stat: map[string]bool{
		filepath.Join(dir, "data", "chain"): true,
	}}
	_, err := Find(opts)
	nn, ok := errorAs[*NoNetworkError](err)
	if !ok || !nn.Denied || !strings.Contains(nn.Error(),
		"permission denied") {

		t.Fatalf("got %v", err)
	}
}

// TestFindRealPermissions checks a 0000 macaroon on the real file system,
// which only means something when not running as root.
func TestFindRealPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file; TestFindPermissionDenied " +
			"covers this through an FS")
	}
	tr := newTree(t)
	dir := tr.path(".lnd")
	tr.lnd(dir, "mainnet")
	admin := filepath.Join(dir, "data", "chain", "bitcoin", "mainnet",
		"admin.macaroon")
	if err := os.Chmod(admin, 0); err != nil {
		t.Fatal(err)
	}
	r := mustFind(t, tr.opts())
	if _, err := r.Macaroon("admin"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("admin: %v", err)
	}
}
