package tokens

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Origin returns the key a token is stored under: scheme, host and port,
// as "https://example.com:443". The port is always explicit, so that a
// token bought over https is never offered over http, nor to another port.
func Origin(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("URL scheme %q is not http or https",
			u.Scheme)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("URL %q has no host", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// ParseOrigin accepts an origin or any URL and returns its origin, for the
// arguments of `tokens show` and `tokens remove`.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a URL or origin: %w", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%q is not an origin: write it as "+
			"https://host[:port]", s)
	}
	return Origin(u)
}
