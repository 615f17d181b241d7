package setup

import (
	"flag"
	"os"
	"testing"
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
