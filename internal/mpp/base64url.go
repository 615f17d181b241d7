package mpp

import (
	"encoding/base64"
	"errors"
	"strings"
)

// Encode returns data in base64url without padding (RFC 4648, section 5),
// the form of every token of the scheme: the request, the credential and
// the receipt.
func Encode(data []byte) string {
	return base64.RawURLEncoding.EncodeToString(data)
}

// Decode reads base64url, with or without its '=' padding as
// draft-lightning-charge asks, and strictly otherwise: the standard
// alphabet ('+', '/'), white space or line breaks (which Go's decoder
// would skip), padding that is not exactly what the length needs, and
// non-zero bits after the last byte are errors, so that one token has one
// spelling.
func Decode(s string) ([]byte, error) {
	body := strings.TrimRight(s, "=")
	pad := len(s) - len(body)
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z',
			c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return nil, errors.New("not base64url: a character " +
				"outside A-Z a-z 0-9 - _")
		}
	}
	if pad > 0 && (len(s)%4 != 0 || pad > 2) {
		return nil, errors.New("not base64url: wrong padding")
	}
	if len(body)%4 == 1 {
		return nil, errors.New("not base64url: a dangling character")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, errors.New("not base64url: bits set past the " +
			"last byte")
	}
	return b, nil
}
