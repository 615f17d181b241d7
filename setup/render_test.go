package setup

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// update rewrites templates/serve.yaml and fetch.yaml from their
// templates (go generate ./templates runs it).
var update = flag.Bool("update", false, "rewrite templates/serve.yaml "+
	"and templates/fetch.yaml from their .tmpl sources")

// documented are the values templates/serve.yaml and fetch.yaml show:
// the safe defaults users copy.
var documented = []struct {
	file   string
	tmpl   string
	values any
}{
	{"../templates/serve.yaml", serveTemplate, serveValues{Full: true,
		ListenAddr: "localhost:8081", DebugLevel: "info",
		DBFile: "~/.l402/serve.db",
		Auth: serveAuth{Network: "mainnet", LndHost: "localhost:10009",
			TLSPath: "~/.lnd/tls.cert",
			MacDir:  "~/.lnd/data/chain/bitcoin/mainnet"},
		Service: serveService{Name: "api", HostRegexp: ".*",
			PathRegexp: "^/.*$", Address: "127.0.0.1:8080",
			Protocol: "http", Price: 100}}},
	{"../templates/fetch.yaml", fetchTemplate, fetchValues{Full: true,
		Lnd: &fetchLnd{Host: "localhost:10009",
			TLSCertPath:  "~/.lnd/tls.cert",
			MacaroonPath: "~/.l402/macaroons/mainnet/pay-only.macaroon"},
		MaxCost: 1000}},
}

// TestTemplatesAreRendered checks that the files users copy are their
// templates rendered with the documented values, so that they cannot
// drift from what setup writes; -update rewrites them.
func TestTemplatesAreRendered(t *testing.T) {
	for _, d := range documented {
		got, err := render(d.tmpl, d.values)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(d.file, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(d.file)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is not templates/%s rendered: run go generate "+
				"./templates (or go test ./setup -run "+
				"TestTemplatesAreRendered -update); diff:\n%s", d.file,
				d.tmpl, lineDiff(string(want), string(got)))
		}
	}
}

