package l402

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gopkg.in/macaroon.v2"
)

var (
	// ErrNoCredential is returned when a request carries no L402
	// credential at all.
	ErrNoCredential = errors.New("no L402 credential")

	// ErrMalformedCredential is returned when a request carries an L402
	// credential that cannot be decoded.
	ErrMalformedCredential = errors.New("malformed L402 credential")
)

// Credential is a paid token as a client presents it: the macaroon and the
// preimage of its invoice.
type Credential struct {
	Macaroon *macaroon.Macaroon
	Preimage Preimage
}

// Authorization returns the value of the Authorization header for the
// credential: "L402 <base64 macaroon>:<hex preimage>".
func (c Credential) Authorization() (string, error) {
	b64, err := EncodeMacaroonBase64(c.Macaroon)
	if err != nil {
		return "", err
	}
	return SchemeL402 + " " + b64 + ":" + c.Preimage.String(), nil
}

// MacaroonHex returns the hex macaroon with a preimage caveat added, the
// form sent in a Macaroon or Grpc-Metadata-Macaroon header.
func (c Credential) MacaroonHex() (string, error) {
	mac, err := AddCaveats(c.Macaroon, Caveat{
		Condition: CondPreimage, Value: c.Preimage.String(),
	})
	if err != nil {
		return "", err
	}
	b, err := mac.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("unable to encode macaroon: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// MaxCredentialSize bounds the header value a credential is read from; a
// real one is a few hundred bytes.
const MaxCredentialSize = 16 << 10

// Header names that carry the hex form of a credential.
const (
	HeaderGrpcMacaroon = "Grpc-Metadata-Macaroon"
	HeaderMacaroon     = "Macaroon"
)

// ParseCredential finds the L402 credential of a request: in
// Authorization fields with the L402 or LSAT scheme, or in the
// Grpc-Metadata-Macaroon and Macaroon headers (hex, with a preimage
// caveat). Authorization fields of other schemes are not ours and are
// passed over. A request may repeat its credential, in several fields or
// forms, but every copy must be for the same token and preimage: two
// different credentials are refused, since which one counts would be a
// guess. The Authorization form is returned when present.
func ParseCredential(h http.Header) (Credential, error) {
	auth, err := authorizationValue(h)
	if err != nil {
		return Credential{}, err
	}
	var creds []Credential
	if auth != "" {
		c, err := parseAuthorization(auth)
		if err != nil {
			return Credential{}, fmt.Errorf("%w: %w",
				ErrMalformedCredential, err)
		}
		creds = append(creds, c)
	}
	hexCreds, err := hexCredentials(h)
	if err != nil {
		return Credential{}, err
	}
	creds = append(creds, hexCreds...)
	if len(creds) == 0 {
		return Credential{}, ErrNoCredential
	}
	for _, c := range creds[1:] {
		if !sameToken(c, creds[0]) {
			return Credential{}, fmt.Errorf("%w: two different L402 "+
				"credentials in one request", ErrMalformedCredential)
		}
	}
	return creds[0], nil
}

// authorizationValue returns the credential of the L402/LSAT
// Authorization fields, which must all agree, or "".
func authorizationValue(h http.Header) (string, error) {
	var found string
	for _, v := range h.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		s := strings.ToUpper(scheme)
		if s != SchemeL402 && s != SchemeLSAT {
			continue
		}
		if len(v) > MaxCredentialSize {
			return "", fmt.Errorf("%w: %s credential is over %d bytes",
				ErrMalformedCredential, s, MaxCredentialSize)
		}
		rest = strings.TrimSpace(rest)
		if found != "" && rest != found {
			return "", fmt.Errorf("%w: two different L402 credentials "+
				"in one request", ErrMalformedCredential)
		}
		found = rest
	}
	return found, nil
}

// maxHexCredentials bounds the hex credential fields read.
const maxHexCredentials = 4

// hexCredentials parses every distinct value of the hex credential
// headers.
func hexCredentials(h http.Header) ([]Credential, error) {
	var (
		creds []Credential
		seen  = map[string]bool{}
	)
	for _, name := range []string{HeaderGrpcMacaroon, HeaderMacaroon} {
		for _, v := range h.Values(name) {
			v = strings.TrimSpace(v)
			if v == "" || seen[v] {
				continue
			}
			if len(v) > 2*MaxCredentialSize {
				return nil, fmt.Errorf("%w: %s header is over %d bytes",
					ErrMalformedCredential, name, 2*MaxCredentialSize)
			}
			if len(seen) == maxHexCredentials {
				return nil, fmt.Errorf("%w: more than %d macaroon headers",
					ErrMalformedCredential, maxHexCredentials)
			}
			seen[v] = true
			c, err := parseMacaroonHex(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s header: %w",
					ErrMalformedCredential, name, err)
			}
			creds = append(creds, c)
		}
	}
	return creds, nil
}

// sameToken reports whether two credentials are for the same token (the
// macaroon identifier) with the same preimage. Their caveats may differ:
// the hex form adds a preimage caveat, and only the credential returned
// is verified.
func sameToken(a, b Credential) bool {
	return a.Preimage == b.Preimage &&
		bytes.Equal(a.Macaroon.Id(), b.Macaroon.Id())
}

// parseAuthorization parses "<base64 macaroon>:<hex preimage>".
func parseAuthorization(s string) (Credential, error) {
	b64, pre, ok := strings.Cut(s, ":")
	if !ok {
		return Credential{}, errors.New("expected <macaroon>:<preimage>")
	}
	if strings.Contains(pre, ":") {
		return Credential{}, errors.New("more than one ':'")
	}
	preimage, err := ParsePreimage(pre)
	if err != nil {
		return Credential{}, err
	}
	mac, err := DecodeMacaroonBase64(b64)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Macaroon: mac, Preimage: preimage}, nil
}

// parseMacaroonHex parses a hex macaroon whose preimage rides in a
// preimage= caveat.
func parseMacaroonHex(s string) (Credential, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return Credential{}, fmt.Errorf("macaroon is not hex: %w", err)
	}
	mac, err := decodeMacaroonBinary(b)
	if err != nil {
		return Credential{}, err
	}
	caveats, err := Caveats(mac)
	if err != nil {
		return Credential{}, err
	}

	var (
		preimage Preimage
		found    bool
	)
	for _, c := range caveats {
		if c.Condition != CondPreimage {
			continue
		}
		p, err := ParsePreimage(c.Value)
		if err != nil {
			return Credential{}, err
		}
		if found && p != preimage {
			return Credential{}, errors.New("two different preimage " +
				"caveats")
		}
		preimage, found = p, true
	}
	if !found {
		return Credential{}, errors.New("macaroon has no preimage caveat")
	}
	return Credential{Macaroon: mac, Preimage: preimage}, nil
}
