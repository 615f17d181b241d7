package lnddetect

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseConf checks the INI dialect of lnd's parser, go-flags'
// IniParser (ini.go readIni): trimmed lines, ';' and '#' comments at the
// start of a line only, sections, the first '=' splits, quoted values.
func TestParseConf(t *testing.T) {
	data := "; comment\r\n" +
		"# another\n" +
		"[Application Options]\n" +
		"  RPCListen = 0.0.0.0:10009  \n" +
		"alias=a=b\n" +
		"tlsextradomain=\"my node\"\n" +
		"debuglevel=info # not a comment\n" +
		"\n" +
		"[ Bitcoin ]\n" +
		"bitcoin.mainnet\n" +
		"bitcoin.mainnet=\n" +
		"[broken\n" +
		"[]\n" +
		"x=\"unterminated\n"
	entries, problems := parseConf([]byte(data))
	want := []confEntry{
		{"rpclisten", "0.0.0.0:10009", 4},
		{"alias", "a=b", 5},
		{"tlsextradomain", "my node", 6},
		{"debuglevel", "info # not a comment", 7},
		{"bitcoin.mainnet", "", 11},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("entries\n got %+v\nwant %+v", entries, want)
	}
	wantProblems := []string{
		"line 10: \"bitcoin.mainnet\" is not key=value",
		"line 12: malformed section header \"[broken\"",
		"line 13: empty section name",
		"line 14: bad quoted value \"unterminated",
	}
	if !reflect.DeepEqual(problems, wantProblems) {
		t.Errorf("problems\n got %q\nwant %q", problems, wantProblems)
	}
}

// TestLndSettings checks the options lnd.conf and lit.conf set.
func TestLndSettings(t *testing.T) {
	entries, _ := parseConf([]byte(strings.Join([]string{
		"rpclisten=localhost:1",
		"rpclisten=localhost:2",
		"tlscertpath=/a/tls.cert",
		"tlscertpath=/b/tls.cert",
		"tlskeypath=/b/tls.key",
		"datadir=/d",
		"lnddir=/l",
		"invoicemacaroonpath=/m/invoice.macaroon",
		"bitcoin.regtest=TRUE",
		"bitcoin.simnet=maybe",
		"lnd.rpclisten=ignored",
	}, "\n")))
	c, problems := lndSettings(entries, "")
	want := lndConf{
		rpcListen:   "localhost:1",
		tlsCertPath: "/b/tls.cert",
		tlsKeyPath:  "/b/tls.key",
		dataDir:     "/d",
		lndDir:      "/l",
		macPaths:    map[string]string{"invoice": "/m/invoice.macaroon"},
		networks:    []string{"regtest"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if len(problems) != 1 ||
		!strings.Contains(problems[0], "bitcoin.simnet=maybe") {

		t.Errorf("problems %q", problems)
	}
}

// TestLitSettings checks lit.conf: lnd's options prefixed "lnd.", litd's
// own at the top level.
func TestLitSettings(t *testing.T) {
	entries, _ := parseConf([]byte(strings.Join([]string{
		"network=testnet",
		"lnd-mode=integrated",
		"tlscertpath=~/.lit/tls.cert",
		"lnd.tlscertpath=~/.lnd/tls.cert",
		"lnd.rpclisten=0.0.0.0:10009",
		"lnd.bitcoin.testnet=1",
		"remote.lnd.rpcserver=host:1",
	}, "\n")))
	c, _ := litSettings(entries)
	if c.network != "testnet" || c.mode != "integrated" ||
		c.lnd.tlsCertPath != "~/.lnd/tls.cert" ||
		c.lnd.rpcListen != "0.0.0.0:10009" ||
		!reflect.DeepEqual(c.lnd.networks, []string{"testnet"}) ||
		c.remoteHost != "host:1" {

		t.Errorf("got %+v", c)
	}

	c, _ = litSettings(nil)
	if c.mode != "remote" {
		t.Errorf("default mode %q", c.mode)
	}
}

// TestRPCHost checks the rpclisten values lnd accepts
// (lncfg.ParseAddressString and verifyPort).
func TestRPCHost(t *testing.T) {
	cases := map[string]string{
		"":                      "localhost:10009",
		"10010":                 "localhost:10010",
		"localhost":             "localhost:10009",
		"0.0.0.0:10009":         "127.0.0.1:10009",
		"0.0.0.0":               "127.0.0.1:10009",
		":10011":                "127.0.0.1:10011",
		"[::]:10009":            "[::1]:10009",
		"[::]":                  "[::1]:10009",
		"::":                    "[::1]:10009",
		"[::1]:10012":           "[::1]:10012",
		"192.168.1.5:10009":     "192.168.1.5:10009",
		"tcp://0.0.0.0:10013":   "127.0.0.1:10013",
		"tcp4:127.0.0.1:10014":  "127.0.0.1:10014",
		"node.lan":              "node.lan:10009",
		"unix:///run/lnd.sock":  "unix:///run/lnd.sock",
		"unix:/run/lnd.sock":    "unix:///run/lnd.sock",
		"unix:lnd.sock":         "unix:lnd.sock",
		"unixpacket://lnd.sock": "unix:lnd.sock",
	}
	for in, want := range cases {
		if got := RPCHost(in); got != want {
			t.Errorf("RPCHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseConf checks that no config file makes the parser, the
// settings or RPCHost panic, and that every entry is a key=value line.
func FuzzParseConf(f *testing.F) {
	f.Add([]byte("[Application Options]\nrpclisten=0.0.0.0:10009\n" +
		"[Bitcoin]\nbitcoin.mainnet=1\n"))
	f.Add([]byte("lnd-mode=integrated\nlnd.lnddir=~/.lnd\n" +
		"lnd.rpclisten=[::]\nnetwork=testnet\n"))
	f.Add([]byte("x=\"\\x00\"\n[\n]\n;=\n=\n\r\n"))
	f.Add([]byte("rpclisten=unix://\nrpclisten=tcp:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, _ := parseConf(data)
		for _, e := range entries {
			if strings.Contains(e.Key, "=") || e.Line < 1 {
				t.Fatalf("bad entry %+v", e)
			}
			RPCHost(e.Value)
		}
		c, _ := lndSettings(entries, "")
		RPCHost(c.rpcListen)
		lit, _ := litSettings(entries)
		RPCHost(lit.lnd.rpcListen)
		RPCHost(lit.remoteHost)
	})
}
