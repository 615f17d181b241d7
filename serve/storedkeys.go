package serve

import (
	"encoding/binary"
	"slices"
)

// storedKeys is which tokens have a stored root key (minted before root
// keys were derived), as the first 8 bytes of their keys, sorted, read
// once at start (Store.StoredKeyPrefixes): no l402 writes one any more,
// so a token outside it has none, and a token whose MAC its derived key
// does not verify (a forgery, most likely) is refused without a read of
// the database. Finding an identifier whose key falls in it takes about
// 2^64 / len hashes, so a forger cannot make serve read for it.
type storedKeys []uint64

// has reports whether a token with key (sha256 of its identifier) may
// have a stored root key.
func (s storedKeys) has(key [32]byte) bool {
	_, ok := slices.BinarySearch(s, binary.BigEndian.Uint64(key[:]))
	return ok
}
