package mpp

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gowebpki/jcs"
)

// Canonical returns the JSON Canonicalization Scheme (RFC 8785) form of
// v's JSON: members sorted by their UTF-16 code units, numbers as
// ECMAScript writes them, strings escaped only where JSON must ('<', '>',
// '&' and U+2028 stay as they are, unlike encoding/json's output). Every
// JSON object the scheme carries in a header is in this form.
func Canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return CanonicalJSON(b)
}

// CanonicalJSON returns the RFC 8785 form of a JSON text. It refuses what
// I-JSON (RFC 7493) refuses: a repeated member name, invalid UTF-8, a lone
// surrogate, a number out of a double's range.
func CanonicalJSON(b []byte) ([]byte, error) {
	out, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("not I-JSON: %w", err)
	}
	return out, nil
}

// decodeJSON decodes a base64url JSON object into v: the text must be
// I-JSON (so that a repeated member cannot mean one thing here and another
// elsewhere), and an object; unknown members are ignored, as the drafts
// require.
func decodeJSON(token string, v any) error {
	raw, err := Decode(token)
	if err != nil {
		return err
	}
	canon, err := CanonicalJSON(raw)
	if err != nil {
		return err
	}
	if len(canon) == 0 || canon[0] != '{' {
		return errors.New("JSON: not an object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	return nil
}

// encodeJSON returns the base64url of v's canonical JSON.
func encodeJSON(v any) (string, error) {
	b, err := Canonical(v)
	if err != nil {
		return "", err
	}
	return Encode(b), nil
}
