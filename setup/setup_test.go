package setup

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/serve"
	"gopkg.in/macaroon.v2"
)

// options returns seller options that need no lnd (--no-auth), writing
// into a temporary l402 home.
func options(t *testing.T) Options {
	t.Helper()
	return Options{Role: RoleSeller, NoAuth: true, Upstream: "127.0.0.1:8080",
		Price: 100, Path: "^/.*$", Service: "api", Port: 8081,
		Home: t.TempDir(), Lnd: lndconn.Options{Home: t.TempDir(),
			Getenv: func(string) string { return "" }},
		IO: cli.IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}}
}

func TestSetupNoAuthSellerWritesAServeConfig(t *testing.T) {
	o := options(t)
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.Home, "serve.yaml")
	if len(rep.Files) != 1 || rep.Files[0] != (File{Path: path,
		Status: "written"}) || len(rep.Warnings) == 0 {
		t.Fatalf("report %+v", rep)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi, err)
	}
	// serve itself accepts what setup wrote.
	cfg, err := serve.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Authenticator.Disable || cfg.Services[0].Price != 100 ||
		cfg.Services[0].Address != "127.0.0.1:8080" ||
		cfg.ListenAddr != "localhost:8081" {
		t.Fatalf("config %+v", cfg)
	}

	// Again: unchanged. With another price: kept, diff, exit 4.
	if rep, err = Run(context.Background(), o); err != nil ||
		rep.Files[0].Status != "unchanged" {
		t.Fatalf("again: %+v %v", rep.Files, err)
	}
	o.Price = 7
	rep, err = Run(context.Background(), o)
	if cli.ExitCode(err) != cli.ExitDiffers ||
		!errors.Is(err, ErrConfigExists) ||
		rep.Files[0].Status != "differs" ||
		rep.Files[0].Diff != "  -     price: 100\n  +     price: 7\n" {
		t.Fatalf("changed: %+v %v", rep.Files, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b),
		"price: 100") {
		t.Fatal("the file was replaced without --force")
	}
	o.Force = true
	if rep, err = Run(context.Background(), o); err != nil ||
		rep.Files[0].Status != "written" {
		t.Fatalf("forced: %+v %v", rep.Files, err)
	}
}

func TestSetupHTTPSUpstream(t *testing.T) {
	o := options(t)
	o.Upstream = "https://api.example.com:443"
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	cfg, err := serve.LoadConfig(filepath.Join(o.Home, "serve.yaml"))
	if err != nil || cfg.Services[0].Protocol != "https" ||
		cfg.Services[0].Address != "api.example.com:443" {
		t.Fatalf("%+v %v", cfg, err)
	}
}

func TestSetupRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"role", func(o *Options) { o.Role = "merchant" }, "--role"},
		{"price", func(o *Options) { o.Price = 0 }, "--price"},
		{"port", func(o *Options) { o.Port = 70000 }, "--port"},
		{"upstream", func(o *Options) { o.Upstream = "nowhere" }, "--upstream"},
		{"upstream path", func(o *Options) {
			o.Upstream = "http://a:1/v1"
		}, "--upstream"},
		{"service", func(o *Options) { o.Service = "a:b" }, "--service"},
		{"network", func(o *Options) { o.Lnd.Network = "moon" }, "moon"},
		{"listen", func(o *Options) { o.Listen = "8081" }, "--listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options(t)
			tc.edit(&o)
			_, err := Run(context.Background(), o)
			if cli.ExitCode(err) != cli.ExitUsage ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v", err)
			}
			if _, serr := os.Stat(filepath.Join(o.Home,
				"serve.yaml")); serr == nil {
				t.Fatal("a file was written")
			}
		})
	}
}

func TestSetupWithoutLnd(t *testing.T) {
	o := options(t)
	o.Role = RoleBuyer
	rep, err := Run(context.Background(), o)
	if cli.ExitCode(err) != cli.ExitLnd ||
		cli.Code(err) != "lnd_not_found" || !strings.Contains(err.Error(),
		"--lnddir") || len(rep.Files) != 0 {
		t.Fatalf("%+v %v", rep, err)
	}

	// An lnd directory with a tls.cert but no macaroons for its network.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tls.cert"), []byte("x"), 0o600)
	os.MkdirAll(filepath.Join(dir, "data", "chain", "bitcoin", "regtest"),
		0o700)
	o.Lnd.LndDir = dir
	_, err = Run(context.Background(), o)
	if cli.ExitCode(err) != cli.ExitLnd {
		t.Fatalf("empty lnd dir: %v", err)
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\n", "a\nx\nc\nd\n")
	if got != "  - b\n  + x\n  + d\n" {
		t.Fatalf("%q", got)
	}
	if lineDiff("same\n", "same\n") != "" {
		t.Fatal("equal files differ")
	}
}

// fakeLndDir makes an lnd directory with a tls.cert and, for regtest,
// the given macaroon files.
func fakeLndDir(t *testing.T, macs ...string) string {
	t.Helper()
	dir := t.TempDir()
	srv := httptest.NewTLSServer(nil)
	srv.Close()
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
		Bytes: srv.Certificate().Raw})
	os.WriteFile(filepath.Join(dir, "tls.cert"), cert, 0o600)
	macDir := filepath.Join(dir, "data", "chain", "bitcoin", "regtest")
	os.MkdirAll(macDir, 0o700)
	for _, name := range macs {
		m, err := macaroon.New(make([]byte, 32), []byte("id-"+name), "lnd",
			macaroon.LatestVersion)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := m.MarshalBinary()
		os.WriteFile(filepath.Join(macDir, name+".macaroon"), b, 0o600)
	}
	return dir
}

