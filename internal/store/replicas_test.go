package store_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// writerEnv names the SQLite file a child test process writes to, as a
// second serve replica (TestTwoProcessesWriteOneSQLiteFile).
const writerEnv = "L402_STORE_TEST_WRITER"

// replicaWrites is how many tokens' transactions, and how many 1-sat
// draws, each process writes.
const replicaWrites = 150

// writeAsReplica opens the store at path, says "ready" on stdout, waits
// for a line on stdin, then records replicaWrites tokens' transactions
// (token IDs starting with proc) and draws as many times on session 1,
// from 8 goroutines at once. It returns the process's exit code.
func writeAsReplica(path string, proc byte) int {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := replicaWritesTo(ctx, s, proc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// replicaWritesTo is writeAsReplica's writing: the errors (of the draws
// and of the transactions, once written), or nil.
func replicaWritesTo(ctx context.Context, s *store.Store, proc byte) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	s.SetBookkeepingFailureHandler(func(rows int, err error) {
		mu.Lock()
		first = errors.Join(first, err)
		mu.Unlock()
	})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < replicaWrites; i += 8 {
				var tok l402.TokenID
				tok[0] = proc
				binary.BigEndian.PutUint32(tok[1:], uint32(i))
				s.RecordToken(ctx, store.Minted{
					ID:      l402.NewIdentifier(l402.Hash{proc}, tok),
					Service: "api", CreatedAt: time.Unix(1, 0)})
				_, err := s.DrawSession(ctx, hashOf(1), "api", 1,
					time.Unix(110, 0), time.Hour)
				if err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return first
}

// TestTwoProcessesWriteOneSQLiteFile: two serve replicas on one SQLite
// file. The write queue is in one process only, so the other's writes
// meet SQLite's lock: every token's transaction and every draw of both processes,
// written at once, must still succeed (SQLite's busy handler waits for
// the lock), none answered with SQLITE_BUSY, and the balance is the
// deposit less every draw.
func TestTwoProcessesWriteOneSQLiteFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "serve.db")
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.OpenSession(ctx, newSession(1, 1000, 1, 100)); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), writerEnv+"="+path)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil ||
		line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}

	// Both go at once: the child on its line, this process now.
	fmt.Fprintln(stdin, "go")
	mine := replicaWritesTo(ctx, s, 1)
	if err := child.Wait(); err != nil {
		t.Errorf("the second process: %v", err)
	}
	if mine != nil {
		t.Errorf("this process: %v", mine)
	}

	for proc := range []byte{1, 2} {
		for i := range replicaWrites {
			var tok l402.TokenID
			tok[0] = byte(proc + 1)
			binary.BigEndian.PutUint32(tok[1:], uint32(i))
			if _, err := s.TransactionByToken(ctx, tok); err != nil {
				t.Fatalf("process %d's token %d: %v", proc+1, i, err)
			}
		}
	}
	balance, err := s.DrawSession(ctx, hashOf(1), "api", 0,
		time.Unix(111, 0), time.Hour)
	if err != nil && !errors.Is(err, mpp.ErrInsufficient) {
		t.Fatal(err)
	}
	// The opening drew 1 sat too.
	if want := int64(1000 - 1 - 2*replicaWrites); balance != want {
		t.Fatalf("balance %d after %d draws of 1 of 999, want %d",
			balance, 2*replicaWrites, want)
	}
}
