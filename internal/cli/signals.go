package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Interruptible returns a context that ends on SIGINT or SIGTERM, so that
// a command stops cleanly (fetch keeps its pending payment, serve
// drains); stop releases the signals.
func Interruptible() (ctx context.Context, stop func()) {
	return signal.NotifyContext(context.Background(), os.Interrupt,
		syscall.SIGTERM)
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
