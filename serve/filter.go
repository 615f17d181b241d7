package serve

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// filterStage is the chain's first stage: it finds the client's address,
// refuses blocklisted clients (403) and paths that are not canonical
// (400), so that no later regexp sees a path a backend would read
// differently.
type filterStage struct {
	chained
	clients *clientFilter
}

// serve implements stage.
func (s *filterStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	f.ip = s.clients.clientIP(r)
	if s.clients.blocks(f.ip) {
		answer(w, r, http.StatusForbidden, grpcPermissionDenied, "forbidden")
		return
	}
	if why := nonCanonicalPath(r.URL); why != "" {
		// Regexps (whitelist, capability rules, prices) see the path
		// as sent, while many backends clean it first: /free/../paid
		// must not pass as /free/.
		answer(w, r, http.StatusBadRequest, grpcInvalidArgument,
			"the request path "+why)
		return
	}
	s.next.serve(w, r, f)
}

// clientFilter finds a request's client IP, trusting the X-Forwarded-For
// of trustedproxies, and knows the blocklist.
type clientFilter struct {
	trusted []*net.IPNet
	blocked map[string]bool
}

// newClientFilter builds the filter of cfg's trustedproxies and
// blocklist.
func newClientFilter(cfg *Config) (*clientFilter, error) {
	f := &clientFilter{blocked: map[string]bool{}}
	for _, cidr := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("trustedproxies: %w", err)
		}
		f.trusted = append(f.trusted, n)
	}
	for _, ip := range cfg.Blocklist {
		f.blocked[net.ParseIP(ip).String()] = true
	}
	return f, nil
}

// clientIP returns the request's client IP.
func (f *clientFilter) clientIP(r *http.Request) net.IP {
	return clientIP(r, f.trusted)
}

// blocks reports whether ip is on the blocklist.
func (f *clientFilter) blocks(ip net.IP) bool {
	return len(f.blocked) > 0 && ip != nil && f.blocked[ip.String()]
}

// clientIP returns the request's client address: the connection's peer,
// or, when the peer is a trusted proxy, the last X-Forwarded-For entry
// not itself trusted.
func clientIP(r *http.Request, trusted []*net.IPNet) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || !inNets(ip, trusted) {
		return ip
	}

	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := net.ParseIP(strings.TrimSpace(hops[i]))
		if hop == nil {
			break
		}
		ip = hop
		if !inNets(hop, trusted) {
			break
		}
	}
	return ip
}

// inNets reports whether ip is in one of nets.
func inNets(ip net.IP, nets []*net.IPNet) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientKey is the key a client is limited by: its IP address, or for
// IPv6 its /64, which one machine usually holds whole.
func clientKey(ip net.IP) string {
	if ip == nil {
		return "unknown"
	}
	if ip.To4() == nil && len(ip) == net.IPv6len {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// nonCanonicalPath says why a request path is refused, or "" when it is
// canonical: absolute, already clean (no "." or ".." segments, no empty
// segments; a trailing slash is fine), without escaped slashes, dots
// or backslashes that a backend could decode into one of those, and with
// segments no backend reads as another path (see badSegment).
func nonCanonicalPath(u *url.URL) string {
	p := u.Path
	if p == "" || p[0] != '/' {
		return "must start with /"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return "is not clean (no //, /./ or /../)"
	}
	if strings.ContainsRune(p, '\\') {
		return "may not contain a backslash"
	}
	raw := strings.ToLower(u.RawPath)
	for _, esc := range []string{"%2f", "%2e", "%5c"} {
		if strings.Contains(raw, esc) {
			return "may not escape /, . or \\"
		}
	}
	for rest, more := p[1:], true; more; {
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if why := badSegment(seg); why != "" {
			return why
		}
	}
	return ""
}

// badSegment says why one segment of a decoded path is refused, or ""
// when it is fine. Each refusal is a way a backend reads the segment as
// another path than serve's regexps see: Tomcat, Jetty and Spring drop
// what follows a ";" (so "..;x" is ".."), a backend that decodes twice
// turns "%252e" into ".", lenient decoders read overlong UTF-8 such as
// C0 AE as ".", C strings end at a NUL, and Unicode folding (NFKC)
// turns a fullwidth full stop into ".".
func badSegment(seg string) string {
	if name, _, ok := strings.Cut(seg, ";"); ok &&
		(name == "." || name == "..") {
		return "may not have a . or .. segment before a ;"
	}
	if strings.ContainsRune(seg, '%') {
		return "may not escape a % (%25)"
	}
	if strings.ContainsRune(seg, 0) {
		return "may not contain a NUL (%00)"
	}
	if !utf8.ValidString(seg) {
		return "must be valid UTF-8 (no overlong forms)"
	}
	for _, r := range seg {
		if unicode.Is(pathLookAlikes, r) {
			return fmt.Sprintf("may not contain %U, which Unicode "+
				"folding reads as ., / or \\", r)
		}
	}
	return ""
}

// pathLookAlikes are the characters a backend that folds Unicode may
// read as ".", "/" or "\\": those whose compatibility form (NFKC, as of
// Unicode 15) contains one (the one dot leader U+2024, the fullwidth
// full stop U+FF0E, the small full stop U+FE52, the fullwidth solidus
// U+FF0F, ...), and the ideographic full stops that IDNA maps to ".".
var pathLookAlikes = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x2024, Hi: 0x2026, Stride: 1},
		{Lo: 0x2100, Hi: 0x2101, Stride: 1},
		{Lo: 0x2105, Hi: 0x2106, Stride: 1},
		{Lo: 0x2488, Hi: 0x249b, Stride: 1},
		{Lo: 0x3002, Hi: 0x3002, Stride: 1},
		{Lo: 0x33c2, Hi: 0x33c7, Stride: 5},
		{Lo: 0x33d8, Hi: 0x33d8, Stride: 1},
		{Lo: 0xfe12, Hi: 0xfe12, Stride: 1},
		{Lo: 0xfe19, Hi: 0xfe19, Stride: 1},
		{Lo: 0xfe30, Hi: 0xfe30, Stride: 1},
		{Lo: 0xfe52, Hi: 0xfe52, Stride: 1},
		{Lo: 0xfe68, Hi: 0xfe68, Stride: 1},
		{Lo: 0xff0e, Hi: 0xff0f, Stride: 1},
		{Lo: 0xff3c, Hi: 0xff3c, Stride: 1},
		{Lo: 0xff61, Hi: 0xff61, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x1f100, Hi: 0x1f100, Stride: 1},
	},
}