// TestSetupFilesKeepTheirShape pins the text setup writes, for each kind
// of node: the keys it always wrote, in the same order, so that a file
// written by an older l402 with the same flags stays "unchanged".
func TestSetupFilesKeepTheirShape(t *testing.T) {
	service := `services:
  - name: api
    hostregexp: ".*"
    pathregexp: "^/.*$"
    address: "127.0.0.1:8080"
    protocol: http
    price: 100
`
	top := func(home string) string {
		return serveHeader + `listenaddr: "localhost:8081"
insecure: false
debuglevel: info
dbbackend: sqlite
sqlite:
  dbfile: "` + home + `/serve.db"
authenticator:
`
	}
	tests := []struct {
		name  string
		file  string
		write func(o *Options, rep *Report) error
		want  func(home string) string
	}{
		{"serve without lnd", "serve.yaml", func(o *Options,
			rep *Report) error {

			return o.writeServe(serveAuth{Disable: true}, rep)
		}, func(home string) string {
			return top(home) + "  disable: true\n" + service
		}},
		{"serve on lnd", "serve.yaml", func(o *Options,
			rep *Report) error {

			return o.writeServe(serveAuth{Network: "regtest",
				LndHost: "127.0.0.1:10009", TLSPath: "/lnd/tls.cert",
				MacDir: "/lnd/data/chain/bitcoin/regtest"}, rep)
		}, func(home string) string {
			return top(home) + `  network: regtest
  lndhost: "127.0.0.1:10009"
  tlspath: "/lnd/tls.cert"
  macdir: "/lnd/data/chain/bitcoin/regtest"
` + service
		}},
		{"serve over LNC", "serve.yaml", func(o *Options,
			rep *Report) error {

			o.LNC.Mailbox, o.LNC.DevServer = "127.0.0.1:8443", true
			return o.writeServe(o.lncServeAuth("mainnet",
				o.lncFilesFor(true)), rep)
		}, func(home string) string {
			return top(home) + `  network: mainnet
  passphrasefile: "` + home + `/lnc-serve.phrase"
  mailboxaddress: "127.0.0.1:8443"
  devserver: true
  sessionfile: "` + home + `/lnc-serve.json"
` + service
		}},
		{"fetch on lnd", "fetch.yaml", func(o *Options,
			rep *Report) error {

			o.MaxCost = 50
			return o.writeFetch(fetchValues{Lnd: &fetchLnd{
				Host: "127.0.0.1:10009", TLSCertPath: "/lnd/tls.cert",
				MacaroonPath: "/m/pay-only.macaroon"}}, rep)
		}, func(string) string {
			return fetchHeader + `lnd:
  host: "127.0.0.1:10009"
  tlscertpath: "/lnd/tls.cert"
  macaroonpath: "/m/pay-only.macaroon"
maxcost: 50
maxtotal: 5000
`
		}},
		{"fetch over LNC", "fetch.yaml", func(o *Options,
			rep *Report) error {

			return o.writeFetch(o.lncFetchSection(o.lncFilesFor(false)),
				rep)
		}, func(home string) string {
			return fetchHeader + `lnc:
  mailboxaddress: "mailbox.terminal.lightning.today:443"
  phrasefile: "` + home + `/lnc-fetch.phrase"
  sessionfile: "` + home + `/lnc-fetch.json"
maxtotal: 5000
`
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options(t)
			rep := &Report{}
			if err := tc.write(&o, rep); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(o.Home, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(o.Home); string(b) != want {
				t.Fatalf("%s:\n%s\nwant:\n%s\ndiff:\n%s", tc.file, b, want,
					lineDiff(want, string(b)))
			}
		})
	}
}

// TestYAMLScalar checks the templates' yaml function on the values that
// broke or changed the YAML setup wrote with fmt.Sprintf.
func TestYAMLScalar(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"api", "api"},
		{"regtest", "regtest"},
		{"a: b", `"a: b"`},
		{"#x", `"#x"`},
		{`"q"`, `"\"q\""`},
		{"'", `"'"`},
		{"a\nb", `"a\nb"`},
		{"^/.*$", `"^/.*$"`},
		{"localhost:8081", `"localhost:8081"`},
		{"", `""`},
		{"true", `"true"`},
		{"yes", `"yes"`},
		{"null", `"null"`},
		{"123", `"123"`},
		{"1.5", `"1.5"`},
		{"~", `"~"`},
		{"- x", `"- x"`},
		{"*a", `"*a"`},
		{int64(100), "100"},
		{7, "7"},
		{true, "true"},
	}
	for _, tc := range tests {
		got, err := yamlScalar(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("yaml(%#v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := yamlScalar("\xff"); err == nil {
		t.Error("invalid UTF-8 was encoded")
	}
	if _, err := yamlScalar([]string{"a"}); !errors.Is(err, errNotScalar) {
		t.Errorf("a list: %v", err)
	}
}

// FuzzYAMLScalar: any string renders to one YAML line that decodes to the
// same string, as a mapping value and as a list item's; text that is not
// UTF-8 is refused.
func FuzzYAMLScalar(f *testing.F) {
	for _, s := range []string{"api", "a: b", "#x", `"q"`, "'", "a\nb",
		"", " ", "\t", "\x00", "\u2028", "\ufeff", "\x85", "- x", "? x",
		"!tag", "&a", "*a", "%x", "@x", "`x", "{a: 1}", "[a]", "|", ">",
		"~", "null", "true", "0x1F", "1e3", ".inf", "<<", "\\", "\r\n",
		"\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := yamlScalar(s)
		if !utf8.ValidString(s) {
			if err == nil {
				t.Fatalf("%q: invalid UTF-8 encoded as %s", s, out)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if strings.ContainsAny(out, "\r\n") {
			t.Fatalf("%q: more than one line: %q", s, out)
		}
		for _, doc := range []string{"k: " + out + "\n",
			"l:\n  - k: " + out + "\n    n: 1\n"} {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%q as %q: %v", s, doc, err)
			}
			v := m["k"]
			if l, ok := m["l"].([]any); ok && len(l) == 1 {
				item, _ := l[0].(map[string]any)
				v = item["k"]
			}
			if got, ok := v.(string); !ok || got != s {
				t.Fatalf("%q as %q decodes to %#v", s, doc, v)
			}
		}
	})
}
