package setup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/l402/l402/internal/macaroons"
)

// seller writes serve.yaml: the invoice macaroon (macaroons.go), the
// service, the listen address.
func (o *Options) seller(ctx context.Context, node *found,
	rep *Report) error {

	auth := serveAuth{Disable: true}
	if node != nil {
		macDir, err := o.invoiceMacDir(ctx, node, rep)
		if err != nil {
			return err
		}
		res := node.res
		auth = serveAuth{Network: res.Network, LndHost: res.RPCHost,
			TLSPath: res.TLSCertPath, MacDir: macDir}
	}
	return o.writeServe(auth, rep)
}

// Headers of the files setup writes, above the keys of the templates.
const (
	serveHeader = "# Written by l402 setup. Every key: docs/serve-config.md.\n"
	fetchHeader = "# Written by l402 setup. Every key: docs/fetch.md.\n"
)

// writeServe writes serve.yaml, rendered from templates/serve.yaml.tmpl,
// with the given authenticator.
func (o *Options) writeServe(auth serveAuth, rep *Report) error {
	proto, addr, _ := upstream(o.Upstream)
	listen := o.Listen
	if listen == "" {
		listen = "localhost:" + strconv.Itoa(o.Port)
	}
	body, err := renderKeys(serveTemplate, serveHeader, serveValues{
		ListenAddr: listen, Insecure: o.Insecure, DebugLevel: "info",
		DBFile: filepath.Join(o.Home, "serve.db"), Auth: auth,
		Service: serveService{Name: o.Service, HostRegexp: ".*",
			PathRegexp: o.Path, Address: addr, Protocol: proto,
			Price: o.Price}})
	if err != nil {
		return err
	}
	if err := o.writeConfig("serve.yaml", body, rep); err != nil {
		return err
	}
	scheme := "https"
	if o.Insecure {
		scheme = "http"
	}
	rep.Next = append(rep.Next, "l402 serve   # sells "+proto+"://"+addr+
		" at "+scheme+"://"+listen+" for "+strconv.FormatInt(o.Price, 10)+
		" sat")
	if o.NoAuth {
		rep.Warnings = append(rep.Warnings, "--no-auth: serve will let "+
			"every request through without payment")
	}
	return nil
}

// buyer writes fetch.yaml with the least-privileged macaroon that pays
// (macaroons.go).
func (o *Options) buyer(ctx context.Context, node *found,
	rep *Report) error {

	mac, err := o.payMacaroon(ctx, node, rep)
	if err != nil {
		return err
	}
	res := node.res
	return o.writeFetch(fetchValues{Lnd: &fetchLnd{Host: res.RPCHost,
		TLSCertPath: res.TLSCertPath, MacaroonPath: mac}}, rep)
}

// writeFetch writes fetch.yaml, rendered from templates/fetch.yaml.tmpl,
// with the node section of values (lnd or lnc) and --max-cost.
func (o *Options) writeFetch(values fetchValues, rep *Report) error {
	values.MaxCost = o.MaxCost
	body, err := renderKeys(fetchTemplate, fetchHeader, values)
	if err != nil {
		return err
	}
	if err := o.writeConfig("fetch.yaml", body, rep); err != nil {
		return err
	}
	// The cap fetch.yaml now has, or the one the README's recipe uses.
	maxCost := o.MaxCost
	if maxCost == 0 {
		maxCost = 100
	}
	rep.Next = append(rep.Next, "l402 fetch --max-cost "+
		strconv.FormatInt(maxCost, 10)+" URL")
	return nil
}

// writeConfig writes name in Home at 0600, unless a file with other
// content is there and --force is not set: then it records the diff.
func (o *Options) writeConfig(name, body string, rep *Report) error {
	path := filepath.Join(o.Home, name)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, []byte(body)):
		rep.Files = append(rep.Files, File{Path: path, Status: "unchanged"})
		return nil
	case err == nil && !o.Force:
		rep.Files = append(rep.Files, File{Path: path, Status: "differs",
			Diff: lineDiff(string(old), body)})
		return nil
	case err != nil && !os.IsNotExist(err):
		return err
	}
	if err := os.MkdirAll(o.Home, 0o700); err != nil {
		return err
	}
	if err := macaroons.WriteSecretFile(path, []byte(body),
		o.Force); err != nil {
		return err
	}
	rep.Files = append(rep.Files, File{Path: path, Status: "written"})
	return nil
}

// lineDiff is a small unified-style diff of two short files: the lines
// only in old ("-") and only in new ("+"), in order, by longest common
// subsequence.
func lineDiff(old, new string) string {
	a := strings.Split(strings.TrimSuffix(old, "\n"), "\n")
	b := strings.Split(strings.TrimSuffix(new, "\n"), "\n")
	if len(a)*len(b) > 1_000_000 {
		return "  (files too long to compare here)\n"
	}
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&out, "  - %s\n", redact(a[i]))
			i++
		default:
			fmt.Fprintf(&out, "  + %s\n", redact(b[j]))
			j++
		}
	}
	return out.String()
}

// secretLine matches YAML lines whose key names a secret (a password, a
// passphrase, an API key or token, an Authorization header).
var secretLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)^(\s*(?:-\s*)?[\w.-]*` +
		`(?:password|passphrase|secret|token|api[-_]?key|authorization)` +
		`[\w.-]*\s*:\s*)\S.*$`)
})

// redact hides the value of a line that holds a secret, so that a diff
// printed to a log or captured by an agent does not leak it.
func redact(line string) string {
	return secretLine().ReplaceAllString(line, "${1}<redacted>")
}
