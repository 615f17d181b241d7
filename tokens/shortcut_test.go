package tokens

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
)

// putTestToken stores a token bought with preimage for origin.
func putTestToken(t *testing.T, s *Store, origin string,
	pre l402.Preimage) Token {

	t.Helper()
	tok := Token{Origin: origin, Macaroon: testMacaroon(t, pre),
		Preimage: pre, PaymentHash: pre.Hash(), AmountMsat: 5000,
		CreatedAt: time.Unix(1_800_000_000, 0)}
	if err := s.PutToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantShortcut fails unless the shortcut file names origin with tok (or,
// for a zero tok, does not name it).
func wantShortcut(t *testing.T, s *Store, origin string, tok Token) {
	t.Helper()
	sc, ok := ReadShortcut(s.Path(), origin)
	if tok.Origin == "" {
		if ok {
			t.Fatalf("the shortcut file names %s: %+v", origin, sc)
		}
		return
	}
	auth, err := tokenAuthorization(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || sc.Authorization != auth ||
		sc.PaymentHash != tok.PaymentHash.String() ||
		sc.AmountMsat != tok.AmountMsat ||
		sc.CreatedAt != tok.CreatedAt.Unix() {
		t.Fatalf("shortcut for %s: %+v %v, want the token %s", origin, sc,
			ok, tok.PaymentHash)
	}
}

func TestShortcutNamesOnlyAnOriginWithNothingInTheWay(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	a, b, c := "https://a.example:443", "https://b.example:443",
		"https://c.example:443"

	// No token: nothing to name, and no file.
	if err := s.WriteShortcut(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantShortcut(t, s, a, Token{})
	if _, err := os.Lstat(ShortcutPath(s.Path())); !os.IsNotExist(err) {
		t.Fatalf("a shortcut file with nothing to name: %v", err)
	}

	ta := putTestToken(t, s, a, l402.Preimage{1})
	if err := s.WriteShortcut(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantShortcut(t, s, a, ta)
	st, err := os.Stat(ShortcutPath(s.Path()))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the shortcut file holds secrets: %v %v", st.Mode(), err)
	}

	// A second origin joins the first in the file.
	tb := putTestToken(t, s, b, l402.Preimage{2})
	if err := s.WriteShortcut(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteShortcut(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantShortcut(t, s, a, ta)
	wantShortcut(t, s, b, tb)

	// A token with a payment pending is not named: that payment is to
	// be settled first.
	putTestToken(t, s, c, l402.Preimage{3})
	pre := l402.Preimage{4}
	if err := s.AddPending(ctx, Pending{PaymentHash: pre.Hash(), Origin: c,
		Macaroon: testMacaroon(t, pre), Invoice: "lnbcrt1x",
		AmountMsat: 1000, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteShortcut(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantShortcut(t, s, c, Token{})

	// Nor one with a Payment session: its requests draw on the session.
	if _, err := s.CompletePending(ctx, pre.Hash(), pre, 0, now); err != nil {
		t.Fatal(err)
	}
	dep := l402.Preimage{5}
	if err := s.AddPending(ctx, Pending{PaymentHash: dep.Hash(), Origin: c,
		Scheme: SchemePayment, Challenge: sessionChallenge(t, 2, 40,
			dep.Hash()), Invoice: "lnbcrt1y", AmountMsat: 40_000,
		CreatedAt: now, ReturnInvoice: "lnbcrt1return",
		URL: c + "/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompletePending(ctx, dep.Hash(), dep, 0, now); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteShortcut(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantShortcut(t, s, c, Token{})
}

// TestEveryWriteRemovesTheShortcut runs each of the store's writes on a
// store whose shortcut file names another origin: the file must be gone,
// whatever the write touched.
func TestEveryWriteRemovesTheShortcut(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	named, other := "https://named.example:443", "https://other.example:443"
	pending := func(t *testing.T, s *Store, pre l402.Preimage) Pending {
		p := Pending{PaymentHash: pre.Hash(), Origin: other,
			Macaroon: testMacaroon(t, pre), Invoice: "lnbcrt1x",
			AmountMsat: 1000, CreatedAt: now}
		if err := s.AddPending(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	session := func(t *testing.T, s *Store) l402.Hash {
		dep := l402.Preimage{0x55}
		if err := s.AddPending(ctx, Pending{PaymentHash: dep.Hash(),
			Origin: other, Scheme: SchemePayment,
			Challenge: sessionChallenge(t, 2, 40, dep.Hash()),
			Invoice:   "lnbcrt1y", AmountMsat: 40_000, CreatedAt: now,
			ReturnInvoice: "lnbcrt1return", URL: other + "/x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompletePending(ctx, dep.Hash(), dep, 0,
			now); err != nil {
			t.Fatal(err)
		}
		return dep.Hash()
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s *Store) func() error
	}{
		{"PutToken", func(t *testing.T, s *Store) func() error {
			pre := l402.Preimage{9}
			return func() error {
				return s.PutToken(ctx, Token{Origin: other,
					Macaroon: testMacaroon(t, pre), Preimage: pre,
					PaymentHash: pre.Hash(), CreatedAt: now})
			}
		}},
		{"Import", func(t *testing.T, s *Store) func() error {
			pre := l402.Preimage{9}
			auth, err := tokenAuthorization(Token{
				Macaroon: testMacaroon(t, pre), Preimage: pre})
			if err != nil {
				t.Fatal(err)
			}
			return func() error {
				_, err := s.Import(ctx, other, auth, now)
				return err
			}
		}},
		{"RemoveToken of the named origin", func(t *testing.T,
			s *Store) func() error {
			return func() error { return s.RemoveToken(ctx, named) }
		}},
		{"Clear", func(t *testing.T, s *Store) func() error {
			return func() error { _, err := s.Clear(ctx); return err }
		}},
		{"AddPending", func(t *testing.T, s *Store) func() error {
			return func() error {
				pending(t, s, l402.Preimage{8})
				return nil
			}
		}},
		{"CompletePending", func(t *testing.T, s *Store) func() error {
			p := pending(t, s, l402.Preimage{8})
			return func() error {
				_, err := s.CompletePending(ctx, p.PaymentHash,
					l402.Preimage{8}, 0, now)
				return err
			}
		}},
		{"DropPending", func(t *testing.T, s *Store) func() error {
			p := pending(t, s, l402.Preimage{8})
			return func() error { return s.DropPending(ctx, p.PaymentHash) }
		}},
		{"SessionOpened", func(t *testing.T, s *Store) func() error {
			id := session(t, s)
			return func() error { return s.SessionOpened(ctx, other, id, now) }
		}},
		{"SessionDrawn", func(t *testing.T, s *Store) func() error {
			id := session(t, s)
			return func() error {
				return s.SessionDrawn(ctx, other, id, "", now)
			}
		}},
		{"CloseSession", func(t *testing.T, s *Store) func() error {
			id := session(t, s)
			return func() error {
				return s.CloseSession(ctx, other, id, Refund{}, now)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			write := tc.setup(t, s)
			tok := putTestToken(t, s, named, l402.Preimage{1})
			if err := s.WriteShortcut(ctx, named); err != nil {
				t.Fatal(err)
			}
			wantShortcut(t, s, named, tok)
			if err := write(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(ShortcutPath(s.Path())); !os.IsNotExist(err) {
				t.Fatalf("the shortcut file outlived %s: %v", tc.name, err)
			}
		})
	}
}

func TestShortcutFileNotTrusted(t *testing.T) {
	ctx := context.Background()
	origin := "https://a.example:443"
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, s *Store)
	}{
		{"readable by others", func(t *testing.T, s *Store) {
			if err := os.Chmod(ShortcutPath(s.Path()), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"not JSON", func(t *testing.T, s *Store) {
			if err := os.WriteFile(ShortcutPath(s.Path()), []byte("{"),
				0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"another format", func(t *testing.T, s *Store) {
			rewriteShortcut(t, s, func(f *shortcutFile) { f.Version++ })
		}},
		{"written under another schema", func(t *testing.T, s *Store) {
			rewriteShortcut(t, s, func(f *shortcutFile) { f.Schema-- })
		}},
		{"of another store file", func(t *testing.T, s *Store) {
			rewriteShortcut(t, s, func(f *shortcutFile) { f.Store.Ino++ })
		}},
		{"the store moved aside and a new one made", func(t *testing.T,
			s *Store) {
			s.Close()
			if err := os.Rename(s.Path(), s.Path()+".bak"); err != nil {
				t.Fatal(err)
			}
			fresh, err := Open(ctx, s.Path())
			if err != nil {
				t.Fatal(err)
			}
			fresh.Close()
		}},
		{"a store file born since", func(t *testing.T, s *Store) {
			rewriteShortcut(t, s, func(f *shortcutFile) { f.Store.Birth-- })
		}},
		{"a symlink", func(t *testing.T, s *Store) {
			p := ShortcutPath(s.Path())
			if err := os.Rename(p, p+".real"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Base(p)+".real", p); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			putTestToken(t, s, origin, l402.Preimage{1})
			if err := s.WriteShortcut(ctx, origin); err != nil {
				t.Fatal(err)
			}
			if _, ok := ReadShortcut(s.Path(), origin); !ok {
				t.Fatal("no shortcut before the damage")
			}
			tc.damage(t, s)
			if sc, ok := ReadShortcut(s.Path(), origin); ok {
				t.Fatalf("a shortcut file %s was read: %+v", tc.name, sc)
			}
		})
	}
}

// rewriteShortcut changes the store's shortcut file with edit.
func rewriteShortcut(t *testing.T, s *Store, edit func(*shortcutFile)) {
	t.Helper()
	f, ok := readShortcutFile(s.Path())
	if !ok {
		t.Fatal("no shortcut file to change")
	}
	edit(&f)
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ShortcutPath(s.Path()), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestShortcutNeverOutlivesARemoval races WriteShortcut against the
// token's removal and a new token: when both are done, a file that names
// the origin must name the token the store holds.
func TestShortcutNeverOutlivesARemoval(t *testing.T) {
	ctx := context.Background()
	s, other := openTwice(t)
	origin := "https://a.example:443"
	for i := range 30 {
		putTestToken(t, s, origin, l402.Preimage{1, byte(i)})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := s.WriteShortcut(ctx, origin); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				if err := other.RemoveToken(ctx, origin); err != nil {
					t.Error(err)
				}
				return
			}
			pre := l402.Preimage{2, byte(i)}
			if err := other.PutToken(ctx, Token{Origin: origin,
				Macaroon: testMacaroon(t, pre), Preimage: pre,
				PaymentHash: pre.Hash(),
				CreatedAt:   time.Unix(1_800_000_000, 0)}); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		sc, ok := ReadShortcut(s.Path(), origin)
		if !ok {
			continue
		}
		tok, err := s.Token(ctx, origin)
		if err != nil {
			t.Fatalf("round %d: the shortcut names a removed token", i)
		}
		if auth, _ := tokenAuthorization(tok); auth != sc.Authorization {
			t.Fatalf("round %d: the shortcut names a replaced token", i)
		}
	}
}

// TestShortcutOfALinkedStore: a store reached by two names (a symlink to
// the file or to its directory, and its own path) is one store to SQLite,
// which puts its WAL beside the file the link names, and must be one to
// the shortcut file too: a write through either name leaves no file the
// other reads.
func TestShortcutOfALinkedStore(t *testing.T) {
	ctx := context.Background()
	origin := "https://a.example:443"
	for _, tc := range []struct {
		name string
		link func(t *testing.T, real string) string
	}{
		{"a symlink to the file", func(t *testing.T, real string) string {
			p := filepath.Join(t.TempDir(), "tokens.db")
			if err := os.Symlink(real, p); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"a symlink to its directory", func(t *testing.T,
			real string) string {
			d := filepath.Join(t.TempDir(), "l402")
			if err := os.Symlink(filepath.Dir(real), d); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, filepath.Base(real))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			linked, err := Open(ctx, tc.link(t, s.Path()))
			if err != nil {
				t.Fatal(err)
			}
			defer linked.Close()
			putTestToken(t, linked, origin, l402.Preimage{1})
			if err := linked.WriteShortcut(ctx, origin); err != nil {
				t.Fatal(err)
			}
			if err := s.RemoveToken(ctx, origin); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{linked.Path(), s.Path()} {
				if sc, ok := ReadShortcut(path, origin); ok {
					t.Fatalf("the shortcut file read through %s names "+
						"the removed token %s", path, sc.PaymentHash)
				}
			}
		})
	}
}

// TestShortcutWriteKeepsTheLockPastACancel: a fetch interrupted while
// WriteShortcut writes the file (its context canceled) keeps SQLite's
// write lock until the file is in place: database/sql rolls a canceled
// transaction back at once, which would let another process remove the
// token before the file naming it lands.
func TestShortcutWriteKeepsTheLockPastACancel(t *testing.T) {
	ctx := context.Background()
	s, other := openTwice(t)
	origin := "https://a.example:443"
	dir := filepath.Dir(s.Path())
	for i := range 20 {
		putTestToken(t, s, origin, l402.Preimage{1, byte(i)})
		wctx, cancel := context.WithCancel(ctx)
		stop, removed := make(chan struct{}), make(chan error, 1)
		go func() {
			// The moment the file's temporary copy appears, the fetch
			// is interrupted and another process removes the token.
			for {
				select {
				case <-stop:
					removed <- nil
					return
				default:
				}
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if strings.HasPrefix(e.Name(), ".atomic-") {
						cancel()
						removed <- other.RemoveToken(ctx, origin)
						return
					}
				}
			}
		}()
		_ = s.WriteShortcut(wctx, origin)
		close(stop)
		if err := <-removed; err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := s.Token(ctx, origin); err == nil {
			continue // the watcher missed the write
		}
		if sc, ok := ReadShortcut(s.Path(), origin); ok {
			t.Fatalf("round %d: the shortcut file names the removed "+
				"token %s", i, sc.PaymentHash)
		}
	}
}

// TestNewStoreDropsAnOldShortcut: a store made where one was deleted
// starts without the old store's shortcut file, whose stamp a file
// system without birth times could give the new file (the inode of the
// deleted one).
func TestNewStoreDropsAnOldShortcut(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	origin := "https://a.example:443"
	putTestToken(t, s, origin, l402.Preimage{1})
	if err := s.WriteShortcut(ctx, origin); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, p := range []string{s.Path(), s.Path() + "-wal",
		s.Path() + "-shm"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	fresh, err := Open(ctx, s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := os.Lstat(ShortcutPath(s.Path())); !os.IsNotExist(err) {
		t.Fatalf("the new store has the old one's shortcut file: %v", err)
	}
}

// openTwice opens a store in a fresh directory, and the same file again:
// a second process's connection.
func openTwice(t *testing.T) (s, other *Store) {
	t.Helper()
	s = openTest(t)
	other, err := Open(context.Background(), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return s, other
}
