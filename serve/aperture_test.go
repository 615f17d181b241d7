package serve

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// apertureSample is Aperture's own sample-conf.yaml (testdata/README.md).
func apertureSample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/aperture-sample-conf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLoadApertureSample: every key of Aperture's sample-conf.yaml is
// read. The sample as published names two nodes, lnd (lndhost) and LNC
// (passphrase), which Aperture's own check refuses too: that is the one
// error, and nothing else in the file is. Without the passphrase line
// (the sample's LNC alternative) it loads: the Aperture features it
// leaves off are accepted, its typo dynamicprice.enbled is a warning that
// names the key meant (dynamicprice is off, as Aperture reads it), and
// the keys l402 serves take the sample's values.
func TestLoadApertureSample(t *testing.T) {
	sample := apertureSample(t)
	_, err := LoadConfig(writeConfig(t, sample))
	if err == nil || !strings.Contains(err.Error(), "lndhost") ||
		!strings.Contains(err.Error(), "passphrase") ||
		strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("the sample as published: %v\nwant only the two nodes "+
			"named", err)
	}
	for _, key := range []string{"staticroot", "servestatic", "configfile",
		"basedir", "strictverify", "invoicebatchsize", "profile",
		"timeout", "wsp", "skipmigrations", "requireSSL", "etcd", "tor:",
		"logging", "enbled", "unknown"} {
		if strings.Contains(err.Error(), key) {
			t.Errorf("the sample's %s is refused: %v", key, err)
		}
	}

	lnd := strings.Replace(sample, "  passphrase: \"your pairing phrase\"\n",
		"", 1)
	cfg, err := LoadConfig(writeConfig(t, lnd))
	if err != nil {
		t.Fatal(err)
	}
	warnings := strings.Join(cfg.Warnings, "\n")
	if !strings.Contains(warnings, `line 322: services[2].dynamicprice: `+
		`unknown key "enbled": did you mean "enabled"?`) ||
		!strings.Contains(warnings, "logging.file") ||
		len(cfg.Warnings) != 2 {
		t.Fatalf("warnings:\n%s", warnings)
	}

	idle, read, write := cfg.timeouts()
	a := cfg.Authenticator
	switch {
	case idle != 2*time.Minute || read != 15*time.Second ||
		write != 30*time.Second:
		t.Errorf("timeouts %s %s %s", idle, read, write)
	case cfg.Dir("/l402") != "/path/to/.aperture":
		t.Errorf("basedir: %s", cfg.Dir("/l402"))
	case cfg.Profile != 9999 || cfg.StrictVerify:
		t.Errorf("profile %d strictverify %v", cfg.Profile, cfg.StrictVerify)
	case cfg.WSPingInterval != 30*time.Second ||
		cfg.WSPongWait != 15*time.Second:
		t.Errorf("ws %s %s", cfg.WSPingInterval, cfg.WSPongWait)
	case !cfg.Postgres.requireSSL() || cfg.Postgres.SkipMigrations ||
		cfg.SQLite.SkipMigrations:
		t.Errorf("database %+v %+v", cfg.Postgres, cfg.SQLite)
	case a.LNC() || a.LndHost != "localhost:10009":
		t.Errorf("authenticator %+v: the mailbox beside lndhost is not "+
			"read, as in Aperture", a)
	case cfg.Services[2].DynamicPrice.Enabled || cfg.Services[2].Price != 1:
		t.Errorf("service3 %+v: without enabled it has Aperture's "+
			"default price", cfg.Services[2])
	case !cfg.Services[0].DynamicPrice.Enabled || !cfg.HashMail.Enabled ||
		!cfg.Prometheus.Enabled:
		t.Errorf("the sample's features: %+v", cfg)
	}

	// Its logging: the stricter of debuglevel (debug) and the
	// console's level (info), no timestamps.
	var buf bytes.Buffer
	log := newLogger(&buf, cfg)
	log.Debug("hidden")
	log.Info("shown")
	if got := buf.String(); strings.Contains(got, "hidden") ||
		!strings.Contains(got, "shown") || strings.Contains(got, "time=") {
		t.Errorf("log %q", got)
	}
}

