package l402

import (
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

// ParseCredential finds the L402 credential of a request. It looks first at
// Authorization fields with the L402 or LSAT scheme, then at the
// Grpc-Metadata-Macaroon and Macaroon headers. Authorization fields of
// other schemes are not ours and are passed over. Two different L402
// Authorization values are refused: which one counts would be a guess.
func ParseCredential(h http.Header) (Credential, error) {
	var found string
	for _, v := range h.Values("Authorization") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		s := strings.ToUpper(scheme)
		if s != SchemeL402 && s != SchemeLSAT {
			continue
		}
		if len(v) > MaxCredentialSize {
			return Credential{}, fmt.Errorf("%w: %s credential is over "+
				"%d bytes", ErrMalformedCredential, s, MaxCredentialSize)
		}
		rest = strings.TrimSpace(rest)
		if found != "" && rest != found {
			return Credential{}, fmt.Errorf("%w: two different L402 "+
				"credentials in one request", ErrMalformedCredential)
		}
		found = rest
	}
	if found != "" {
		c, err := parseAuthorization(found)
		if err != nil {
			return Credential{}, fmt.Errorf("%w: %w",
				ErrMalformedCredential, err)
		}
		return c, nil
	}

	for _, name := range []string{HeaderGrpcMacaroon, HeaderMacaroon} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if len(v) > 2*MaxCredentialSize {
			return Credential{}, fmt.Errorf("%w: %s header is over %d "+
				"bytes", ErrMalformedCredential, name, 2*MaxCredentialSize)
		}
		c, err := parseMacaroonHex(v)
		if err != nil {
			return Credential{}, fmt.Errorf("%w: %s header: %w",
				ErrMalformedCredential, name, err)
		}
		return c, nil
	}
	return Credential{}, ErrNoCredential
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
