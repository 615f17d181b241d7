package fetch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/config"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fetch.yaml")
	os.WriteFile(path, []byte("maxcost: 0\nmaxfee: 0\ntokenstore: t.db\n"+
		"lnd:\n  tlscertpath: certs/tls.cert\n"), 0o600)
	cfg, err := LoadConfig(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.MaxCostSat != 0 || *cfg.MaxFeeSat != 0 {
		t.Fatalf("explicit zeros lost: %d %d", *cfg.MaxCostSat,
			*cfg.MaxFeeSat)
	}
	if cfg.TokenStore != filepath.Join(dir, "t.db") ||
		cfg.Lnd.TLSCertPath != filepath.Join(dir, "certs/tls.cert") {
		t.Fatalf("relative paths: %q %q", cfg.TokenStore,
			cfg.Lnd.TLSCertPath)
	}

	os.WriteFile(path, []byte("paymenttimeout: 5s\n"), 0o600)
	cfg, _ = LoadConfig(path, true)
	if *cfg.MaxCostSat != DefaultMaxCostSat || *cfg.MaxFeeSat !=
		DefaultMaxFeeSat || cfg.MaxInvoiceExpiry != DefaultMaxInvoiceExpiry {
		t.Fatal("defaults not applied")
	}
	os.WriteFile(path, []byte("maxinvoiceexpiry: 2h\n"), 0o600)
	if cfg, _ = LoadConfig(path, true); cfg.MaxInvoiceExpiry != 2*time.Hour {
		t.Fatalf("maxinvoiceexpiry %s", cfg.MaxInvoiceExpiry)
	}

	for _, bad := range []string{"maxcost: -1\n", "maxtotal: 9999999999999999\n",
		"maxinvoiceexpiry: -1s\n",
		"maxfee: x\n", "lnd:\n  host: a:1\nlnc: {}\n",
		"lnc:\n  phrase: secret words\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := LoadConfig(path, true); !errors.Is(err, config.ErrBad) {
			t.Errorf("%q: %v, want a bad_config error", bad, err)
		}
	}
	missing := filepath.Join(dir, "none.yaml")
	if _, err := LoadConfig(missing, false); err != nil {
		t.Fatalf("missing default config: %v", err)
	}
	if _, err := LoadConfig(missing, true); !errors.Is(err,
		config.ErrNotFound) || !strings.Contains(err.Error(), "none.yaml") {
		t.Fatalf("missing explicit config: %v", err)
	}
}

// TestLoadConfigRefusesFractionsAndTypos: a cap of 1.5 sat is refused in
// words, not truncated to 1 (yaml.v3's way), and a misspelt key names the
// key meant.
func TestLoadConfigRefusesFractionsAndTypos(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fetch.yaml")
	for body, want := range map[string]string{
		"maxcost: 1.5\n": "line 1: maxcost: want a whole number of " +
			"satoshis, got 1.5",
		"maxtotal: 2.5\n":     "want a whole number of satoshis, got 2.5",
		"maxcots: 10\n":       `unknown key "maxcots": did you mean "maxcost"?`,
		"lnd:\n  hots: a:1\n": `line 2: lnd: unknown key "hots": did you mean "host"?`,
	} {
		os.WriteFile(path, []byte(body), 0o600)
		_, err := LoadConfig(path, true)
		if !errors.Is(err, config.ErrBad) || !strings.Contains(err.Error(),
			want) {
			t.Errorf("%q: %v\nwant it to say %s", body, err, want)
		}
	}
}

// TestPreferScheme: fetch.yaml's preferscheme is lnget's l402 or payment
// (without regard to case), anything else is a bad config naming the key,
// and the run's preference wins over it.
func TestPreferScheme(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fetch.yaml")
	for body, want := range map[string]Scheme{
		"":                        "",
		"preferscheme: l402\n":    SchemeL402,
		"preferscheme: Payment\n": SchemePayment,
	} {
		os.WriteFile(path, []byte(body), 0o600)
		cfg, err := LoadConfig(path, true)
		if err != nil || cfg.PreferScheme != want {
			t.Errorf("%q: %q %v, want %q", body, cfg.PreferScheme, err, want)
		}
	}
	os.WriteFile(path, []byte("preferscheme: x402\n"), 0o600)
	if _, err := LoadConfig(path, true); !errors.Is(err, config.ErrBad) ||
		!strings.Contains(err.Error(), `preferscheme "x402": want l402 or payment`) {
		t.Fatalf("preferscheme x402: %v", err)
	}

	os.WriteFile(path, []byte("preferscheme: payment\n"), 0o600)
	cfg, _ := LoadConfig(path, true)
	for given, want := range map[Scheme]Scheme{"": SchemePayment,
		"l402": SchemeL402, "PAYMENT": SchemePayment} {
		opts, err := RunOptions{PreferScheme: given}.options(cfg)
		if err != nil || opts.PreferScheme != want {
			t.Errorf("given %q: %q %v, want %q", given, opts.PreferScheme,
				err, want)
		}
	}
	if _, err := (RunOptions{PreferScheme: "x402"}).options(cfg); !errors.Is(err,
		ErrBadOptions) {
		t.Fatalf("a bad preference given: %v", err)
	}
	if _, err := ParseScheme("lsat"); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("ParseScheme(lsat): %v", err)
	}
}
