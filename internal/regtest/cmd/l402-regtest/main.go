// Command l402-regtest builds the regtest binaries, brings up a regtest
// stack for manual use (make regtest), and runs the demo (make demo).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/l402/l402/internal/regtest"
)

// usage is printed for a missing or unknown subcommand.
const usage = `usage: l402-regtest build|up|demo

  build   build the pinned btcd and lnd into the cache (once)
  up      bring up btcd, alice and bob with a channel; print the
          environment; keep running until interrupted
  demo    bring up the stack and make one real payment, step by step
`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt,
		syscall.SIGTERM)
	defer stop()

	var err error
	switch os.Args[1] {
	case "build":
		err = build(ctx)
	case "up":
		err = up(ctx)
	case "demo":
		err = demo(ctx)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "l402-regtest: %v\n", err)
		os.Exit(1)
	}
}

// build makes sure the binaries are in the cache.
func build(ctx context.Context) error {
	dir, err := regtest.DefaultCacheDir()
	if err != nil {
		return err
	}
	bins, err := regtest.EnsureBinaries(ctx, dir, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("lnd=%s\nbtcd=%s\n", bins.Lnd, bins.Btcd)
	return nil
}
