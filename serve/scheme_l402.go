package serve

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/l402/l402/internal/l402"
)

// l402Scheme is the L402 scheme (and its LSAT alias) as a Scheme, backed
// by the Authenticator that mints and verifies its tokens. With
// authenticator.disable there is no Authenticator, but the scheme is
// still there for stripcredential to strip.
type l402Scheme struct {
	auth *Authenticator

	// revoked, when set, refuses the tokens the admin API revoked.
	revoked *revocations
}

// Authenticate implements Scheme with Authenticator.Check.
func (s l402Scheme) Authenticate(ctx context.Context, h http.Header,
	t l402.Target) (Grant, error) {

	cred, id, err := s.auth.Check(ctx, h, t)
	switch {
	case errors.Is(err, l402.ErrNoCredential):
		return Grant{}, ErrNoCredential
	case err != nil:
		return Grant{}, err
	}
	if s.revoked != nil {
		if err := s.revoked.check(ctx, id.TokenID, s.auth.now()); err != nil {
			return Grant{}, err
		}
	}
	g := Grant{Key: tokenKey(id.TokenID),
		meter: MeterKey{Kind: MeterToken, ID: [32]byte(id.TokenID)}}

	// The backend gets the one credential that was verified, in the
	// Authorization form, and no other copy. A request that sent only
	// that form (all its copies agree) is left as it is.
	if hasHexCredential(h) {
		if v, err := cred.Authorization(); err == nil {
			g.Forward = v
		}
	}
	return g, nil
}

// tokenKey is a token's rate-limit key, "token:" and its ID in hex, in
// one allocation.
func tokenKey(id l402.TokenID) string {
	const prefix = "token:"
	var b [len(prefix) + 2*l402.TokenIDSize]byte
	copy(b[:], prefix)
	hex.Encode(b[len(prefix):], id[:])
	return string(b[:])
}

// Challenge implements Scheme with Authenticator.Challenge: the LSAT and
// the L402 challenge of one token.
func (s l402Scheme) Challenge(ctx context.Context, o Offer) ([]string,
	error) {

	return s.auth.Challenge(ctx, o)
}

// StripCredential implements Scheme.
func (l402Scheme) StripCredential(h http.Header) {
	stripCredential(h)
}

// kind implements Scheme.
func (l402Scheme) kind() schemeKind { return kindL402 }

// stripCredential removes the L402 credential before the request goes to
// the backend; other Authorization schemes are the backend's and stay.
func stripCredential(h http.Header) {
	var keep []string
	for _, v := range h.Values("Authorization") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		s := strings.ToUpper(scheme)
		if s != l402.SchemeL402 && s != l402.SchemeLSAT {
			keep = append(keep, v)
		}
	}
	h.Del("Authorization")
	for _, v := range keep {
		h.Add("Authorization", v)
	}
	h.Del(l402.HeaderGrpcMacaroon)
	h.Del(l402.HeaderMacaroon)
}

// hasHexCredential reports whether the request carries the hex
// (Macaroon or Grpc-Metadata-Macaroon) form of a credential.
func hasHexCredential(h http.Header) bool {
	return len(h.Values(l402.HeaderMacaroon)) > 0 ||
		len(h.Values(l402.HeaderGrpcMacaroon)) > 0
}
