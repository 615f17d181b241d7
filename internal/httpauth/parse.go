package httpauth

import (
	"errors"
	"fmt"
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate field as RFC 9110
// (section 11) defines it: a scheme followed by a token68 or by
// auth-params.
type Challenge struct {
	// Scheme is the auth-scheme as written; schemes match without
	// regard to case.
	Scheme string

	// Token68 is the token68 form of the challenge, when it has one.
	Token68 string

	// Params are the auth-params, their names folded to lower case and
	// quoted-string values unescaped. It is nil for the token68 form.
	Params map[string]string

	// Err is set when this challenge's params are bad (a repeated or
	// empty parameter, an unclosed quote): the challenge is not usable,
	// and the ones after it are parsed all the same.
	Err error
}

// MaxChallenges bounds the work a hostile header can cause: parsing stops
// after this many challenges.
const MaxChallenges = 64

// isTokenChar reports whether c is an RFC 9110 tchar.
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

// token reads an RFC 9110 token.
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

// ParseChallenges parses every challenge in the given WWW-Authenticate
// field values, in order: several fields, and several comma-joined
// challenges in one field. A malformed challenge is returned with its Err
// set, and parsing goes on with the next one, so that one bad challenge
// cannot hide a good one. RFC 9110 allows only a token or a quoted-string
// as a value; an unquoted value here runs to the next comma or white space,
// since servers write base64 ('/', '=') unquoted too.
func ParseChallenges(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		p := &authParser{s: v}
		var cur *Challenge

		for p.pos < len(p.s) && len(out) < MaxChallenges {
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
				if cur != nil && cur.Err == nil {
					cur.Err = fmt.Errorf("unexpected %q", p.peek())
				}
				p.pos = start
				p.skipToComma()
				continue
			}
			p.skipWS()

			// "name =" starts an auth-param of the current challenge,
			// unless what follows the '=' is more '=' padding or the
			// end of the element: then it was a token68.
			if p.peek() == '=' && cur != nil && cur.Params != nil {
				p.param(cur, name)
				continue
			}

			// Otherwise the token is a new scheme.
			out = append(out, Challenge{Scheme: name})
			cur = &out[len(out)-1]
			p.schemeBody(cur)
		}
	}
	return out
}

// param reads the value of the auth-param name, its '=' being next, into
// cur; a bad or repeated parameter sets cur's err (the first one wins).
func (p *authParser) param(cur *Challenge, name string) {
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
		if _, dup := cur.Params[key]; dup {
			err = fmt.Errorf("parameter %q is repeated", truncate(name))
		} else {
			cur.Params[key] = value
		}
	}
	if err != nil && cur.Err == nil {
		cur.Err = err
	}
	p.skipWS()
	if p.peek() != ',' && p.pos < len(p.s) {
		if cur.Err == nil {
			cur.Err = fmt.Errorf("unexpected %q after parameter %q",
				p.peek(), truncate(name))
		}
		p.skipToComma()
	}
}

// schemeBody reads what follows a new scheme: nothing, a token68, or the
// start of its auth-params (left for the caller's loop).
func (p *authParser) schemeBody(cur *Challenge) {
	if p.pos >= len(p.s) || p.peek() == ',' {
		cur.Params = map[string]string{}
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
		cur.Token68 = p.s[save:padEnd]
		return
	}
	p.pos = save
	cur.Params = map[string]string{}
}

// truncate shortens attacker-controlled text before it goes into an error
// message, so that a hostile header cannot flood the logs.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
