package serve

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// AdminConfig is Aperture's admin section: the admin API (gRPC
// adminrpc.Admin and REST /api/admin/*), off unless enabled. docs/admin.md
// documents it.
type AdminConfig struct {
	Enabled bool `yaml:"enabled"`

	// MacaroonPath is where serve writes the admin macaroon at its first
	// start (default admin.macaroon in l402's directory).
	MacaroonPath string `yaml:"macaroonpath"`

	// CORSOrigin are the origins whose pages may call the REST API
	// ("*" for any), as in Aperture; none by default.
	CORSOrigin []string `yaml:"corsorigin"`

	// ListenAddr (ours), when set, serves the admin API on a listener of
	// its own (TLS like the main one) instead of on listenaddr.
	ListenAddr string `yaml:"listenaddr"`
}

// DefaultAdminMacaroon is the admin macaroon's file name in l402's
// directory.
const DefaultAdminMacaroon = "admin.macaroon"

// macaroonPath returns the admin macaroon's file, the default in dir.
func (a AdminConfig) macaroonPath(dir string) string {
	if a.MacaroonPath != "" {
		return a.MacaroonPath
	}
	return filepath.Join(dir, DefaultAdminMacaroon)
}

// check validates the admin section.
func (a *AdminConfig) check() []error {
	var errs []error
	if a.ListenAddr != "" {
		if _, _, err := net.SplitHostPort(a.ListenAddr); err != nil {
			errs = append(errs, fmt.Errorf("admin.listenaddr %q is not "+
				"host:port (for example localhost:8082)", a.ListenAddr))
		}
	}
	for _, o := range a.CORSOrigin {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || strings.Contains(o, "*") {
			errs = append(errs, fmt.Errorf("admin.corsorigin %q is not an "+
				"origin such as https://dashboard.example.com, or *", o))
		}
	}
	return errs
}
