package tokens

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrAmbiguous: an lnget domain names tokens of more than one origin (an
// http one and an https one); the origin must be named. ErrBadName: a
// name that is neither an origin, a URL nor a host[:port].
var (
	ErrAmbiguous = errors.New("ambiguous domain")
	ErrBadName   = errors.New("bad token name")
)

// Domain returns lnget's key for an origin: the host, with ":port" when
// the port is not 80 or 443, without the scheme. lnget v1.1.0 keys its
// tokens so; l402 keys them by origin, which keeps http and https apart.
func Domain(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	return domainKey(u.Hostname(), u.Port())
}

// NormalDomain returns the key of a domain argument, "host" or
// "host:port" ("[::1]:8080" too), as Domain writes it.
func NormalDomain(d string) string {
	if host, port, err := net.SplitHostPort(d); err == nil {
		return domainKey(host, port)
	}
	return domainKey(strings.Trim(d, "[]"), "")
}

// domainKey is lnget's key: host, and ":port" unless the port is 80,
// 443 or none.
func domainKey(host, port string) string {
	host = strings.ToLower(host)
	if port == "" || port == "80" || port == "443" {
		return host
	}
	return host + ":" + port
}

// IsDomain reports whether a name is lnget's host[:port] form rather
// than an origin or URL, which have a scheme.
func IsDomain(name string) bool { return !strings.Contains(name, "://") }

// ResolveName returns the origin of the token a name calls for: an
// origin or URL (ParseOrigin), or lnget's host[:port], which is the
// origin of the one token whose host and port it names, http or https
// ("127.0.0.1:8081" is http://127.0.0.1:8081 or https://127.0.0.1:8081;
// "example.com" port 80 or 443). A domain with no token is ErrNotFound;
// one with tokens of two origins is ErrAmbiguous, naming both.
func (s *Store) ResolveName(ctx context.Context, name string) (string,
	error) {

	if !IsDomain(name) {
		o, err := ParseOrigin(name)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadName, err)
		}
		return o, nil
	}
	if name == "" || strings.ContainsAny(name, "/?#@ \\") {
		return "", fmt.Errorf("%w: %q is neither an origin (https://"+
			"host[:port]) nor lnget's host[:port]", ErrBadName, name)
	}
	toks, err := s.Tokens(ctx)
	if err != nil {
		return "", err
	}
	want := NormalDomain(name)
	var found []string
	for _, t := range toks {
		if Domain(t.Origin) == want {
			found = append(found, t.Origin)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no token for %s: %w", name, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: %s has tokens for %s: name one by its "+
		"origin", ErrAmbiguous, name, strings.Join(found, " and "))
}
