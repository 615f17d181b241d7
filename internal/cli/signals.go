package cli

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Interruptible returns a context that ends on SIGINT or SIGTERM, so that
// a command stops cleanly (fetch keeps its pending payment, serve
// drains); stop releases the signals. The signals are caught from a
// goroutine, beside the command's first steps: catching the first makes
// the runtime start a thread of its own, about a millisecond of a cached
// fetch (docs/benchmarks.md). One that arrives before then ends the
// process as it would have a moment earlier, while it started, which
// every store of l402 survives (docs/tokens.md).
func Interruptible() (ctx context.Context, stop func()) {
	ctx, stop, _ = interruptible()
	return ctx, stop
}

// interruptible is Interruptible, with a channel closed once the signals
// are caught.
func interruptible() (ctx context.Context, stop func(),
	caught <-chan struct{}) {

	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	isCaught, done := make(chan struct{}), make(chan struct{})
	go func() {
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		close(isCaught)
		select {
		case <-sigs:
			cancel()
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			<-isCaught
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}, isCaught
}

// Hangups turns each SIGHUP into a value on the returned channel until
// stop is called (after the command returned: a SIGHUP while serve drains
// must not kill it). SIGHUPs that arrive while one is still pending are
// folded into it: the config is read once, after the last edit.
func Hangups() (reload <-chan struct{}, stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, func() {
		signal.Stop(hup)
		close(done)
	}
}
