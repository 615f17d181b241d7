package lightning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/l402/l402/internal/atomicfile"
)

// LNCKeys are the static keys of one LNC pairing, as the client keeps them
// between connections. After the first connection the node knows the
// client's key and listens on a mailbox derived from both keys, so losing
// them means pairing again with a new phrase.
type LNCKeys struct {
	// PhraseID identifies the pairing phrase the keys belong to (a hash
	// of it, never the phrase): keys stored for another phrase are not
	// used.
	PhraseID string

	// Local is the client's static private key, 32 bytes.
	Local []byte

	// Remote is the node's static public key, 33 bytes compressed; it
	// is empty until the first handshake.
	Remote []byte
}

// SessionStore keeps a client's LNC keys. Its contents are secrets.
type SessionStore interface {
	// Load returns the stored keys, or ok false when none are stored.
	Load() (keys LNCKeys, ok bool, err error)

	// Save replaces the stored keys.
	Save(keys LNCKeys) error
}

// phraseID returns the PhraseID of a pairing phrase's entropy.
func phraseID(entropy []byte) string {
	sum := sha256.Sum256(append([]byte("l402 lnc phrase id:"), entropy...))
	return hex.EncodeToString(sum[:8])
}

// describeStore names a store for messages without printing its
// contents, which are secret.
func describeStore(store SessionStore) string {
	if s, ok := store.(fmt.Stringer); ok {
		return s.String()
	}
	return "the session store"
}

// FileSessionStore keeps LNC keys in one JSON file, readable by its owner
// only (0600, in a directory created 0700).
type FileSessionStore struct {
	Path string
}

// String names the file, for messages.
func (f FileSessionStore) String() string { return f.Path }

// lncKeysFile is the file's JSON form.
type lncKeysFile struct {
	Version  int    `json:"version"`
	PhraseID string `json:"phrase_id"`
	Local    string `json:"local_key"`
	Remote   string `json:"remote_key,omitempty"`
}

// Load implements SessionStore.
func (f FileSessionStore) Load() (LNCKeys, bool, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return LNCKeys{}, false, nil
	}
	if err != nil {
		return LNCKeys{}, false, fmt.Errorf("unable to read LNC session "+
			"keys: %w", err)
	}

	var kf lncKeysFile
	if err := json.Unmarshal(b, &kf); err != nil || kf.Version != 1 {
		return LNCKeys{}, false, fmt.Errorf("LNC session file %s is "+
			"not a version 1 key file: remove it to pair again",
			f.Path)
	}
	local, errL := hex.DecodeString(kf.Local)
	remote, errR := hex.DecodeString(kf.Remote)
	if errL != nil || errR != nil || len(local) != 32 ||
		(len(remote) != 0 && len(remote) != 33) {

		return LNCKeys{}, false, fmt.Errorf("LNC session file %s holds "+
			"malformed keys: remove it to pair again", f.Path)
	}
	return LNCKeys{PhraseID: kf.PhraseID, Local: local, Remote: remote},
		true, nil
}

// Save implements SessionStore. It writes the file whole or not at all
// (internal/atomicfile), 0600, so that a crash leaves the old keys or the
// new ones.
func (f FileSessionStore) Save(keys LNCKeys) error {
	b, err := json.MarshalIndent(lncKeysFile{
		Version:  1,
		PhraseID: keys.PhraseID,
		Local:    hex.EncodeToString(keys.Local),
		Remote:   hex.EncodeToString(keys.Remote),
	}, "", "  ")
	if err != nil {
		return err
	}

	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("unable to create the LNC session directory: "+
			"%w", err)
	}
	if err := atomicfile.Write(f.Path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("unable to save LNC session keys: %w", err)
	}
	return nil
}

// MemorySessionStore keeps LNC keys in memory only: every new process
// pairs again, so it suits a phrase used once (tests, one-shot tools).
type MemorySessionStore struct {
	mu   sync.Mutex
	keys LNCKeys
	ok   bool
}

// String names the store, for messages; it never shows the keys.
func (m *MemorySessionStore) String() string { return "memory" }

// Load implements SessionStore.
func (m *MemorySessionStore) Load() (LNCKeys, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys, m.ok, nil
}

// Save implements SessionStore.
func (m *MemorySessionStore) Save(keys LNCKeys) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys, m.ok = keys, true
	return nil
}
