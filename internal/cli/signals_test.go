package cli

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestInterruptibleEndsOnSignals: once caught, SIGINT and SIGTERM each
// end the context; stop ends it too, and may be called twice.
func TestInterruptibleEndsOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ctx, stop, caught := interruptible()
		<-caught
		if ctx.Err() != nil {
			t.Fatalf("%v: ended before the signal", sig)
		}
		if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%v did not end the context", sig)
		}
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("%v: %v", sig, ctx.Err())
		}
		stop()
		stop()
	}

	// stop right away waits for the signals to be caught, then releases
	// them.
	ctx, stop := Interruptible()
	stop()
	if ctx.Err() == nil {
		t.Fatal("stop left the context running")
	}
}
