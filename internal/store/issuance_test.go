package store_test

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/store"
)

// TestTokenIssuance: a token is Recorded by its own transaction, even
// still queued; a payment hash whose transactions are another token's or
// a Payment charge's is OtherToken; and so is a payment hash with no
// transaction when the token's ID is another transaction's (a holder of
// the root key secret, with an invoice of its own whose row is not
// there yet, would otherwise take over that token's meter bundle, rate
// limit and revocation); with neither, NotRecorded.
func TestTokenIssuance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		sold := minted(1)
		s.RecordToken(ctx, sold)
		s.RecordChallenge(ctx, store.Challenge{PaymentHash: l402.Hash{2},
			Service: "svc", PriceSat: 5, Scheme: store.SchemePayment,
			CreatedAt: time.Unix(1, 0)})
		for _, c := range []struct {
			name string
			id   l402.Identifier
			want store.Issuance
		}{
			{"its own", sold.ID, store.Recorded},
			{"another token's invoice",
				l402.NewIdentifier(l402.Hash{1}, l402.TokenID{9}),
				store.OtherToken},
			{"a Payment charge's invoice",
				l402.NewIdentifier(l402.Hash{2}, l402.TokenID{9}),
				store.OtherToken},
			{"another token's ID on an unrecorded invoice",
				l402.NewIdentifier(l402.Hash{3}, l402.TokenID{1}),
				store.OtherToken},
			{"nothing of it",
				l402.NewIdentifier(l402.Hash{3}, l402.TokenID{3}),
				store.NotRecorded},
		} {
			got, err := s.TokenIssuance(ctx, c.id)
			if err != nil || got != c.want {
				t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
			}
		}
	})
}

// TestStoredKeyPrefixes: the first 8 bytes of the key of every token with
// a stored root key, sorted; none for a database without one.
func TestStoredKeyPrefixes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		if got, err := s.StoredKeyPrefixes(ctx); err != nil || len(got) != 0 {
			t.Fatalf("no stored keys: %v %v", got, err)
		}
		var want []uint64
		for n := byte(1); n <= 3; n++ {
			k := key(t, putLegacy(t, s, n, 100))
			want = append(want, binary.BigEndian.Uint64(k[:]))
		}
		slices.Sort(want)
		got, err := s.StoredKeyPrefixes(ctx)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("stored key prefixes %x %v, want %x", got, err, want)
		}
	})
}

// TestChallengeIssuance: a Payment challenge's invoice is Recorded by its
// transaction, even still queued, for the service, amount and scheme it
// was issued for; for another of those, or on an L402 token's payment
// hash, it is OtherToken; with no transaction, NotRecorded.
func TestChallengeIssuance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func() *store.Store) {
		ctx := context.Background()
		s := open()
		s.RecordToken(ctx, minted(1))
		charge := store.Challenge{PaymentHash: l402.Hash{2},
			Service: "svc", PriceSat: 5, Scheme: store.SchemePayment,
			CreatedAt: time.Unix(1, 0)}
		s.RecordChallenge(ctx, charge)
		with := func(edit func(*store.Challenge)) store.Challenge {
			c := charge
			edit(&c)
			return c
		}
		for _, c := range []struct {
			name string
			c    store.Challenge
			want store.Issuance
		}{
			{"its own", charge, store.Recorded},
			{"a dearer amount", with(func(c *store.Challenge) {
				c.PriceSat = 500
			}), store.OtherToken},
			{"another service", with(func(c *store.Challenge) {
				c.Service = "other"
			}), store.OtherToken},
			{"a session deposit", with(func(c *store.Challenge) {
				c.Scheme = store.SchemePaymentSession
			}), store.OtherToken},
			{"an L402 token's invoice", with(func(c *store.Challenge) {
				c.PaymentHash = l402.Hash{1}
			}), store.OtherToken},
			{"nothing of it", with(func(c *store.Challenge) {
				c.PaymentHash = l402.Hash{3}
			}), store.NotRecorded},
		} {
			got, err := s.ChallengeIssuance(ctx, c.c)
			if err != nil || got != c.want {
				t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
			}
		}
	})
}
