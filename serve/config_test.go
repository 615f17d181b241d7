package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// apertureSkillConfig is the minimal agent configuration of the Aperture
// skill, which must load verbatim.
const apertureSkillConfig = `listenaddr: "localhost:8081"
insecure: true
debuglevel: "info"
dbbackend: "sqlite"
sqlite:
  dbfile: "~/.aperture/aperture.db"
authenticator:
  network: "mainnet"
  lndhost: "localhost:10009"
  tlspath: "~/.lnd/tls.cert"
  macdir: "~/.lnd/data/chain/bitcoin/mainnet"
services:
  - name: "api"
    hostregexp: ".*"
    pathregexp: "^/api/.*$"
    address: "127.0.0.1:8080"
    protocol: http
    price: 100
`

// writeConfig writes body to a serve.yaml and returns its path.
func writeConfig(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadApertureSkillConfig(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, apertureSkillConfig))
	if err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	if cfg.SQLite.Path() != filepath.Join(home, ".aperture/aperture.db") ||
		cfg.Authenticator.TLSPath != filepath.Join(home, ".lnd/tls.cert") {
		t.Fatalf("paths %q %q", cfg.SQLite.Path(), cfg.Authenticator.TLSPath)
	}
	s := cfg.Services[0]
	if s.Name != "api" || s.Price != 100 || !s.PathRegexp.MatchString(
		"/api/x") || s.PathRegexp.MatchString("/other") ||
		!s.HostRegexp.MatchString("anything") {
		t.Fatalf("service %+v", s)
	}

	full := strings.Replace(apertureSkillConfig, "    price: 100\n",
		`    price: 100
    capabilities: "read, write"
    timeout: 3600
    authwhitelistpaths: ["^/api/health$"]
    authskipinvoicecreationpaths: ["^/api/status$"]
    headers:
      X-Api-Key: secret
    constraints:
      tier: gold
    ratelimits:
      - pathregexp: "^/api/.*$"
        requests: 10
        per: 1m
        burst: 2
    dynamicprice:
      enabled: false
trustedproxies: ["10.0.0.0/8"]
blocklist: ["192.0.2.1"]
`, 1)
	cfg, err = LoadConfig(writeConfig(t, full))
	if err != nil {
		t.Fatal(err)
	}
	s = cfg.Services[0]
	if got := s.CapabilityList(); len(got) != 2 || got[1] != "write" ||
		s.Timeout != 3600 || len(s.RateLimits) != 1 ||
		s.RateLimits[0].Per.Minutes() != 1 ||
		!s.AuthWhitelistPaths[0].MatchString("/api/health") {
		t.Fatalf("full service %+v", s)
	}
}

func TestLoadConfigRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown key names its line", func(s string) string {
			return s + "listenport: 8080\n"
		}, []string{"line 19", "listenport"}},
		{"bad regexp names its line", func(s string) string {
			return strings.Replace(s, `"^/api/.*$"`, `"^/api/(.*$"`, 1)
		}, []string{"line 15", "regular expression"}},
		{"lndhost and an LNC phrase", func(s string) string {
			return strings.Replace(s, "  network:", "  passphrase: a b c\n"+
				"  network:", 1)
		}, []string{"exclude each other"}},
		{"LNC with lnd's files", func(s string) string {
			return strings.Replace(s, `  lndhost: "localhost:10009"`,
				"  passphrasefile: /etc/phrase", 1)
		}, []string{"tlspath and macdir are lnd's"}},
		{"no way to the node", func(s string) string {
			return strings.Replace(s, `  lndhost: "localhost:10009"`, "", 1)
		}, []string{"lndhost is required", "passphrasefile"}},
		{"devserver without LNC", func(s string) string {
			return strings.Replace(s, "  network:", "  devserver: true\n"+
				"  network:", 1)
		}, []string{"Lightning Node Connect only"}},
		{"bad hashmail", func(s string) string {
			return s + "hashmail:\n  enabled: true\n  messagerate: -1s\n"
		}, []string{"hashmail.messagerate"}},
		{"unknown backend", func(s string) string {
			return strings.Replace(s, `dbbackend: "sqlite"`,
				`dbbackend: "etcd"`, 1)
		}, []string{"etcd"}},
		{"bad protocol and negative price, both reported", func(s string) string {
			s = strings.Replace(s, "protocol: http", "protocol: ftp", 1)
			return strings.Replace(s, "price: 100", "price: -1", 1)
		}, []string{"ftp", "negative"}},
		{"no listen address", func(s string) string {
			return strings.Replace(s, `listenaddr: "localhost:8081"`, "", 1)
		}, []string{"listenaddr"}},
		{"service name with a colon", func(s string) string {
			return strings.Replace(s, `name: "api"`, `name: "a:b"`, 1)
		}, []string{"caveats"}},
		{"service name with a newline", func(s string) string {
			return strings.Replace(s, `name: "api"`, `name: "a\nb"`, 1)
		}, []string{"caveats"}},
		{"service name with a no-break space", func(s string) string {
			return strings.Replace(s, `name: "api"`, `name: "a\u00a0b"`, 1)
		}, []string{"caveats"}},
		{"bad rate limit", func(s string) string {
			return s[:len(s)-1] + "\n    ratelimits: [{pathregexp: \".*\", " +
				"requests: 0, per: 1s}]\n"
		}, []string{"requests > 0"}},
		{"bad CIDR", func(s string) string {
			return s + "trustedproxies: [\"10.0.0.0\"]\n"
		}, []string{"CIDR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.edit(apertureSkillConfig)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%v: does not say %q", err, w)
				}
			}
		})
	}
}

// lncConfig is apertureSkillConfig reaching its node over LNC.
func lncConfig(authenticator string) string {
	return strings.Replace(apertureSkillConfig, `  lndhost: "localhost:10009"
  tlspath: "~/.lnd/tls.cert"
  macdir: "~/.lnd/data/chain/bitcoin/mainnet"
`, authenticator, 1)
}

func TestLoadConfigLNC(t *testing.T) {
	home, _ := os.UserHomeDir()
	cfg, err := LoadConfig(writeConfig(t, lncConfig(
		"  passphrasefile: ~/.l402/lnc-serve.phrase\n"+
			"  sessionfile: ~/lnc.json\n")+
		"hashmail:\n  enabled: true\n  messagerate: 1ms\n"+
		"  messageburstallowance: 50\n  staletimeout: -1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Authenticator
	if !a.LNC() || a.MailboxAddr() != "mailbox.terminal.lightning.today:443" ||
		a.PassphraseFile != filepath.Join(home, ".l402/lnc-serve.phrase") ||
		a.SessionFile != filepath.Join(home, "lnc.json") {
		t.Fatalf("authenticator %+v", a)
	}
	if h := cfg.HashMail; !h.Enabled || h.MessageRate.Milliseconds() != 1 ||
		h.MessageBurstAllowance != 50 || h.StaleTimeout >= 0 {
		t.Fatalf("hashmail %+v", h)
	}

	// Aperture's keys alone: a phrase and a mailbox.
	cfg, err = LoadConfig(writeConfig(t, lncConfig(
		"  passphrase: \"any words\"\n"+
			"  mailboxaddress: \"127.0.0.1:8443\"\n  devserver: true\n")))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Authenticator; !a.LNC() || a.MailboxAddr() !=
		"127.0.0.1:8443" || !a.DevServer {
		t.Fatalf("authenticator %+v", a)
	}

	// A mailbox alone: the phrase comes from $L402_LNC_PHRASE at start.
	cfg, err = LoadConfig(writeConfig(t, lncConfig(
		"  mailboxaddress: \"mailbox.example.com:443\"\n")))
	if err != nil || !cfg.Authenticator.LNC() {
		t.Fatalf("%+v %v", cfg, err)
	}
	_, err = LoadConfig(writeConfig(t, lncConfig(
		"  mailboxaddress: \"mailbox.example.com\"\n")))
	if err == nil || !strings.Contains(err.Error(), "not host:port") {
		t.Fatalf("a mailbox without a port: %v", err)
	}
}
