package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
)

// ErrBadToken is returned by Import for text that is not a valid token.
var ErrBadToken = errors.New("not a valid L402 token")

// Export returns an origin's token in the L402 header form,
// "L402 <base64 macaroon>:<hex preimage>", to move it to another machine.
// It is a secret: whoever holds it can spend the token.
func (s *Store) Export(ctx context.Context, origin string) (string, error) {
	t, err := s.Token(ctx, origin)
	if err != nil {
		return "", err
	}
	cred, err := t.Credential()
	if err != nil {
		return "", err
	}
	return cred.Authorization()
}

// Import stores a token given in the L402 header form (an
// "Authorization:" prefix is allowed) as the origin's token. The preimage
// must match the macaroon's payment hash. The ledger is not touched: this
// machine paid nothing.
func (s *Store) Import(ctx context.Context, origin, header string,
	now time.Time) (Token, error) {

	header = strings.TrimSpace(header)
	if name, rest, ok := strings.Cut(header, ":"); ok &&
		strings.EqualFold(strings.TrimSpace(name), "authorization") {
		header = strings.TrimSpace(rest)
	}
	cred, err := l402.ParseCredential(http.Header{"Authorization": {header}})
	if err != nil {
		return Token{}, fmt.Errorf("%w: want 'L402 <macaroon>:<preimage>': "+
			"%w", ErrBadToken, err)
	}
	id, err := l402.TokenIdentifier(cred.Macaroon)
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if cred.Preimage.Hash() != id.PaymentHash {
		return Token{}, fmt.Errorf("%w: %w", ErrBadToken,
			l402.ErrPreimageMismatch)
	}
	mac, err := cred.Macaroon.MarshalBinary()
	if err != nil {
		return Token{}, err
	}
	t := Token{
		Origin:      origin,
		Macaroon:    mac,
		Preimage:    cred.Preimage,
		PaymentHash: id.PaymentHash,
		CreatedAt:   time.Unix(now.Unix(), 0),
	}
	return t, s.PutToken(ctx, t)
}
