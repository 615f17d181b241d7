package serve

import (
	"container/list"
	"sync"

	"github.com/l402/l402/internal/l402"
)

// keyCache is a bounded LRU of root keys: a root key never changes, so a
// paid request needs no database read once its token has been seen.
type keyCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	items map[l402.Identifier]*list.Element
}

// keyEntry is one cached root key.
type keyEntry struct {
	id  l402.Identifier
	key []byte
}

// newKeyCache returns a cache of at most max keys.
func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, order: list.New(),
		items: map[l402.Identifier]*list.Element{}}
}

// get returns a cached root key.
func (c *keyCache) get(id l402.Identifier) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*keyEntry).key, true
}

// put caches a root key, evicting the least recently used beyond max.
func (c *keyCache) put(id l402.Identifier, key []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.items[id] = c.order.PushFront(&keyEntry{id: id, key: key})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*keyEntry).id)
	}
}
