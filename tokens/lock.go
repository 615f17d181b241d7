package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockPoll is how often a waiting LockOrigin retries.
const lockPoll = 25 * time.Millisecond

// LockOrigin takes the cross-process lock for buying a token for origin,
// waiting until it is free or ctx ends. Two fetch processes (or
// goroutines) buying for one origin thus pay once: the second finds the
// first one's token, or its pending payment, once it holds the lock.
func (s *Store) LockOrigin(ctx context.Context, origin string) (func(),
	error) {

	dir := filepath.Join(filepath.Dir(s.path), "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("unable to create %s: %w", dir, err)
	}
	sum := sha256.Sum256([]byte(origin))
	path := filepath.Join(dir, hex.EncodeToString(sum[:16])+".lock")

	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("unable to open lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("unable to lock %s: %w", path, err)
		}

		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("another l402 process is buying a "+
				"token for %s: %w", origin, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}
