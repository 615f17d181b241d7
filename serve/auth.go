// Package serve is the L402 reverse proxy: it routes requests to services,
// lets whitelisted paths through, answers others with a challenge, and
// proxies those that carry a valid paid token.
package serve

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// RootKeyStore is what the Authenticator needs of the database: the
// secret root keys are derived from, the queue of the tokens'
// transactions (bookkeeping: RecordToken does not wait), the stored root
// keys of tokens minted before root keys were derived (which tokens have
// one, read at start, and each key), and the mark of a token first seen
// paid.
type RootKeyStore interface {
	RootKeySecret(ctx context.Context) ([]byte, error)
	RecordToken(ctx context.Context, m store.Minted)
	TokenIssuance(ctx context.Context, id l402.Identifier) (store.Issuance,
		error)
	StoredKeyPrefixes(ctx context.Context) ([]uint64, error)
	RootKey(ctx context.Context, id l402.Identifier) ([]byte, error)
	MarkSettled(ctx context.Context, key [32]byte) error
}

// Offer is what a token for a service costs and carries.
type Offer struct {
	Service      string
	PriceSat     int64
	Capabilities []string

	// Timeout, when set, makes the token valid for that long.
	Timeout time.Duration

	// Resource, when set, binds the token to one request path (for
	// dynamically priced services).
	Resource string

	// Constraints are extra caveats, condition to value.
	Constraints map[string]string

	// SessionPriceSat and SessionDepositSat, when set, are a session
	// challenge's unit price and deposit (a metered service's quote for
	// one request); 0 leaves them at PriceSat and PriceSat times the
	// deposit multiplier.
	SessionPriceSat   int64
	SessionDepositSat int64
}

// Authenticator mints challenges and verifies credentials.
type Authenticator struct {
	node          lightning.Node
	store         RootKeyStore
	cache         *keyCache
	verifier      *l402.Verifier
	invoiceExpiry time.Duration
	now           func() time.Time

	// secret is what every token's root key is derived from, shared by
	// the replicas through the database. It is a secret: never logged.
	secret []byte

	// stored is which tokens have a stored root key: only those are
	// read from the database when their derived key does not verify.
	stored storedKeys

	// issued holds the derived-key tokens found issued here
	// (checkIssued), so that each is asked about once, whatever its
	// caveats make of the requests it comes with: a token refused by
	// them (expired, another service) is not remembered by the verifier
	// and would otherwise cost a read of the transactions, and a write
	// of the queue before it, per request.
	issued *lru.Cache[l402.Identifier, struct{}]

	// settled holds the payment hashes the node said were settled, with
	// strictverify; nil without it. Settled is final, so each token's
	// invoice is looked up once.
	settled *lru.Cache[l402.Hash, struct{}]
}

// ErrNotSettled refuses a token whose preimage is right but whose invoice
// the node does not report settled (strictverify): the preimage was
// learnt some other way than by paying, or the node cannot say.
var ErrNotSettled = errors.New("the token's invoice is not settled on " +
	"the node")

// ErrCannotVerify is a credential that could not be decided: the
// database or the node it had to ask did not answer. The buyer may well
// have paid, so it is answered 503 (try again), never with a 402 that
// would have the buyer pay again.
var ErrCannotVerify = errors.New("unable to verify the credential now")

// DefaultInvoiceExpiry is how long a challenge's invoice can be paid.
const DefaultInvoiceExpiry = 10 * time.Minute

// DefaultKeyCacheSize bounds the root keys kept in memory.
const DefaultKeyCacheSize = 100_000

// NewAuthenticator returns an authenticator issuing invoices from node,
// deriving root keys from store's root key secret and recording tokens in
// store. A store whose secret cannot be read is an error: the
// authenticator never mints under a key the other replicas do not share.
func NewAuthenticator(ctx context.Context, node lightning.Node,
	store RootKeyStore, invoiceExpiry time.Duration,
	now func() time.Time) (*Authenticator, error) {

	secret, err := store.RootKeySecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("unable to read the root key secret: %w",
			err)
	}
	if invoiceExpiry <= 0 {
		invoiceExpiry = DefaultInvoiceExpiry
	}
	if now == nil {
		now = time.Now
	}
	stored, err := store.StoredKeyPrefixes(ctx)
	if err != nil {
		return nil, fmt.Errorf("unable to read which tokens have a stored "+
			"root key: %w", err)
	}
	issued, err := lru.New[l402.Identifier, struct{}](DefaultKeyCacheSize)
	if err != nil {
		return nil, err
	}
	return &Authenticator{node: node, store: store, secret: secret,
		stored: stored,
		cache:  newKeyCache(DefaultKeyCacheSize), issued: issued,
		verifier:      l402.NewVerifier(l402.DefaultVerifiedCacheSize),
		invoiceExpiry: invoiceExpiry, now: now}, nil
}

