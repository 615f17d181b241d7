package setup

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"unicode/utf8"

	"github.com/l402/l402/templates"
	"gopkg.in/yaml.v3"
)

// serveValues fill templates/serve.yaml.tmpl.
type serveValues struct {
	// Full renders every key with its comment, the service's example
	// limits and rules included: templates/serve.yaml. Otherwise only
	// the keys set here are rendered (what setup writes).
	Full bool

	ListenAddr string
	Insecure   bool
	DebugLevel string
	DBFile     string
	Auth       serveAuth
	Service    serveService
}

// serveAuth is serve.yaml's authenticator: disabled, lnd over gRPC
// (LndHost set), or Lightning Node Connect (PassphraseFile set). An empty
// Network is left out.
type serveAuth struct {
	Network string
	Disable bool

	LndHost, TLSPath, MacDir string

	PassphraseFile, MailboxAddress, SessionFile string
	DevServer                                   bool
}

// serveService is the one service setup writes.
type serveService struct {
	Name, HostRegexp, PathRegexp, Address, Protocol string
	Price                                           int64
}

// fetchValues fill templates/fetch.yaml.tmpl: the paying node (Lnd or
// LNC, one of the two) and the price limit (0: left to fetch's default,
// unless Full).
type fetchValues struct {
	// Full renders every key with its comment: templates/fetch.yaml.
	Full bool

	Lnd     *fetchLnd
	LNC     *fetchLNC
	MaxCost int64
}

// fetchLnd is fetch.yaml's lnd section.
type fetchLnd struct {
	Host, TLSCertPath, MacaroonPath string
}

// fetchLNC is fetch.yaml's lnc section.
type fetchLNC struct {
	MailboxAddress, PhraseFile, SessionFile string
	DevServer                               bool
}

// The templates' file names in templates.FS.
const (
	serveTemplate = "serve.yaml.tmpl"
	fetchTemplate = "fetch.yaml.tmpl"
)

// configTemplates are templates/*.tmpl, parsed the first time setup
// renders one (not at every start of l402: parsing them is most of
// setup's initialisation). A value only ever reaches them through the
// yaml function, never as raw text.
var configTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").
		Option("missingkey=error").
		Funcs(template.FuncMap{"yaml": yamlScalar}).
		ParseFS(templates.FS, "*.tmpl"))
})

// render executes one of the templates with its values.
func render(name string, values any) ([]byte, error) {
	var b bytes.Buffer
	if err := configTemplates().ExecuteTemplate(&b, name,
		values); err != nil {
		return nil, fmt.Errorf("unable to render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// renderKeys renders a template for setup: its key lines only, under
// header. The comments document templates/serve.yaml and fetch.yaml,
// which users read; the files setup writes stay short, and a value
// cannot start a line (yamlScalar writes one line), so no value is lost.
func renderKeys(name, header string, values any) (string, error) {
	body, err := render(name, values)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	out.WriteString(header)
	for _, line := range strings.SplitAfter(string(body), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		out.WriteString(line)
	}
	return out.String(), nil
}

// plainWord is a string that may stay unquoted when yaml.v3 writes it
// plain too: api, info, regtest. Anything else is double-quoted.
var plainWord = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
})

// errNotScalar is a template handing yamlScalar a value it does not
// encode: a bug in the template or its values.
var errNotScalar = errors.New("not a string, integer or boolean")

// yamlScalar is the templates' yaml function: v encoded by yaml.v3 as one
// scalar on one line, so that no value (a service name "#x" or "a: b", a
// path with quotes or a newline) can change the YAML around it. Strings
// are double-quoted unless they are plain words; text that is not UTF-8
// cannot be written as a YAML string and is an error.
func yamlScalar(v any) (string, error) {
	var node any
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return "", fmt.Errorf("%q is not UTF-8 text", x)
		}
		node = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x,
			Style: yaml.DoubleQuotedStyle}
		if plainWord().MatchString(x) {
			if b, err := yaml.Marshal(x); err == nil &&
				string(b) == x+"\n" {

				return x, nil
			}
		}
	case bool, int, int64:
		node = x
	default:
		return "", fmt.Errorf("yaml %T: %w", v, errNotScalar)
	}
	b, err := yaml.Marshal(node)
	if err != nil {
		return "", fmt.Errorf("unable to encode %v as YAML: %w", v, err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if strings.Contains(s, "\n") {
		return "", fmt.Errorf("%q encodes to more than one YAML line", v)
	}
	return s, nil
}