// TestApertureFeaturesOn: an Aperture feature l402 does not serve is
// refused by name when the config switches it on, and accepted while it
// is off.
func TestApertureFeaturesOn(t *testing.T) {
	for extra, key := range map[string]string{
		"servestatic: true\nstaticroot: ./static\n":     "servestatic",
		"tor:\n  control: localhost:9051\n  v3: true\n": "tor",
		"tor:\n  v2: true\n":                            "tor",
	} {
		_, err := LoadConfig(writeConfig(t, apertureSkillConfig+extra))
		if err == nil || !strings.Contains(err.Error(), key+": ") ||
			!strings.Contains(err.Error(), notServed) {
			t.Errorf("%q: %v", extra, err)
		}
	}
	_, err := LoadConfig(writeConfig(t, strings.Replace(
		apertureSkillConfig, `dbbackend: "sqlite"`, `dbbackend: "etcd"`,
		1)))
	if err == nil || !strings.Contains(err.Error(), "dbbackend etcd") ||
		!strings.Contains(err.Error(), notServed) {
		t.Errorf("etcd: %v", err)
	}

	off := apertureSkillConfig + "    dynamicprice:\n      enabled: false\n" +
		"      metered: false\n      usagetailbytes: 16384\n" +
		`servestatic: false
staticroot: ./static
configfile: /etc/aperture.yaml
invoicebatchsize: 100000
tor:
  control: localhost:9051
  listenport: 8082
  virtualport: 8082
  v3: false
etcd:
  host: localhost:2379
  user: u
  password: p
admin:
  enabled: false
  macaroonpath: /x/admin.macaroon
  corsorigin: ["https://dashboard.example.com"]
logging:
  console:
    disable: false
`
	cfg, err := LoadConfig(writeConfig(t, off))
	if err != nil || len(cfg.Warnings) != 0 {
		t.Fatalf("features off: %v %q", err, cfg.Warnings)
	}
}