// Challenge creates an invoice for the offer and a token bound to its
// payment hash, and returns the two WWW-Authenticate values. The token
// carries services=<name>:0, and <name>_capabilities and
// <name>_valid_until when the offer sets them, whatever the price.
func (a *Authenticator) Challenge(ctx context.Context, o Offer) ([]string,
	error) {

	if o.PriceSat <= 0 {
		return nil, fmt.Errorf("service %q has no price", o.Service)
	}
	// The caveats first: an offer they cannot carry (a resource path
	// too long, say) must not cost an invoice.
	now := a.now()
	caveats, err := offerCaveats(o, now)
	if err != nil {
		return nil, err
	}
	inv, err := a.node.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: o.PriceSat,
		Memo:      tokenMemoPrefix + o.Service,
		Expiry:    a.invoiceExpiry,
	})
	if err != nil {
		return nil, fmt.Errorf("unable to create the invoice: %w", err)
	}

	var tokenID l402.TokenID
	if _, err := rand.Read(tokenID[:]); err != nil {
		return nil, err
	}
	id := l402.NewIdentifier(inv.PaymentHash, tokenID)
	mac, err := l402.MintDerived(a.secret, id, caveats...)
	if err != nil {
		return nil, err
	}
	// The root key is derived again to verify: nothing of the token need
	// be in the database first, so the 402 does not wait for its row.
	a.store.RecordToken(ctx, store.Minted{ID: id, Service: o.Service,
		CreatedAt: now, PriceSat: o.PriceSat, AddIndex: inv.AddIndex})
	return l402.BuildChallenges(mac, inv.PaymentRequest)
}

// offerCaveats returns the caveats a token for the offer carries.
func offerCaveats(o Offer, now time.Time) ([]l402.Caveat, error) {
	svc, err := l402.ServicesCaveat(l402.Service{Name: o.Service})
	if err != nil {
		return nil, err
	}
	caveats := []l402.Caveat{svc}
	if len(o.Capabilities) > 0 {
		c, err := l402.CapabilitiesCaveat(o.Service, o.Capabilities...)
		if err != nil {
			return nil, err
		}
		caveats = append(caveats, c)
	}
	if o.Timeout > 0 {
		c, err := l402.ValidUntilCaveat(o.Service, now.Add(o.Timeout))
		if err != nil {
			return nil, err
		}
		caveats = append(caveats, c)
	}
	if o.Resource != "" {
		c, err := l402.ResourceCaveat(o.Service, o.Resource)
		if err != nil {
			return nil, err
		}
		caveats = append(caveats, c)
	}
	for _, cond := range slices.Sorted(maps.Keys(o.Constraints)) {
		caveats = append(caveats, l402.Caveat{Condition: cond,
			Value: o.Constraints[cond]})
	}
	return caveats, nil
}

// requireSettled makes the authenticator ask the node, the first time it
// sees a token, that its invoice is settled (Aperture's strictverify). A
// preimage alone is proof of payment unless it leaked: lnd hands the
// preimages of open invoices to anyone holding a macaroon that may read
// invoices.
func (a *Authenticator) requireSettled() {
	a.settled, _ = lru.New[l402.Hash, struct{}](DefaultKeyCacheSize)
}

// checkSettled returns nil when the node reports the invoice of hash
// settled, an error wrapping ErrNotSettled when it reports it otherwise
// or knows no such invoice, and one wrapping ErrCannotVerify when it
// cannot be asked (the token may well be paid).
func (a *Authenticator) checkSettled(ctx context.Context,
	hash l402.Hash) error {

	if a.settled.Contains(hash) {
		return nil
	}
	inv, err := a.node.LookupInvoice(ctx, hash)
	switch {
	case errors.Is(err, lightning.ErrInvoiceNotFound):
		return fmt.Errorf("%w: %w", ErrNotSettled, err)
	case err != nil:
		return fmt.Errorf("%w: unable to ask the node whether the "+
			"token's invoice is settled: %w", ErrCannotVerify, err)
	case inv.State != lightning.InvoiceSettled:
		return fmt.Errorf("%w: it is %s", ErrNotSettled, inv.State)
	}
	a.settled.Add(hash, struct{}{})
	return nil
}

// tokenMemoPrefix starts the memo of every L402 token's invoice
// (Challenge): a token whose transaction is missing is taken on its
// invoice only if serve wrote that invoice for a token.
const tokenMemoPrefix = "L402 token for "

