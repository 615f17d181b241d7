package tokens

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
)

// openTest opens a store in a fresh directory.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "home",
		"tokens.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testMacaroon mints a macaroon for a preimage with the given caveats.
func testMacaroon(t *testing.T, preimage l402.Preimage,
	caveats ...l402.Caveat) []byte {

	t.Helper()
	mac, err := l402.Mint(make([]byte, 32), l402.NewIdentifier(
		preimage.Hash(), l402.TokenID{1}), caveats...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mac.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOrigin(t *testing.T) {
	tests := map[string]string{
		"https://Example.com/a?b":      "https://example.com:443",
		"http://example.com/":          "http://example.com:80",
		"https://example.com:8443/x":   "https://example.com:8443",
		"HTTP://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"https://[::1]/":               "https://[::1]:443",
		"https://user:pw@example.com/": "https://example.com:443",
	}
	for in, want := range tests {
		u, _ := url.Parse(in)
		got, err := Origin(u)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://example.com", "https://", "/path"} {
		u, _ := url.Parse(bad)
		if _, err := Origin(u); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got, err := ParseOrigin("https://example.com"); err != nil ||
		got != "https://example.com:443" {
		t.Errorf("ParseOrigin: %q %v", got, err)
	}
	if _, err := ParseOrigin("example.com"); err == nil {
		t.Error("ParseOrigin accepted a bare host")
	}
}

func TestOpenIsPrivate(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	pre := l402.Preimage{1}
	if err := s.PutToken(ctx, Token{Origin: "https://a:443",
		Macaroon: testMacaroon(t, pre), Preimage: pre,
		PaymentHash: pre.Hash()}); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(filepath.Dir(s.Path()))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v %v", fi.Mode(), err)
	}
	files, _ := filepath.Glob(s.Path() + "*")
	if len(files) < 2 {
		t.Fatalf("expected the database and its WAL, got %v", files)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v %v", f, fi.Mode(), err)
		}
	}
}

func TestBuyFlow(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	origin := "https://api.example:443"
	now := time.Unix(1_800_000_000, 0)

	oldPre := l402.Preimage{1}
	old := Token{Origin: origin, Macaroon: testMacaroon(t, oldPre),
		Preimage: oldPre, PaymentHash: oldPre.Hash(), AmountMsat: 5000,
		CreatedAt: now.Add(-time.Hour)}
	if err := s.PutToken(ctx, old); err != nil {
		t.Fatal(err)
	}

	// A new purchase is pending: the old token stays until it settles.
	newPre := l402.Preimage{2}
	p := Pending{PaymentHash: newPre.Hash(), Origin: origin,
		Macaroon: testMacaroon(t, newPre), Invoice: "lnbcrt1x",
		AmountMsat: 100_000, CreatedAt: now}
	if err := s.AddPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPending(ctx, p); err == nil {
		t.Fatal("the same payment recorded twice")
	}
	got, err := s.Token(ctx, origin)
	if err != nil || got.PaymentHash != old.PaymentHash {
		t.Fatalf("old token gone while the new one is pending: %v", err)
	}
	pend, err := s.PendingFor(ctx, origin)
	if err != nil || len(pend) != 1 || pend[0].Invoice != "lnbcrt1x" ||
		pend[0].PaymentHash != p.PaymentHash || !pend[0].CreatedAt.Equal(now) {
		t.Fatalf("pending %+v %v", pend, err)
	}

	spent, err := s.Spent(ctx, origin, now.Add(-time.Minute))
	if err != nil || spent != 100_000 {
		t.Fatalf("spent with a pending payment: %d %v", spent, err)
	}

	if _, err := s.CompletePending(ctx, p.PaymentHash, l402.Preimage{9}, 0,
		now); !errors.Is(err, l402.ErrPreimageMismatch) {
		t.Fatalf("wrong preimage: %v", err)
	}
	if _, err := s.CompletePending(ctx, l402.Preimage{7}.Hash(),
		l402.Preimage{7}, 0, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown pending: %v", err)
	}

	tok, err := s.CompletePending(ctx, p.PaymentHash, newPre, 1500, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.Token(ctx, origin)
	if err != nil || got.PaymentHash != newPre.Hash() ||
		got.Preimage != newPre || got.FeeMsat != 1500 ||
		got.AmountMsat != 100_000 || !got.CreatedAt.Equal(tok.CreatedAt) ||
		tok.PaymentHash != got.PaymentHash {
		t.Fatalf("token after completion %+v %v", got, err)
	}
	if pend, _ := s.PendingFor(ctx, ""); len(pend) != 0 {
		t.Fatalf("pending left: %+v", pend)
	}
	cred, err := got.Credential()
	if err != nil || cred.Preimage != newPre {
		t.Fatalf("credential %v", err)
	}

	spent, _ = s.Spent(ctx, origin, now.Add(-time.Minute))
	if spent != 101_500 {
		t.Fatalf("spent %d, want amount and fee", spent)
	}
	if spent, _ = s.Spent(ctx, origin, now.Add(time.Minute)); spent != 0 {
		t.Fatalf("spent since later %d", spent)
	}
	if spent, _ = s.Spent(ctx, "http://other:80", time.Time{}); spent != 0 {
		t.Fatalf("spent at another origin %d", spent)
	}
	if spent, _ = s.Spent(ctx, "", time.Time{}); spent != 101_500 {
		t.Fatalf("spent everywhere %d", spent)
	}
	stats, err := s.Stats(ctx)
	if err != nil || len(stats) != 1 || stats[0].Payments != 1 ||
		stats[0].FeeMsat != 1500 {
		t.Fatalf("stats %+v %v", stats, err)
	}
}

func TestDropClearRemove(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	pre := l402.Preimage{3}
	p := Pending{PaymentHash: pre.Hash(), Origin: "http://a:80",
		Macaroon: testMacaroon(t, pre), Invoice: "x", AmountMsat: 1}
	s.AddPending(ctx, p)
	if err := s.DropPending(ctx, p.PaymentHash); err != nil {
		t.Fatal(err)
	}
	if err := s.DropPending(ctx, p.PaymentHash); !errors.Is(err,
		ErrNotFound) {
		t.Fatalf("second drop: %v", err)
	}

	for i, o := range []string{"http://a:80", "https://b:443"} {
		pre := l402.Preimage{byte(10 + i)}
		s.PutToken(ctx, Token{Origin: o, Macaroon: testMacaroon(t, pre),
			Preimage: pre, PaymentHash: pre.Hash()})
	}
	if err := s.PutToken(ctx, Token{Origin: "x", Preimage: pre,
		PaymentHash: l402.Hash{}}); !errors.Is(err,
		l402.ErrPreimageMismatch) {
		t.Fatalf("token with a wrong preimage stored: %v", err)
	}
	if err := s.RemoveToken(ctx, "http://a:80"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveToken(ctx, "http://a:80"); !errors.Is(err,
		ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}

	s.AddPending(ctx, p)
	n, err := s.Clear(ctx)
	if err != nil || n != 1 {
		t.Fatalf("clear: %d %v", n, err)
	}
	if toks, _ := s.Tokens(ctx); len(toks) != 0 {
		t.Fatalf("tokens after clear: %+v", toks)
	}
	if pend, _ := s.PendingFor(ctx, ""); len(pend) != 1 {
		t.Fatal("clear dropped a pending payment")
	}
}

func TestReopenAndSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	pre := l402.Preimage{4}
	s.PutToken(ctx, Token{Origin: "https://a:443",
		Macaroon: testMacaroon(t, pre), Preimage: pre,
		PaymentHash: pre.Hash()})
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(ctx, "https://a:443"); err != nil {
		t.Fatalf("token lost on reopen: %v", err)
	}
	if _, err := s.db.raw.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil {
		t.Fatal("a newer schema was opened")
	}
}

func TestValidUntil(t *testing.T) {
	pre := l402.Preimage{5}
	svc, _ := l402.ServicesCaveat(l402.Service{Name: "a"})
	u1, _ := l402.ValidUntilCaveat("a", time.Unix(2000, 0))
	u2, _ := l402.ValidUntilCaveat("a", time.Unix(1000, 0))
	tok := Token{Macaroon: testMacaroon(t, pre, svc, u1, u2)}
	if got, ok := tok.ValidUntil(); !ok || got.Unix() != 1000 {
		t.Fatalf("valid until %v %v", got, ok)
	}
	tok = Token{Macaroon: testMacaroon(t, pre, svc)}
	if _, ok := tok.ValidUntil(); ok {
		t.Fatal("expiry found in a token without one")
	}
}

func TestLockOrigin(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	unlock, err := s.LockOrigin(ctx, "https://a:443")
	if err != nil {
		t.Fatal(err)
	}

	// Another origin is not blocked.
	other, err := s.LockOrigin(ctx, "https://b:443")
	if err != nil {
		t.Fatal(err)
	}
	other()

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.LockOrigin(short, "https://a:443"); !errors.Is(err,
		context.DeadlineExceeded) {
		t.Fatalf("lock taken twice: %v", err)
	}

	got := make(chan error)
	go func() {
		u, err := s.LockOrigin(ctx, "https://a:443")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("lock not handed over: %v", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, path)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for i := 0; i < 20; i++ {
				pre := l402.Preimage{byte(w), byte(i), 1}
				err := s.AddPending(ctx, Pending{PaymentHash: pre.Hash(),
					Origin: "https://a:443", Invoice: "x",
					Macaroon: []byte{1}, AmountMsat: 1})
				if err == nil {
					_, err = s.CompletePending(ctx, pre.Hash(), pre, 0,
						time.Now())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, _ := Open(ctx, path)
	defer s.Close()
	stats, _ := s.Stats(ctx)
	if len(stats) != 1 || stats[0].Payments != 80 {
		t.Fatalf("stats after concurrent writers: %+v", stats)
	}
}

// TestSpentCountsPendingInTheirDay: a pending payment counts in the window
// of the time it was recorded, as a payment counts in the window of the
// time it settled; one older than the window no longer counts.
func TestSpentCountsPendingInTheirDay(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	origin := "https://api.example:443"
	now := time.Unix(1_800_000_000, 0)

	for i, age := range []time.Duration{time.Hour, 25 * time.Hour} {
		pre := l402.Preimage{byte(i + 1)}
		if err := s.AddPending(ctx, Pending{PaymentHash: pre.Hash(),
			Origin: origin, Macaroon: testMacaroon(t, pre),
			Invoice: "lnbcrt1x", AmountMsat: 10_000, MaxFeeMsat: 1000,
			CreatedAt: now.Add(-age)}); err != nil {
			t.Fatal(err)
		}
	}
	day := now.Add(-24 * time.Hour)
	for _, o := range []string{"", origin} {
		if spent, err := s.Spent(ctx, o, day); err != nil ||
			spent != 11_000 {
			t.Fatalf("spent at %q in the last day: %d %v, want the "+
				"recent pending payment only", o, spent, err)
		}
	}
	if spent, _ := s.Spent(ctx, "", time.Time{}); spent != 22_000 {
		t.Fatalf("spent ever: %d, want both", spent)
	}
}

// TestPendingViews: `tokens pending` lists each pending payment with its
// invoice's expiry, read from the invoice; one payment is found by hash.
func TestPendingViews(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)

	seller, err := lightning.NewMemoryNetwork().NewNode("s", "regtest")
	if err != nil {
		t.Fatal(err)
	}
	seller.SetClock(func() time.Time { return now })
	inv, err := seller.AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 21, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	other := l402.Preimage{7}
	for _, p := range []Pending{
		{PaymentHash: inv.PaymentHash, Origin: "https://b.example:443",
			Invoice: inv.PaymentRequest, AmountMsat: 21_000,
			MaxFeeMsat: 10_000, CreatedAt: now},
		{PaymentHash: other.Hash(), Origin: "https://a.example:443",
			Invoice: "lnbcrt1x", AmountMsat: 1500,
			CreatedAt: now.Add(-time.Hour)},
	} {
		p.Macaroon = []byte{1}
		if err := s.AddPending(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	views, err := s.PendingViews(ctx, now.Add(2*time.Hour))
	if err != nil || len(views) != 2 {
		t.Fatalf("views %+v %v", views, err)
	}
	undecodable, good := views[0], views[1]
	if undecodable.PaymentHash != other.Hash().String() ||
		undecodable.AmountSat != 2 || undecodable.InvoiceExpiresAt != nil ||
		undecodable.InvoiceExpired {
		t.Fatalf("undecodable invoice: %+v", undecodable)
	}
	if good.Origin != "https://b.example:443" || good.AmountSat != 21 ||
		good.MaxFeeSat != 10 || !good.CreatedAt.Equal(now) ||
		good.InvoiceExpiresAt == nil ||
		!good.InvoiceExpiresAt.Equal(now.Add(time.Hour)) ||
		!good.InvoiceExpired || good.Invoice != inv.PaymentRequest {
		t.Fatalf("pending view %+v", good)
	}

	p, err := s.PendingPayment(ctx, inv.PaymentHash)
	if err != nil || p.Origin != "https://b.example:443" ||
		p.Invoice != inv.PaymentRequest {
		t.Fatalf("by hash: %+v %v", p, err)
	}
	if _, err := s.PendingPayment(ctx, l402.Hash{3}); !errors.Is(err,
		ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
}
