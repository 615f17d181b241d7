package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// groupCommit is the queue of one kind of SQLite write (session draws,
// charge claims, meter operations) whose writes, queued
// together, run in one transaction and are synced once (a group commit).
// Each write's caller waits for the commit that holds it and always
// learns whether it was committed: once queued, a write is the batch's,
// which runs whatever the caller's context does, and a write answered
// with an error for a commit that was done would be paid again by a
// client told to try again. The batch function sets each write's outcome;
// the queue then closes each write's done channel.
type groupCommit[T write] struct {
	once sync.Once
	q    atomic.Pointer[commitQueue[T]]
}

// write is a queued write: its done channel is closed once its outcome
// is set.
type write interface{ doneChan() chan struct{} }

// commitQueue is a started groupCommit: the writes waiting for the next
// commit, and the signals of its loop.
type commitQueue[T write] struct {
	queue chan T
	quit  chan struct{}
	done  chan struct{}
}

// started returns g's queue, starting its loop on first use with at most
// max writes a commit, each batch run by commit (a method expression, so
// that no closure is made per write); nil once g is closed.
func (g *groupCommit[T]) started(s *Store, max int,
	commit func(*Store, []T)) *commitQueue[T] {

	g.once.Do(func() {
		q := &commitQueue[T]{queue: make(chan T, max),
			quit: make(chan struct{}), done: make(chan struct{})}
		g.q.Store(q)
		go q.run(s, max, commit)
	})
	return g.q.Load()
}

// close stops g's loop, if it started, once the commit in progress is
// done; a second call does nothing, and none starts after it.
func (g *groupCommit[T]) close() {
	g.once.Do(func() {})
	if q := g.q.Swap(nil); q != nil {
		close(q.quit)
		<-q.done
	}
}

// run commits the queued writes, as many as are waiting (up to max) a
// transaction, until the queue is closed.
func (q *commitQueue[T]) run(s *Store, max int, commit func(*Store, []T)) {

	defer close(q.done)
	for {
		var batch []T
		select {
		case w := <-q.queue:
			batch = append(batch, w)
		case <-q.quit:
			return
		}
	fill:
		for len(batch) < max {
			select {
			case w := <-q.queue:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		func() {
			defer func() {
				for _, w := range batch {
					close(w.doneChan())
				}
			}()
			commit(s, batch)
		}()
	}
}

// submit queues w and waits for its outcome: nil when the commit that
// held it is done (its outcome is then in w), else why it was never run:
// q closed (nil included, for a store closed before) or ctx ended before
// w was queued.
func (q *commitQueue[T]) submit(ctx context.Context, name string,
	w T) error {

	if q == nil {
		return fmt.Errorf("%s: closed", name)
	}
	select {
	case q.queue <- w:
	case <-q.quit:
		return fmt.Errorf("%s: closed", name)
	case <-ctx.Done():
		return ctx.Err()
	}
	return q.wait(name, w.doneChan())
}

// wait waits for a queued write's done channel. When the loop stops
// first, the write is answered only if it was taken (run closes its done
// channel before the loop's): else it was never run.
func (q *commitQueue[T]) wait(name string, wDone chan struct{}) error {
	select {
	case <-wDone:
		return nil
	case <-q.done:
		select {
		case <-wDone:
			return nil
		default:
			return fmt.Errorf("%s: closed", name)
		}
	}
}
