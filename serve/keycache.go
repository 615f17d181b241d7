package serve

import (
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/l402/l402/internal/l402"
)

// keyCache is a bounded LRU of the root keys of tokens that verified: a
// root key never changes, so a token minted before keys were derived
// needs no database read after its first, and a token in it is known to
// be marked settled already. It is safe for concurrent use.
type keyCache struct {
	keys *lru.Cache[l402.Identifier, []byte]
}

// newKeyCache returns a cache of at most size keys (at least one).
func newKeyCache(size int) *keyCache {
	keys, err := lru.New[l402.Identifier, []byte](max(size, 1))
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &keyCache{keys: keys}
}

// get returns a cached root key.
func (c *keyCache) get(id l402.Identifier) ([]byte, bool) {
	return c.keys.Get(id)
}

// put caches a root key, evicting the least recently used beyond the size.
func (c *keyCache) put(id l402.Identifier, key []byte) {
	c.keys.Add(id, key)
}
