package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402/l402/internal/mpp"
)

// openLedger opens an SQLite store holding draws in memory for interval,
// with a session per deposit (ids 1, 2, ...), each opened at unix second
// 100 drawing 1.
func openLedger(t *testing.T, interval time.Duration,
	deposits ...int64) *Store {

	t.Helper()
	s := openForDraws(t, deposits...)
	if err := s.BufferSessionDraws(interval, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// stored reads session id's balance and spent sat from the database
// itself, without writing the draws held first.
func stored(t *testing.T, s *Store, id byte) (balance, spent int64) {
	t.Helper()
	key := [32]byte{id}
	if err := s.db.QueryRow(`SELECT balance_sat, spent_sat FROM
		mpp_sessions WHERE session_id = ?`, key[:]).Scan(&balance,
		&spent); err != nil {
		t.Fatal(err)
	}
	return balance, spent
}

// at is unix second n.
func at(n int64) time.Time { return time.Unix(n, 0) }

// TestLedgerDrawsInMemory: held draws are answered with the balance they
// leave, the database does not hold them until they are written, and a
// read of the session writes them first.
func TestLedgerDrawsInMemory(t *testing.T) {
	s := openLedger(t, time.Hour, 100)
	ctx := context.Background()
	for i := int64(1); i <= 10; i++ {
		left, err := s.DrawSession(ctx, [32]byte{1}, "api", 5, at(200),
			time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if want := 99 - 5*i; left != want {
			t.Fatalf("draw %d left %d, want %d", i, left, want)
		}
	}
	if b, sp := stored(t, s, 1); b != 99 || sp != 1 {
		t.Fatalf("the database holds %d (spent %d) before the write, "+
			"want 99 (1)", b, sp)
	}
	info, err := s.Session(ctx, [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if info.BalanceSat != 49 || info.SpentSat != 51 ||
		info.LastUsedAt.Unix() != 200 {
		t.Fatalf("after the read: balance %d spent %d last used %d, "+
			"want 49 51 200", info.BalanceSat, info.SpentSat,
			info.LastUsedAt.Unix())
	}
	if s.drawStatements.Load() != 0 {
		t.Fatalf("%d draws ran in the database", s.drawStatements.Load())
	}
}

// TestLedgerRefusesAsTheDatabase: a held session refuses what the
// database's guarded UPDATE refuses, with the same conditions, and
// takes nothing for a refusal.
func TestLedgerRefusesAsTheDatabase(t *testing.T) {
	ctx := context.Background()
	for _, strict := range []bool{false, true} {
		var s *Store
		if strict {
			s = openForDraws(t, 10)
		} else {
			s = openLedger(t, time.Hour, 10)
		}
		cases := []struct {
			name    string
			id      byte
			service string
			price   int64
			now     time.Time
			want    error
		}{
			{"unknown", 9, "api", 1, at(200), mpp.ErrUnknownSession},
			{"another service", 1, "other", 1, at(200),
				mpp.ErrWrongResource},
			{"short", 1, "api", 10, at(200), mpp.ErrInsufficient},
			{"idle", 1, "api", 1, at(100 + 3601), mpp.ErrSessionClosed},
		}
		for _, c := range cases {
			_, err := s.DrawSession(ctx, [32]byte{c.id}, c.service, c.price,
				c.now, time.Hour)
			if !errors.Is(err, c.want) {
				t.Errorf("strict %v, %s: %v, want %v", strict, c.name, err,
					c.want)
			}
		}
		left, err := s.DrawSession(ctx, [32]byte{1}, "api", 9, at(200),
			time.Hour)
		if err != nil || left != 0 {
			t.Fatalf("strict %v: the whole balance: %d, %v", strict, left,
				err)
		}
		if _, err := s.CloseSession(ctx, [32]byte{1}, "api",
			at(201)); err != nil {
			t.Fatal(err)
		}
		_, err = s.DrawSession(ctx, [32]byte{1}, "api", 0, at(202),
			time.Hour)
		if !errors.Is(err, mpp.ErrSessionClosed) {
			t.Errorf("strict %v: a draw after the close: %v", strict, err)
		}
	}
}

// TestLedgerWritesPeriodically: the draws are written within the
// interval without a read asking for them.
func TestLedgerWritesPeriodically(t *testing.T) {
	s := openLedger(t, 10*time.Millisecond, 100)
	if _, err := s.DrawSession(context.Background(), [32]byte{1}, "api",
		7, at(200), time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, sp := stored(t, s, 1); b == 92 && sp == 8 {
			break
		}
		if time.Now().After(deadline) {
			b, sp := stored(t, s, 1)
			t.Fatalf("the database still holds %d (spent %d), want 92 (8)",
				b, sp)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.ledger.mu.Lock()
	dirty := s.ledger.dirty
	s.ledger.mu.Unlock()
	if dirty != 0 {
		t.Fatalf("%d sessions left to write after the write", dirty)
	}
}

// TestLedgerCloseRefundsWhatIsLeft: a close writes the held draws first,
// so that the refund is what they left, to the sat.
func TestLedgerCloseRefundsWhatIsLeft(t *testing.T) {
	s := openLedger(t, time.Hour, 100)
	ctx := context.Background()
	for range 30 {
		if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 3, at(200),
			time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.CloseSession(ctx, [32]byte{1}, "api", at(201))
	if err != nil {
		t.Fatal(err)
	}
	if c.RefundSat != 9 {
		t.Fatalf("refund %d, want 9 (100 - 1 - 30 x 3)", c.RefundSat)
	}
	if _, sp := stored(t, s, 1); sp != 91 {
		t.Fatalf("spent %d, want 91", sp)
	}
}

// TestLedgerTopUp: a top-up writes the held draws, adds the deposit, and
// the next draws see the new balance.
func TestLedgerTopUp(t *testing.T) {
	s := openLedger(t, time.Hour, 10)
	ctx := context.Background()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 9, at(200),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	balance, err := s.TopUpSession(ctx, TopUp{ID: [32]byte{1},
		Service: "api", DepositHash: [32]byte{7}, DepositSat: 50,
		ChallengeID: "cid2", ChallengeExpires: at(700), Now: at(201),
		Idle: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if balance != 50 {
		t.Fatalf("after the top-up: %d, want 50", balance)
	}
	left, err := s.DrawSession(ctx, [32]byte{1}, "api", 20, at(202),
		time.Hour)
	if err != nil || left != 30 {
		t.Fatalf("a draw after the top-up: %d, %v; want 30", left, err)
	}
}

// TestLedgerCloseOfTheStoreWritesDraws: closing the store writes what
// the draws took; a store opened again holds it.
func TestLedgerCloseOfTheStoreWritesDraws(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.db")
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OpenSession(ctx, NewSession{ID: [32]byte{1},
		Service: "api", ReturnInvoice: "lnbcrt1refund", DepositSat: 100,
		DrawSat: 1, ChallengeID: "cid", ChallengeExpires: at(700),
		Now: at(100)}); err != nil {
		t.Fatal(err)
	}
	if err := s.BufferSessionDraws(time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 10, at(200),
			time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, err := s.Session(ctx, [32]byte{1})
	if err != nil {
		t.Fatal(err)
	}
	if info.BalanceSat != 59 || info.SpentSat != 41 {
		t.Fatalf("reopened: balance %d spent %d, want 59 41",
			info.BalanceSat, info.SpentSat)
	}
}

// TestLedgerConservesMoney: draws from many goroutines, periodic writes
// and a close in their midst: every sat of the deposit is either drawn
// by an answered draw or refunded, never both, never neither.
func TestLedgerConservesMoney(t *testing.T) {
	const deposit = 5000
	s := openLedger(t, time.Millisecond, deposit)
	ctx := context.Background()
	var (
		drawn atomic.Int64
		wg    sync.WaitGroup
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := s.DrawSession(ctx, [32]byte{1}, "api", 1, at(200),
					time.Hour)
				switch {
				case err == nil:
					drawn.Add(1)
				case errors.Is(err, mpp.ErrSessionClosed),
					errors.Is(err, mpp.ErrInsufficient):
					return
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	for drawn.Load() < deposit/3 {
		time.Sleep(time.Millisecond)
	}
	c, err := s.CloseSession(ctx, [32]byte{1}, "api", at(201))
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := drawn.Load() + 1 + c.RefundSat; got != deposit {
		t.Fatalf("drawn %d + opening draw 1 + refund %d = %d, want %d",
			drawn.Load(), c.RefundSat, got, deposit)
	}
	if _, sp := stored(t, s, 1); sp != drawn.Load()+1 {
		t.Fatalf("spent %d in the database, want %d", sp, drawn.Load()+1)
	}
	if s.ledger.lost.Load() != 0 {
		t.Fatalf("%d sat lost", s.ledger.lost.Load())
	}
}

// TestLedgerAnotherWriter: a session closed behind the ledger's back (by
// another process on the file) makes the write of its draws fail
// loudly, counted as lost, and the session is no longer held.
func TestLedgerAnotherWriter(t *testing.T) {
	s := openForDraws(t, 100)
	var told []error
	var mu sync.Mutex
	if err := s.BufferSessionDraws(time.Hour, func(err error) {
		mu.Lock()
		told = append(told, err)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 5, at(200),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	key := [32]byte{1}
	if _, err := s.db.Exec(`UPDATE mpp_sessions SET status = 'closed',
		balance_sat = 0 WHERE session_id = ?`, key[:]); err != nil {
		t.Fatal(err)
	}
	err := s.ledger.writeAll(s)
	if err == nil || s.ledger.lost.Load() != 5 {
		t.Fatalf("write: %v, lost %d; want an error and 5 sat lost", err,
			s.ledger.lost.Load())
	}
	_, err = s.DrawSession(ctx, [32]byte{1}, "api", 1, at(201), time.Hour)
	if !errors.Is(err, mpp.ErrSessionClosed) {
		t.Fatalf("a draw after: %v, want closed", err)
	}
}

// TestLedgerSettlesMeteredDraws: a metered request's settlement on a
// held session gives the surplus back or takes the rest, never below
// zero, as SettleSessionDraw does in the database.
func TestLedgerSettlesMeteredDraws(t *testing.T) {
	for _, strict := range []bool{false, true} {
		var s *Store
		if strict {
			s = openForDraws(t, 100)
		} else {
			s = openLedger(t, time.Hour, 100)
		}
		ctx := context.Background()
		if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 40, at(200),
			time.Hour); err != nil {
			t.Fatal(err)
		}
		steps := []struct{ drawn, cost, want int64 }{
			{40, 10, 89}, // 30 back
			{0, 0, 89},   // nothing
			{10, 200, 0}, // takes what is left, 89
			{0, 5, 0},    // nothing left to take
			{20, 0, 20},  // 20 back
		}
		for i, st := range steps {
			got, err := s.SettleSessionDraw(ctx, [32]byte{1}, "api",
				st.drawn, st.cost)
			if err != nil || got != st.want {
				t.Fatalf("strict %v, step %d: %d, %v; want %d", strict, i,
					got, err, st.want)
			}
		}
		info, err := s.Session(ctx, [32]byte{1})
		if err != nil {
			t.Fatal(err)
		}
		if info.BalanceSat != 20 || info.SpentSat != 80 {
			t.Fatalf("strict %v: balance %d spent %d, want 20 80", strict,
				info.BalanceSat, info.SpentSat)
		}
	}
}

// TestBufferSessionDrawsRefuses: Postgres (replicas) and an interval
// that is not positive are refused.
func TestBufferSessionDrawsRefuses(t *testing.T) {
	pg := &Store{dollar: true, name: "postgres x"}
	if err := pg.BufferSessionDraws(time.Second, nil); err == nil {
		t.Error("postgres: no error")
	}
	s := openForDraws(t)
	if err := s.BufferSessionDraws(0, nil); err == nil {
		t.Error("0s: no error")
	}
}

// TestLedgerGivesBackDurably: a metered request's surplus given back on
// a draw written, or being written, is in the database once the
// settlement returns, not held in memory: a crash must not take it from
// the buyer.
func TestLedgerGivesBackDurably(t *testing.T) {
	cases := []struct {
		name string
		// write writes the draw of 40, and returns once the settlement
		// may run; wait waits for that write to be done.
		write func(t *testing.T, s *Store) (wait func())
	}{
		{"written", func(t *testing.T, s *Store) func() {
			if err := s.ledger.writeAll(s); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}},
		{"being written", func(t *testing.T, s *Store) func() {
			// The write takes the draws, then waits for the store's
			// writer, held here until the settlement has run.
			unlock := s.writer()
			done := make(chan error, 1)
			go func() { done <- s.ledger.writeAll(s) }()
			for s.ledger.writes.TryLock() {
				s.ledger.writes.Unlock()
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			return func() {
				unlock()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openLedger(t, time.Hour, 100)
			ctx := context.Background()
			if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 40, at(200),
				time.Hour); err != nil {
				t.Fatal(err)
			}
			wait := c.write(t, s)
			type settled struct {
				left int64
				err  error
			}
			got := make(chan settled, 1)
			go func() {
				left, err := s.SettleSessionDraw(ctx, [32]byte{1}, "api", 40,
					10)
				got <- settled{left, err}
			}()
			time.Sleep(20 * time.Millisecond)
			wait()
			if g := <-got; g.err != nil || g.left != 89 {
				t.Fatalf("settlement: %d, %v; want 89", g.left, g.err)
			}
			if b, sp := stored(t, s, 1); b != 89 || sp != 11 {
				t.Fatalf("the database holds %d (spent %d) after the "+
					"settlement, want 89 (11)", b, sp)
			}
			left, err := s.DrawSession(ctx, [32]byte{1}, "api", 9, at(201),
				time.Hour)
			if err != nil || left != 80 {
				t.Fatalf("a draw after: %d, %v; want 80", left, err)
			}
		})
	}
}

// TestLedgerWritesLastUse: a held session's use is written even when it
// leaves no draw to write (a metered request that cost nothing, a free
// draw): the pruner must not find a session in use idle.
func TestLedgerWritesLastUse(t *testing.T) {
	cases := []struct {
		name  string
		price int64
		cost  int64
	}{
		{"a metered request that cost nothing", 5, 0},
		{"a free draw", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openLedger(t, time.Hour, 100)
			ctx := context.Background()
			if _, err := s.DrawSession(ctx, [32]byte{1}, "api", c.price,
				at(3000), time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SettleSessionDraw(ctx, [32]byte{1}, "api",
				c.price, c.cost); err != nil {
				t.Fatal(err)
			}
			idle, err := s.IdleSessions(ctx, at(2000), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(idle) != 0 {
				t.Fatalf("used at 3000, found idle before 2000: %x", idle)
			}
			info, err := s.Session(ctx, [32]byte{1})
			if err != nil {
				t.Fatal(err)
			}
			if info.LastUsedAt.Unix() != 3000 || info.BalanceSat != 99 {
				t.Fatalf("last used %d, balance %d; want 3000, 99",
					info.LastUsedAt.Unix(), info.BalanceSat)
			}
		})
	}
}

// TestLedgerFullDrawsOnce: with the ledger full, sessions' draws fall
// back to the database while other draws load them into the ledger as
// it empties: each session's balance pays for exactly as many draws as
// it holds, none twice, none lost.
func TestLedgerFullDrawsOnce(t *testing.T) {
	const sessions, balance = 100, 3
	deposits := []int64{1 << 50}
	for range sessions {
		deposits = append(deposits, balance+1)
	}
	s := openLedger(t, 200*time.Microsecond, deposits...)
	s.ledger.max = 1
	ctx := context.Background()
	var (
		drawn atomic.Int64
		stop  atomic.Bool
		busy  sync.WaitGroup
		wg    sync.WaitGroup
	)
	// Session 1 keeps the ledger full between the writes.
	for range 2 {
		busy.Add(1)
		go func() {
			defer busy.Done()
			for !stop.Load() {
				if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 1,
					at(200), time.Hour); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for id := 2; id < sessions+2; id++ {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, err := s.DrawSession(ctx, [32]byte{byte(id)}, "api", 1,
						at(200), time.Hour)
					switch {
					case err == nil:
						drawn.Add(1)
					case errors.Is(err, mpp.ErrInsufficient):
						return
					default:
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	stop.Store(true)
	busy.Wait()
	if err := s.writeHeldDraws(); err != nil && !t.Failed() {
		t.Fatal(err)
	}
	if drawn.Load() != sessions*balance || s.ledger.lost.Load() != 0 {
		t.Fatalf("%d draws answered on %d sessions of %d sat, %d sat lost",
			drawn.Load(), sessions, balance, s.ledger.lost.Load())
	}
}

// TestLedgerDrawAfterClose: once the store's Close has begun, a draw is
// refused, not drawn in the database behind the draws held (whose write
// would then fail, served twice), and after the Close it is refused.
func TestLedgerDrawAfterClose(t *testing.T) {
	s := openLedger(t, time.Hour, 100)
	ctx := context.Background()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 49, at(200),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	// Close marks the ledger closed, then writes the draws held.
	s.ledger.mu.Lock()
	s.ledger.closed = true
	s.ledger.mu.Unlock()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 50, at(201),
		time.Hour); err == nil {
		t.Fatal("a draw on a closing store was answered")
	}
	if err := s.ledger.writeAll(s); err != nil {
		t.Fatal(err)
	}
	if b, sp := stored(t, s, 1); b != 50 || sp != 50 {
		t.Fatalf("the database holds %d (spent %d), want 50 (50)", b, sp)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 1, at(202),
		time.Hour); err == nil {
		t.Fatal("a draw on a closed store was answered")
	}
}

// TestLedgerWriteFails: a write of the draws that fails keeps them, to
// be written once the database takes them again, and a close that could
// not write them first changes nothing: every draw is written once.
func TestLedgerWriteFails(t *testing.T) {
	s := openLedger(t, time.Hour, 100)
	ctx := context.Background()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 5, at(200),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	rename := func(from, to string) {
		t.Helper()
		if _, err := s.db.Exec(`ALTER TABLE ` + from + ` RENAME TO ` +
			to); err != nil {
			t.Fatal(err)
		}
	}
	rename("mpp_sessions", "mpp_sessions_away")
	if err := s.ledger.writeAll(s); err == nil {
		t.Fatal("a write without the sessions' table did not fail")
	}
	if _, err := s.CloseSession(ctx, [32]byte{1}, "api",
		at(201)); err == nil {
		t.Fatal("a close without the sessions' table did not fail")
	}
	s.ledger.mu.Lock()
	dirty := s.ledger.dirty
	s.ledger.mu.Unlock()
	if dirty != 1 {
		t.Fatalf("%d sessions left to write after the failures, want 1",
			dirty)
	}
	rename("mpp_sessions_away", "mpp_sessions")
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 7, at(202),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.ledger.writeAll(s); err != nil {
		t.Fatal(err)
	}
	if b, sp := stored(t, s, 1); b != 87 || sp != 13 {
		t.Fatalf("the database holds %d (spent %d), want 87 (13)", b, sp)
	}
	c, err := s.CloseSession(ctx, [32]byte{1}, "api", at(203))
	if err != nil || c.RefundSat != 87 {
		t.Fatalf("close: refund %d, %v; want 87", c.RefundSat, err)
	}
}

// TestLedgerDrawsDuringAWrite: a draw taken while the periodic write is
// in progress stays to write, and the next periodic write writes it
// without another draw asking for one.
func TestLedgerDrawsDuringAWrite(t *testing.T) {
	s := openLedger(t, 10*time.Millisecond, 100)
	ctx := context.Background()
	// The periodic write takes the first draw, then waits for the
	// store's writer, held here until the second draw is taken.
	unlock := s.writer()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 5, at(200),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	for s.ledger.writes.TryLock() {
		s.ledger.writes.Unlock()
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 7, at(201),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, sp := stored(t, s, 1)
		if b == 87 && sp == 13 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database holds %d (spent %d), want 87 (13)", b,
				sp)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLedgerCloseHoldsLoads: between a close's release of the session
// and its own write, no draw loads the session again: a draw that comes
// meanwhile waits and is refused as closed, and the refund is what the
// draws left.
func TestLedgerCloseHoldsLoads(t *testing.T) {
	s := openLedger(t, time.Hour, 100)
	ctx := context.Background()
	if _, err := s.DrawSession(ctx, [32]byte{1}, "api", 9, at(200),
		time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.ledger.writeAll(s); err != nil {
		t.Fatal(err)
	}
	// The close releases the session, then waits for the store's
	// writer, held here until the draw has come.
	unlock := s.writer()
	type closed struct {
		c   Closed
		err error
	}
	done := make(chan closed, 1)
	go func() {
		c, err := s.CloseSession(ctx, [32]byte{1}, "api", at(201))
		done <- closed{c, err}
	}()
	// The close holds the ledger's writes once it has released the
	// session (a second at most: a close that does not hold them fails
	// below, not here).
	for end := time.Now().Add(time.Second); time.Now().Before(end) &&
		s.ledger.writes.TryLock(); {
		s.ledger.writes.Unlock()
		time.Sleep(time.Millisecond)
	}
	drew := make(chan error, 1)
	go func() {
		_, err := s.DrawSession(ctx, [32]byte{1}, "api", 5, at(201),
			time.Hour)
		drew <- err
	}()
	time.Sleep(20 * time.Millisecond)
	unlock()
	if c := <-done; c.err != nil || c.c.RefundSat != 90 {
		t.Fatalf("close: refund %d, %v; want 90", c.c.RefundSat, c.err)
	}
	if err := <-drew; !errors.Is(err, mpp.ErrSessionClosed) {
		t.Fatalf("a draw during the close: %v, want closed", err)
	}
	if s.ledger.lost.Load() != 0 {
		t.Fatalf("%d sat lost", s.ledger.lost.Load())
	}
}