// checkIssued holds a token that verified under its derived key, the
// first time it is seen here, to having been issued here (issuedHere).
// The derived key proves only that the macaroon was made by a holder of
// the secret, and the secret is in the database: anyone who reads the
// database could mint for a payment hash of their own. A payment hash
// whose transactions are another token's or a Payment charge's is
// refused (the invoice was paid for those), and so is one with none
// whose token ID is another transaction's (Store.TokenIssuance); with
// none at all, the invoice must have been written by serve for a token
// (its memo), and the token's transaction is written again for the
// service the memo names.
func (a *Authenticator) checkIssued(ctx context.Context,
	id l402.Identifier) error {

	return issuedHere(ctx, a.node, issuance{
		hash: id.PaymentHash, refusal: l402.ErrUnknownToken,
		recorded: func(ctx context.Context) (store.Issuance, error) {
			return a.store.TokenIssuance(ctx, id)
		},
		written: func(inv lightning.Invoice) bool {
			return strings.HasPrefix(inv.Memo, tokenMemoPrefix)
		},
		record: func(ctx context.Context, inv lightning.Invoice) {
			a.store.RecordToken(ctx, store.Minted{ID: id,
				Service:   strings.TrimPrefix(inv.Memo, tokenMemoPrefix),
				CreatedAt: inv.CreatedAt, PriceSat: inv.AmountSat,
				AddIndex: inv.AddIndex})
		}})
}

// Verify checks the request's credential against the target (the
// service, the capabilities and the path the request needs; the time is
// the authenticator's). It derives the token's root key, and reads the
// database for a stored one only when the derived key does not verify
// the token (one minted before root keys were derived, or a forgery);
// it writes the token's settlement the first time a token is seen paid,
// and calls the node only then and only with strictverify. A
// credential seen before (the same header values) is only held to the
// target's caveats again (l402.Verifier).
func (a *Authenticator) Verify(ctx context.Context, h http.Header,
	t l402.Target) (l402.Identifier, error) {

	_, id, err := a.Check(ctx, h, t)
	return id, err
}

// Check is Verify that also returns the credential it verified. The
// credential may be shared with other requests: it is not to be changed.
func (a *Authenticator) Check(ctx context.Context, h http.Header,
	t l402.Target) (l402.Credential, l402.Identifier, error) {

	lookup := &storeLookup{a: a, ctx: ctx}
	t.Now = a.now()
	cred, id, err := a.verifier.Verify(h, lookup, t)
	if err == nil && a.settled != nil {
		err = a.checkSettled(ctx, id.PaymentHash)
	}
	if err == nil && lookup.verified != nil {
		// A token seen paid for the first time: its key is remembered,
		// and the preimage proves payment, so its transaction is
		// settled and a stored key's row marked so that pruning never
		// deletes it, even if the node later forgets the invoice. Best
		// effort: a failure only leaves the decision to the settlement
		// watcher and Prune.
		a.cache.put(id, lookup.verified)
		if key, kerr := id.Key(); kerr == nil {
			a.store.MarkSettled(ctx, key)
		}
	}
	return cred, id, err
}

// storeLookup finds root keys for one Check: a key verified before, in
// the cache; else the derived one; and, asked only when that does not
// verify the token, a stored one. verified is the key the token will
// have verified under if the check succeeds and the key was not cached.
type storeLookup struct {
	a        *Authenticator
	ctx      context.Context
	verified []byte

	// derived is set when verified is the derived key: the token is yet
	// to be found issued here (checkIssued).
	derived bool
}

// RootKey implements l402.RootKeyLookup.
func (l *storeLookup) RootKey(id l402.Identifier) ([]byte, error) {
	if key, ok := l.a.cache.get(id); ok {
		return key, nil
	}
	key, err := l402.DeriveRootKey(l.a.secret, id)
	if err != nil {
		return nil, err
	}
	l.verified, l.derived = key, true
	return key, nil
}

// Confirm implements l402.Confirmer: a token that verified under its
// derived key must have been issued here (checkIssued), which is asked
// once per token.
func (l *storeLookup) Confirm(id l402.Identifier) error {
	if !l.derived || l.a.issued.Contains(id) {
		return nil
	}
	if err := l.a.checkIssued(l.ctx, id); err != nil {
		return err
	}
	l.a.issued.Add(id, struct{}{})
	return nil
}

// FallbackRootKey implements l402.FallbackLookup: the stored root key
// of a token minted before root keys were derived, read only for a token
// that has one (Authenticator.stored), so that a forgery costs no read.
func (l *storeLookup) FallbackRootKey(id l402.Identifier) ([]byte, error) {
	idKey, err := id.Key()
	if err != nil {
		return nil, err
	}
	if !l.a.stored.has(idKey) {
		return nil, fmt.Errorf("%w: no root key is stored for it",
			l402.ErrUnknownToken)
	}
	key, err := l.a.store.RootKey(l.ctx, id)
	switch {
	case errors.Is(err, l402.ErrUnknownToken):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrCannotVerify, err)
	}
	l.verified, l.derived = key, false
	return key, nil
}
