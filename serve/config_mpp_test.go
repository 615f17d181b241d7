package serve

import (
	"strings"
	"testing"
	"time"
)

// mppConfig is the skill config with the Payment scheme (and sessions)
// switched on.
func mppConfig(extra string) string {
	return strings.Replace(apertureSkillConfig, "  network:",
		"  enablempp: true\n"+extra+"  network:", 1)
}

// TestLoadMPPConfig reads Aperture's MPP keys and checks their defaults:
// the realm is the listen address, the multiplier 20, the idle timeout
// 300 s, and a service without authscheme offers both schemes.
func TestLoadMPPConfig(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, mppConfig(
		"  enablesessions: true\n")))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Authenticator.MPP
	if !m.EnableMPP || !m.EnableSessions ||
		m.Realm(cfg.ListenAddr) != "localhost:8081" ||
		m.DepositMultiplier() != 20 ||
		m.IdleTimeout() != 300*time.Second {
		t.Fatalf("MPP config %+v", m)
	}
	if l, p := cfg.Services[0].schemes(m); !l || !p {
		t.Fatalf("default authscheme with MPP on: l402 %v payment %v", l, p)
	}

	cfg, err = LoadConfig(writeConfig(t, mppConfig(
		"  mpprealm: api.example.com\n  sessiondepositmultiplier: 5\n"+
			"  sessionidletimeout: 60\n")))
	if err != nil {
		t.Fatal(err)
	}
	m = cfg.Authenticator.MPP
	if m.Realm(cfg.ListenAddr) != "api.example.com" ||
		m.DepositMultiplier() != 5 || m.IdleTimeout() != time.Minute {
		t.Fatalf("MPP config %+v", m)
	}

	for _, tc := range []struct {
		scheme, enable string
		l402, payment  bool
	}{
		{"", "", true, false},
		{"l402", "  enablempp: true\n", true, false},
		{"mpp", "  enablempp: true\n", false, true},
		{"L402+MPP", "  enablempp: true\n", true, true},
	} {
		yaml := strings.Replace(apertureSkillConfig, "  network:",
			tc.enable+"  network:", 1)
		if tc.scheme != "" {
			yaml = strings.Replace(yaml, "    price: 100\n",
				"    price: 100\n    authscheme: "+tc.scheme+"\n", 1)
		}
		cfg, err := LoadConfig(writeConfig(t, yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.scheme, err)
		}
		l, p := cfg.Services[0].schemes(cfg.Authenticator.MPP)
		if l != tc.l402 || p != tc.payment {
			t.Errorf("authscheme %q: l402 %v payment %v", tc.scheme, l, p)
		}
	}
}

// TestLoadMPPConfigRefuses: what the Payment scheme cannot serve is
// refused at start, with the reason.
func TestLoadMPPConfigRefuses(t *testing.T) {
	service := func(key string) func(string) string {
		return func(s string) string {
			return strings.Replace(s, "    price: 100\n",
				"    price: 100\n    "+key+"\n", 1)
		}
	}
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"a store that cannot hold single-use claims",
			strings.Replace(mppConfig(""), `dbbackend: "sqlite"`,
				`dbbackend: "etcd"`, 1),
			[]string{"enablempp", "etcd", "single-use"}},
		{"sessions without MPP", strings.Replace(apertureSkillConfig,
			"  network:", "  enablesessions: true\n  network:", 1),
			[]string{"enablesessions needs", "enablempp"}},
		{"authscheme mpp without MPP",
			service("authscheme: mpp")(apertureSkillConfig),
			[]string{"authscheme", "enablempp"}},
		{"an unknown authscheme",
			service("authscheme: macaroon")(mppConfig("")),
			[]string{"authscheme", "l402+mpp"}},
		{"a realm with a delimiter", mppConfig("  mpprealm: a|b\n"),
			[]string{"mpprealm", "|"}},
		{"a negative multiplier",
			mppConfig("  sessiondepositmultiplier: -1\n"),
			[]string{"sessiondepositmultiplier"}},
		{"a negative idle timeout",
			mppConfig("  sessionidletimeout: -5\n"),
			[]string{"sessionidletimeout"}},
		{"a negative write interval",
			mppConfig("  sessionwriteinterval: -1s\n"),
			[]string{"sessionwriteinterval", "negative"}},
		{"a write interval over a minute",
			mppConfig("  sessionwriteinterval: 2m\n"),
			[]string{"sessionwriteinterval", "at most 1m"}},
		{"a write interval on postgres", strings.Replace(
			mppConfig("  sessionwriteinterval: 50ms\n"),
			`dbbackend: "sqlite"`, "dbbackend: postgres\npostgres:\n"+
				"  host: localhost\n  dbname: l402", 1),
			[]string{"sessionwriteinterval", "Postgres"}},
		{"a deposit above what an invoice can ask",
			strings.Replace(mppConfig("  enablesessions: true\n"),
				"price: 100", "price: 2000000000000000", 1),
			[]string{"deposit", "sessiondepositmultiplier"}},
		{"a session macaroon over LNC", strings.Replace(mppConfig(
			"  enablesessions: true\n  sessionmacaroon: /m\n"),
			`  lndhost: "localhost:10009"
  tlspath: "~/.lnd/tls.cert"
  macdir: "~/.lnd/data/chain/bitcoin/mainnet"
`, "  passphrasefile: /etc/phrase\n", 1),
			[]string{"sessionmacaroon", "Lightning Node Connect"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.yaml))
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