func TestSetupSellerWithOnlyAnInvoiceMacaroon(t *testing.T) {
	o := options(t)
	o.NoAuth = false
	o.Lnd.LndDir = fakeLndDir(t, "invoice")
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0],
		"not checked") || rep.Lnd.Network != "regtest" ||
		rep.Files[0].Status != "written" {
		t.Fatalf("%+v", rep)
	}
	cfg, err := serve.LoadConfig(filepath.Join(o.Home, "serve.yaml"))
	if err != nil || cfg.Authenticator.MacDir != filepath.Join(o.Lnd.LndDir,
		"data", "chain", "bitcoin", "regtest") ||
		cfg.Authenticator.LndHost != "localhost:10009" {
		t.Fatalf("%+v %v", cfg.Authenticator, err)
	}

	// With no admin macaroon, nothing can be baked: the report says
	// why lnd's invoice.macaroon is used.
	if len(rep.Macaroons) != 1 || rep.Macaroons[0].Kind != "invoice" ||
		!strings.Contains(rep.Macaroons[0].Reason, "admin.macaroon") ||
		!warned(rep, "cannot bake an invoice-only macaroon") {
		t.Fatalf("macaroons %+v, warnings %q", rep.Macaroons, rep.Warnings)
	}

	// A buyer there has no macaroon that may pay: exit 3 or 1 with the
	// way out, and no fetch.yaml.
	o.Role = RoleBuyer
	_, err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("buyer without a pay macaroon: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(o.Home, "fetch.yaml")); serr == nil {
		t.Fatal("fetch.yaml written")
	}
}

func TestSetupBadLndDir(t *testing.T) {
	o := options(t)
	o.Role = RoleBuyer
	o.Lnd.LndDir = filepath.Join(t.TempDir(), "nope")
	_, err := Run(context.Background(), o)
	if cli.ExitCode(err) != cli.ExitLnd ||
		cli.Code(err) != "lnd_not_found" || !strings.Contains(err.Error(),
		"does not exist") || strings.Contains(err.Error(), "unexpected") {
		t.Fatalf("%v", err)
	}
}

func TestSetupInteractiveAsksForTheNetwork(t *testing.T) {
	o := options(t)
	o.NoAuth = false
	dir := fakeLndDir(t, "invoice")
	other := filepath.Join(dir, "data", "chain", "bitcoin", "signet")
	os.MkdirAll(other, 0o700)
	b, _ := os.ReadFile(filepath.Join(dir, "data", "chain", "bitcoin",
		"regtest", "invoice.macaroon"))
	os.WriteFile(filepath.Join(other, "invoice.macaroon"), b, 0o600)
	o.Lnd.LndDir = dir

	// Without --interactive: the ambiguity is an error naming both.
	_, err := Run(context.Background(), o)
	if cli.ExitCode(err) != cli.ExitLnd || !strings.Contains(err.Error(),
		"signet") || !strings.Contains(err.Error(), "--network") {
		t.Fatalf("ambiguous: %v", err)
	}

	// With it, on a terminal, the answer chooses.
	errOut := &bytes.Buffer{}
	o.Interactive = true
	o.IO = cli.IO{In: strings.NewReader("regtest\n"), Out: &bytes.Buffer{},
		ErrOut: errOut, InTTY: true, ErrTTY: true}
	rep, err := Run(context.Background(), o)
	if err != nil || rep.Lnd.Network != "regtest" ||
		!strings.Contains(errOut.String(), "which one?") {
		t.Fatalf("interactive: %+v %v %q", rep, err, errOut)
	}

	// --interactive without a terminal does not prompt.
	o.IO.InTTY = false
	if _, err := Run(context.Background(), o); cli.ExitCode(err) != cli.ExitLnd {
		t.Fatalf("no terminal: %v", err)
	}
}

func TestDiffRedactsSecrets(t *testing.T) {
	old := "postgres:\n  password: hunter2\nheaders:\n  X-Api-Key: abc\n" +
		"  Authorization: Bearer zzz\n  passphrase: a b c\nprice: 1\n"
	d := lineDiff(old, "price: 2\n")
	for _, secret := range []string{"hunter2", "abc", "zzz", "a b c"} {
		if strings.Contains(d, secret) {
			t.Fatalf("diff shows %q:\n%s", secret, d)
		}
	}
	if !strings.Contains(d, "password: <redacted>") ||
		!strings.Contains(d, "+ price: 2") {
		t.Fatalf("diff:\n%s", d)
	}
}
