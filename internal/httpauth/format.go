package httpauth

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnquotable is returned for a value that a quoted-string cannot carry:
// one with a control character other than a horizontal tab.
var ErrUnquotable = errors.New("value has a control character, which a " +
	"quoted-string cannot carry")

// Quote returns s as an RFC 9110 quoted-string: in double quotes, with '"'
// and '\' escaped as quoted-pairs and every other byte as it is (tabs,
// spaces, visible ASCII and obs-text, the bytes from 0x80). This is not
// Go's %q, which escapes a tab and non-ASCII in a way RFC 9110 cannot undo.
func Quote(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t' || c >= 0x20 && c != 0x7f:
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("%w (byte 0x%02x at %d)",
				ErrUnquotable, c, i)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// IsToken reports whether s is a non-empty RFC 9110 token, the form of an
// auth-scheme and of an auth-param name.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}
