package l402

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// MaxRememberedSize is the most bytes of credential header values (all
// of them, as credentialKey encodes them) of a credential a Verifier
// remembers. A buyer may add caveats to its macaroon without the root
// key, so one paid token makes any number of valid credentials, each up
// to MaxCredentialSize: remembered, 10,000 of those held about 250 MB.
// At this size an entry is about 4 KB, 40 MB for a full cache; serve's
// tokens are a few hundred bytes (1.2 KB an entry). A larger credential
// is verified at every request.
const MaxRememberedSize = 2 << 10

// DefaultVerifiedCacheSize bounds the credentials a Verifier remembers.
// An entry is the decoded macaroon and its caveats, well under a
// kilobyte for a real token.
const DefaultVerifiedCacheSize = 10_000

// Verifier checks the credentials of requests as ParseCredential and
// Verify do, and remembers each one it verified, keyed by the SHA-256 of
// every header value a credential is read from. A request that carries
// the very same values again skips the decoding, the payment proof, the
// root key and the HMAC chain, which do not depend on the request, and
// only has its caveats held to the target again: expiry, service,
// capabilities and path are checked on every request, at the target's
// time. Only verified credentials are remembered; the cache is a bounded
// LRU, so that a flood of credentials evicts, never grows. It is safe
// for concurrent use.
//
// What it remembers stays valid as long as the root key it was verified
// under is the token's: a root key never changes. Forget drops every
// entry, for a caller that withdraws root keys.
type Verifier struct {
	cache *lru.Cache[[sha256.Size]byte, *verified]
}

// verified is what a Verifier remembers of one credential.
type verified struct {
	cred    Credential
	id      Identifier
	caveats []Caveat
}

// NewVerifier returns a Verifier remembering at most size credentials
// (at least one).
func NewVerifier(size int) *Verifier {
	cache, err := lru.New[[sha256.Size]byte, *verified](max(size, 1))
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Verifier{cache: cache}
}

// Verify returns the request's credential and its token's identifier
// when the credential is valid for t. It asks lookup for the root key
// only when the credential is not remembered. Its errors are those of
// ParseCredential, Verify and CheckCaveats.
func (v *Verifier) Verify(h http.Header, lookup RootKeyLookup, t Target) (
	Credential, Identifier, error) {

	key, size, ok := credentialKey(h)
	if !ok {
		return Credential{}, Identifier{}, ErrNoCredential
	}
	if e, ok := v.cache.Get(key); ok {
		if err := CheckCaveats(e.caveats, t); err != nil {
			return e.cred, e.id, err
		}
		return e.cred, e.id, nil
	}

	cred, err := ParseCredential(h)
	if err != nil {
		return cred, Identifier{}, err
	}
	id, caveats, err := verifySigned(cred.Macaroon, cred.Preimage, lookup)
	if err != nil {
		return cred, id, err
	}
	if err := CheckCaveats(caveats, t); err != nil {
		return cred, id, err
	}
	if size <= MaxRememberedSize {
		v.cache.Add(key, &verified{cred: cred, id: id, caveats: caveats})
	}
	return cred, id, nil
}

// Forget drops every credential remembered.
func (v *Verifier) Forget() { v.cache.Purge() }

// Len is how many credentials are remembered.
func (v *Verifier) Len() int { return v.cache.Len() }

// credentialHeaders are the fields ParseCredential reads, in the order
// credentialKey hashes them.
var credentialHeaders = [...]string{"Authorization", HeaderGrpcMacaroon,
	HeaderMacaroon}

// keyBuffers hold the encodings credentialKey hashes.
var keyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// credentialKey returns the SHA-256 of every value of the credential
// headers, each field's values prefixed by its index and count and each
// value by its length, so that no two different sets of values encode
// alike, and the encoding's length. It reports false when the request
// has none of those fields.
func credentialKey(h http.Header) ([sha256.Size]byte, int, bool) {
	bp := keyBuffers.Get().(*[]byte)
	defer keyBuffers.Put(bp)
	b := (*bp)[:0]
	found := false
	for i, name := range credentialHeaders {
		vals := h[name]
		if len(vals) == 0 {
			continue
		}
		found = true
		b = append(b, byte(i))
		b = binary.AppendUvarint(b, uint64(len(vals)))
		for _, v := range vals {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	*bp = b
	if !found {
		return [sha256.Size]byte{}, 0, false
	}
	return sha256.Sum256(b), len(b), true
}
