package l402

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/l402/l402/internal/httpauth"
	"gopkg.in/macaroon.v2"
)

const (
	// SchemeL402 is the current authentication scheme.
	SchemeL402 = "L402"

	// SchemeLSAT is the scheme older clients and servers use.
	SchemeLSAT = "LSAT"
)

// ErrNoChallenge is returned when a response carries no usable L402
// challenge.
var ErrNoChallenge = errors.New("no L402 challenge in WWW-Authenticate")

// Challenge is one L402 (or LSAT) challenge: a macaroon whose identifier
// commits to the invoice's payment hash, and the invoice to pay.
type Challenge struct {
	Scheme     string
	Macaroon   *macaroon.Macaroon
	Identifier Identifier
	Invoice    string
}

// BuildChallenges returns the two WWW-Authenticate values for a token and
// its invoice, LSAT first because older clients read only the first.
func BuildChallenges(mac *macaroon.Macaroon, invoice string) ([]string, error) {
	b, err := mac.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("unable to encode macaroon: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString(b)
	params := fmt.Sprintf(" macaroon=%q, invoice=%q", b64, invoice)
	return []string{SchemeLSAT + params, SchemeL402 + params}, nil
}

// ParseChallenges finds every L402 and LSAT challenge in the values of all
// WWW-Authenticate fields of a response, in order. Schemes match without
// regard to case, the macaroon may be named token or macaroon, parameters
// may come in any order and unknown ones are ignored, and the macaroon may
// be std or URL-safe base64. When no challenge is usable the error says why
// the first L402 one was not.
func ParseChallenges(values []string) ([]Challenge, error) {
	var (
		out      []Challenge
		firstErr error
	)
	for _, ac := range httpauth.ParseChallenges(values) {
		scheme := strings.ToUpper(ac.Scheme)
		if scheme != SchemeL402 && scheme != SchemeLSAT {
			continue
		}

		ch, err := challengeFrom(scheme, ac)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s challenge: %w", scheme, err)
			}
			continue
		}
		out = append(out, ch)
	}

	if len(out) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoChallenge, firstErr)
		}
		return nil, ErrNoChallenge
	}
	return out, nil
}

// challengeFrom builds a Challenge out of one parsed challenge.
func challengeFrom(scheme string, ac httpauth.Challenge) (Challenge, error) {
	if ac.Err != nil {
		return Challenge{}, ac.Err
	}
	if ac.Params == nil {
		return Challenge{}, errors.New("expected macaroon and invoice " +
			"parameters")
	}

	b64, hasMac := ac.Params["macaroon"]
	tok, hasTok := ac.Params["token"]
	switch {
	case hasMac && hasTok && b64 != tok:
		return Challenge{}, errors.New("macaroon and token parameters " +
			"differ")
	case !hasMac && !hasTok:
		return Challenge{}, errors.New("no macaroon or token parameter")
	case !hasMac:
		b64 = tok
	}

	invoice, ok := ac.Params["invoice"]
	if !ok || invoice == "" {
		return Challenge{}, errors.New("no invoice parameter")
	}

	mac, err := DecodeMacaroonBase64(b64)
	if err != nil {
		return Challenge{}, err
	}
	id, err := TokenIdentifier(mac)
	if err != nil {
		return Challenge{}, fmt.Errorf("macaroon identifier: %w", err)
	}
	return Challenge{
		Scheme:     scheme,
		Macaroon:   mac,
		Identifier: id,
		Invoice:    invoice,
	}, nil
}

// DecodeMacaroonBase64 decodes a binary macaroon written in std or URL-safe
// base64, with or without padding.
func DecodeMacaroonBase64(s string) (*macaroon.Macaroon, error) {
	b, err := decodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("macaroon is not base64: %w", err)
	}
	return decodeMacaroonBinary(b)
}

// decodeMacaroonBinary decodes a binary macaroon, v1 or v2.
func decodeMacaroonBinary(b []byte) (*macaroon.Macaroon, error) {
	if len(b) == 0 {
		return nil, errors.New("macaroon is empty")
	}
	var mac macaroon.Macaroon
	if err := mac.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("macaroon is not a valid binary "+
			"macaroon: %w", err)
	}
	return &mac, nil
}

// EncodeMacaroonBase64 returns the std base64 of a macaroon's binary form.
func EncodeMacaroonBase64(mac *macaroon.Macaroon) (string, error) {
	b, err := mac.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("unable to encode macaroon: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// decodeBase64 accepts std and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
