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

// TestLoadLngetConfig: lnget's defaults, its file's keys, the LNGET_*
// variables over the file, ~ expanded; unknown keys, bad values and a
// pairing phrase in the file are refused by name.
func TestLoadLngetConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("L402_HOME", "")
	none := func(string) string { return "" }

	// No file: lnget's defaults.
	c, err := LoadLngetConfig("", none)
	if err != nil || c.L402.MaxCostSats != 1000 || c.L402.MaxFeeSats != 10 ||
		c.L402.PaymentTimeout != time.Minute || !c.L402.AutoPay ||
		c.HTTP.MaxRedirects != 10 || c.LN.Mode != "lnd" ||
		c.LN.LND.Host != "localhost:10009" ||
		c.Tokens.Dir != filepath.Join(home, ".lnget", "tokens") {
		t.Fatalf("defaults: %+v %v", c, err)
	}

	file := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(file, []byte(`l402:
  max_cost_sats: 200
  payment_timeout: 30s
http:
  timeout: 5s
  max_redirects: 3
ln:
  mode: lnd
  lnd:
    host: 127.0.0.1:10009
    tls_cert: ~/lnd/tls.cert
    macaroon: ~/lnd/pay.macaroon
tokens:
  dir: ~/tok
`), 0o600)
	env := map[string]string{"LNGET_L402_MAX_COST_SATS": "300",
		"LNGET_LN_LND_HOST": "10.0.0.1:10009", "LNGET_HTTP_ALLOW_INSECURE": "true"}
	c, err = LoadLngetConfig(file, func(k string) string { return env[k] })
	if err != nil || c.L402.MaxCostSats != 300 ||
		c.L402.PaymentTimeout != 30*time.Second || c.HTTP.Timeout != 5*time.Second ||
		c.HTTP.MaxRedirects != 3 || c.LN.LND.Host != "10.0.0.1:10009" ||
		!c.HTTP.AllowInsecure || c.LN.LND.TLSCert != filepath.Join(home,
		"lnd", "tls.cert") || c.Tokens.Dir != filepath.Join(home, "tok") {
		t.Fatalf("file and env: %+v %v", c, err)
	}
	fc, warnings, err := c.Fetch()
	if err != nil || len(warnings) != 0 || *fc.MaxCostSat != 300 ||
		*fc.MaxFeeSat != 10 || *fc.MaxTotalSat != DefaultMaxTotalSat ||
		fc.Lnd.Host != "10.0.0.1:10009" || fc.Lnd.MacaroonPath !=
		filepath.Join(home, "lnd", "pay.macaroon") ||
		fc.TokenStore != filepath.Join(home, ".l402", "tokens.db") ||
		fc.LNC != nil {
		t.Fatalf("fetch config: %+v %v %v", fc, warnings, err)
	}

	for text, want := range map[string]string{
		"l402:\n  max_cost_sat: 5\n":                          "max_cost_sats",
		"l402:\n  max_cost_sats: 1.5\n":                       "l402.max_cost_sats",
		"l402:\n  max_cost_sats: -1\n":                        "max_cost_sats",
		"ln:\n  mode: bolt\n":                                 "ln.mode",
		"output:\n  format: xml\n":                            "output.format",
		"ln:\n  mode: lnc\n  lnc:\n    session_id: x\n":       "session_id",
		"ln:\n  mode: lnc\n  lnc:\n    pairing_phrase: a b\n": "L402_LNC_PHRASE",
	} {
		os.WriteFile(file, []byte(text), 0o600)
		_, err := LoadLngetConfig(file, none)
		if !errors.Is(err, config.ErrBad) || !strings.Contains(err.Error(),
			want) {
			t.Errorf("%q: %v", text, err)
		}
	}
	if _, err := LoadLngetConfig(filepath.Join(t.TempDir(), "no.yaml"),
		none); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a named file that is missing: %v", err)
	}
	if _, err := LoadLngetConfig("", func(k string) string {
		if k == "LNGET_HTTP_TIMEOUT" {
			return "soon"
		}
		return ""
	}); err == nil || !strings.Contains(err.Error(), "LNGET_HTTP_TIMEOUT") {
		t.Fatalf("bad variable: %v", err)
	}

	// lnc and neutrino.
	os.WriteFile(file, []byte("ln:\n  mode: lnc\n  lnc:\n    mailbox_addr: m:443\n"), 0o600)
	c, _ = LoadLngetConfig(file, none)
	fc, _, _ = c.Fetch()
	if fc.LNC == nil || fc.LNC.MailboxAddress != "m:443" || fc.Lnd.Host != "" {
		t.Fatalf("lnc: %+v", fc)
	}
	os.WriteFile(file, []byte("ln:\n  mode: neutrino\n"), 0o600)
	c, _ = LoadLngetConfig(file, none)
	if fc, warnings, _ = c.Fetch(); len(warnings) != 1 || fc.Lnd.Host != "" {
		t.Fatalf("neutrino: %+v %v", fc, warnings)
	}
	if vars := strings.Join(LngetEnvVars(), " "); !strings.Contains(vars,
		"LNGET_LN_LND_MACAROON") || !strings.Contains(vars,
		"LNGET_L402_MAX_COST_SATS") {
		t.Fatalf("env vars: %s", vars)
	}
}

// TestLngetConfigKeepsL402sDailyCaps: the link pays under the 24-hour
// caps of l402's fetch.yaml when there is one, so that calling lnget
// instead of l402 fetch cannot raise a cap the user set.
func TestLngetConfigKeepsL402sDailyCaps(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("L402_HOME", filepath.Join(home, ".l402"))
	none := func(string) string { return "" }
	c, err := LoadLngetConfig("", none)
	if err != nil {
		t.Fatal(err)
	}
	c.Payment.PreferScheme = "Payment"
	fc, _, err := c.Fetch()
	if err != nil || *fc.MaxTotalSat != DefaultMaxTotalSat ||
		fc.PreferScheme != SchemePayment {
		t.Fatalf("without fetch.yaml: %v %q %v", *fc.MaxTotalSat,
			fc.PreferScheme, err)
	}

	if err := os.MkdirAll(filepath.Join(home, ".l402"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".l402", "fetch.yaml"),
		[]byte("maxtotal: 700\nmaxperorigin: 300\nmaxinvoiceexpiry: 2h\n"+
			"maxcost: 50\n"),
		0o600); err != nil {
		t.Fatal(err)
	}
	fc, _, err = c.Fetch()
	if err != nil || *fc.MaxTotalSat != 700 || fc.MaxPerOriginSat != 300 ||
		fc.MaxInvoiceExpiry != 2*time.Hour || *fc.MaxCostSat != 50 ||
		*fc.MaxFeeSat != 10 {
		t.Fatalf("with fetch.yaml: total %d per origin %d expiry %s %v",
			*fc.MaxTotalSat, fc.MaxPerOriginSat, fc.MaxInvoiceExpiry, err)
	}

	if err := os.WriteFile(filepath.Join(home, ".l402", "fetch.yaml"),
		[]byte("maxtotal: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Fetch(); err == nil {
		t.Fatal("a broken fetch.yaml was ignored: its caps would not hold")
	}
}
