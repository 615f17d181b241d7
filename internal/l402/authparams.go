package l402

import (
	"errors"
	"fmt"
	"strings"
)

// authChallenge is one challenge of a WWW-Authenticate field as RFC 7235
// defines it: a scheme followed by a token68 or by auth-params.
type authChallenge struct {
	scheme  string
	token68 string
	params  map[string]string // names folded to lower case
	err     error             // set when this challenge's params are bad
}

// maxChallenges bounds the work a hostile header can cause.
const maxChallenges = 64

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char reports whether c may appear in a token68 before its
// trailing '=' padding.
func isToken68Char(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// authParser walks one header field value.
type authParser struct {
	s   string
	pos int
}

// skipWS skips spaces and tabs.
func (p *authParser) skipWS() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// peek returns the next byte, or 0 at the end.
func (p *authParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// token reads an RFC 7230 token.
func (p *authParser) token() string {
	start := p.pos
	for p.pos < len(p.s) && isTokenChar(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// bareValue reads an unquoted parameter value. RFC 7235 allows only a
// token there, but servers write base64 ('/', '=') unquoted too, so it runs
// to the next comma or white space.
func (p *authParser) bareValue() string {
	start := p.pos
	for p.pos < len(p.s) && strings.IndexByte(", \t\"", p.s[p.pos]) < 0 {
		p.pos++
	}
	return p.s[start:p.pos]
}

// quoted reads a quoted-string, the opening quote being next.
func (p *authParser) quoted() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '"':
			p.pos++
			return b.String(), nil
		case '\\':
			if p.pos+1 >= len(p.s) {
				return "", errors.New("quoted string ends in a backslash")
			}
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", errors.New("quoted string is not closed")
}

// skipToComma skips to just after the next top-level comma, so parsing can
// resume after a bad element.
func (p *authParser) skipToComma() {
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '"' {
			if _, err := p.quoted(); err != nil {
				p.pos = len(p.s)
			}
			continue
		}
		p.pos++
		if c == ',' {
			return
		}
	}
}

// parseAuthChallenges parses every challenge in the given WWW-Authenticate
// field values. A malformed challenge is returned with its err set, and
// parsing goes on with the next one, so that one bad challenge cannot hide
// a good one.
func parseAuthChallenges(values []string) []authChallenge {
	var out []authChallenge
	for _, v := range values {
		p := &authParser{s: v}
		var cur *authChallenge

		for p.pos < len(p.s) && len(out) < maxChallenges {
			p.skipWS()
			if p.peek() == ',' {
				p.pos++
				continue
			}
			if p.pos >= len(p.s) {
				break
			}

			start := p.pos
			name := p.token()
			if name == "" {
				// Not a token where one must be: skip the element.
				if cur != nil && cur.err == nil {
					cur.err = fmt.Errorf("unexpected %q", p.peek())
				}
				p.pos = start
				p.skipToComma()
				continue
			}
			p.skipWS()

			// "name =" starts an auth-param of the current challenge,
			// unless what follows the '=' is more '=' padding or the
			// end of the element: then it was a token68.
			if p.peek() == '=' && cur != nil && cur.params != nil {
				p.param(cur, name)
				continue
			}

			// Otherwise the token is a new scheme.
			out = append(out, authChallenge{scheme: name})
			cur = &out[len(out)-1]
			p.schemeBody(cur)
		}
	}
	return out
}

// param reads the value of the auth-param name, its '=' being next, into
// cur; a bad or repeated parameter sets cur's err (the first one wins).
func (p *authParser) param(cur *authChallenge, name string) {
	p.pos++
	p.skipWS()
	var (
		value string
		err   error
	)
	switch c := p.peek(); {
	case c == '"':
		value, err = p.quoted()
	case c != 0 && c != ',':
		value = p.bareValue()
	default:
		err = fmt.Errorf("parameter %q has no value", truncate(name))
	}
	if err == nil {
		key := strings.ToLower(name)
		if _, dup := cur.params[key]; dup {
			err = fmt.Errorf("parameter %q is repeated", truncate(name))
		} else {
			cur.params[key] = value
		}
	}
	if err != nil && cur.err == nil {
		cur.err = err
	}
	p.skipWS()
	if p.peek() != ',' && p.pos < len(p.s) {
		if cur.err == nil {
			cur.err = fmt.Errorf("unexpected %q after parameter %q",
				p.peek(), truncate(name))
		}
		p.skipToComma()
	}
}

// schemeBody reads what follows a new scheme: nothing, a token68, or the
// start of its auth-params (left for the caller's loop).
func (p *authParser) schemeBody(cur *authChallenge) {
	if p.pos >= len(p.s) || p.peek() == ',' {
		cur.params = map[string]string{}
		return
	}

	// A token68 is followed by optional '=' padding and then the end or
	// a comma; anything else is the first auth-param.
	save := p.pos
	for p.pos < len(p.s) && isToken68Char(p.s[p.pos]) {
		p.pos++
	}
	t68end := p.pos
	for p.pos < len(p.s) && p.s[p.pos] == '=' {
		p.pos++
	}
	padEnd := p.pos
	p.skipWS()
	if t68end > save && (p.pos >= len(p.s) || p.peek() == ',') {
		cur.token68 = p.s[save:padEnd]
		return
	}
	p.pos = save
	cur.params = map[string]string{}
}