// TestServeConfigTyposAndFractions: a typo in a block that is on is an
// error that names the key meant; in one that is off (hashmail without
// enabled) a warning; a fractional price or timeout is refused in words.
// TestMeteredConfig: Aperture's metered mode is served. dynamicprice
// .metered needs the price server it asks, and usagetailbytes is 16 KiB
// unless set, at most 1 MiB.
func TestMeteredConfig(t *testing.T) {
	metered := func(extra string) string {
		return apertureSkillConfig + "    dynamicprice:\n" +
			"      enabled: true\n      grpcaddress: 127.0.0.1:1\n" +
			"      insecure: true\n      metered: true\n" + extra
	}

	cfg, err := LoadConfig(writeConfig(t, metered("")))
	if err != nil {
		t.Fatalf("metered: %v", err)
	}
	sc := cfg.Services[len(cfg.Services)-1]
	if !sc.metered() || sc.usageTailBytes() != DefaultUsageTailBytes {
		t.Errorf("metered service: %+v, tail %d", sc.DynamicPrice,
			sc.usageTailBytes())
	}

	cfg, err = LoadConfig(writeConfig(t, metered("      usagetailbytes: 1048576\n")))
	if err != nil {
		t.Fatalf("usagetailbytes at its cap: %v", err)
	}
	if n := cfg.Services[len(cfg.Services)-1].usageTailBytes(); n != MaxUsageTailBytes {
		t.Errorf("tail %d, want %d", n, MaxUsageTailBytes)
	}

	for extra, want := range map[string]string{
		"      usagetailbytes: 1048577\n": "usagetailbytes 1048577 is above the cap",
		"      usagetailbytes: -1\n":      "usagetailbytes cannot be negative",
		"    mode: shadow\n":              "dynamicprice.metered and mode: shadow exclude",
	} {
		_, err := LoadConfig(writeConfig(t, metered(extra)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", extra, err, want)
		}
	}

	_, err = LoadConfig(writeConfig(t, apertureSkillConfig+
		"    dynamicprice:\n      enabled: false\n      metered: true\n"))
	if err == nil || !strings.Contains(err.Error(),
		"dynamicprice.metered needs dynamicprice.enabled") {
		t.Errorf("metered without a price server: %v", err)
	}
}

func TestServeConfigTyposAndFractions(t *testing.T) {
	for extra, want := range map[string]string{
		"listenadr: x\n": `unknown key "listenadr": did you mean ` +
			`"listenaddr"?`,
		"    dynamicprice:\n      enabled: true\n      grpcadress: a:1\n": `` +
			`services[0].dynamicprice: unknown key "grpcadress": did you ` +
			`mean "grpcaddress"?`,
		"strictverfy: true\n": `did you mean "strictverify"?`,
		"cors:\n  alloworigins: [\"https://a.example\"]\n  maxgae: 1m\n": `` +
			`cors: unknown key "maxgae": did you mean "maxage"?`,
	} {
		_, err := LoadConfig(writeConfig(t, apertureSkillConfig+extra))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v\nwant %s", extra, err, want)
		}
	}

	cfg, err := LoadConfig(writeConfig(t, apertureSkillConfig+
		"hashmail:\n  messagerat: 20ms\n"))
	if err != nil || len(cfg.Warnings) != 1 || !strings.Contains(
		cfg.Warnings[0], `did you mean "messagerate"? (hashmail is off`) {
		t.Fatalf("typo in a block that is off: %v %q", err, cfg.Warnings)
	}

	for from, want := range map[string]string{
		"    price: 100\n": "services[0].price: want a whole number of " +
			"satoshis, got 1.5",
	} {
		_, err := LoadConfig(writeConfig(t, strings.Replace(
			apertureSkillConfig, from, "    price: 1.5\n", 1)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want %s", err, want)
		}
	}
	_, err = LoadConfig(writeConfig(t, apertureSkillConfig+
		"    timeout: 0.5\n"))
	if err == nil || !strings.Contains(err.Error(), "want a whole number "+
		"of seconds, got 0.5") {
		t.Errorf("timeout: %v", err)
	}
}

// TestServeConfigServedApertureKeys: the Aperture keys l402 serves are
// checked: timeouts (absent: Aperture's defaults, 0: no bound), profile's
// port, the pong wait, and basedir's "~".
func TestServeConfigServedApertureKeys(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, apertureSkillConfig))
	if err != nil {
		t.Fatal(err)
	}
	if idle, read, write := cfg.timeouts(); idle != DefaultIdleTimeout ||
		read != DefaultReadTimeout || write != DefaultWriteTimeout ||
		cfg.Dir("/l402") != "/l402" {
		t.Fatalf("defaults %s %s %s %s", idle, read, write, cfg.Dir("/l402"))
	}
	cfg, err = LoadConfig(writeConfig(t, strings.Replace(apertureSkillConfig,
		"sqlite:\n", "sqlite:\n  skipmigrations: true\n", 1)+
		"readtimeout: 0s\nwritetimeout: 0s\nbasedir: ~/.aperture\n"+
		"strictverify: true\n"))
	home, _ := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, read, write := cfg.timeouts(); read != 0 || write != 0 ||
		cfg.Dir("/l402") != home+"/.aperture" || !cfg.StrictVerify ||
		!cfg.SQLite.SkipMigrations {
		t.Fatalf("%+v", cfg)
	}

	for extra, want := range map[string]string{
		"profile: 80\n":                           "profile 80: use a port from 1024",
		"idletimeout: -1s\n":                      "idletimeout cannot be negative",
		"wspinginterval: 10s\nwspongwait: 10s\n":  "must be shorter",
		"invoicebatchsize: -1\n":                  "invoicebatchsize",
		"logging:\n  console:\n    level: loud\n": "logging.console.level",
	} {
		_, err := LoadConfig(writeConfig(t, apertureSkillConfig+extra))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", extra, err, want)
		}
	}
}
