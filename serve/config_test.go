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
		{"LNC is not supported yet", func(s string) string {
			return strings.Replace(s, "  network:", "  passphrase: a b c\n"+
				"  network:", 1)
		}, []string{"not supported yet"}},
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
