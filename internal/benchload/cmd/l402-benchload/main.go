// Command l402-benchload is `make bench-load`: l402 measured from
// outside, whole processes against a bare reverse proxy (see package
// benchload). `l402-benchload backend` is the backend it starts.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/l402/l402/internal/benchload"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "backend" {
		if err := benchload.RunBackend(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "backend:", err)
			os.Exit(1)
		}
		return
	}

	var opts benchload.Options
	flag.StringVar(&opts.Mode, "mode", "", "quick (default), issuance "+
		"(regtest lnd), rss, or env (start everything and wait, for "+
		"profiling by hand)")
	flag.StringVar(&opts.L402, "l402", "", "the l402 binary measured "+
		"(default: built from this tree)")
	flag.StringVar(&opts.Before, "before", "", "another l402 binary "+
		"alternated with it (main's)")
	flag.IntVar(&opts.Rounds, "rounds", 3, "rounds of each figure")
	flag.IntVar(&opts.Runs, "runs", 30, "runs of each timed process")
	flag.IntVar(&opts.Load.Threads, "threads", 2, "load generator threads")
	flag.IntVar(&opts.Load.Conns, "conns", 32, "connections (requests in "+
		"flight)")
	flag.DurationVar(&opts.Load.Duration, "duration", 6*time.Second,
		"length of each measurement (of the whole run with -mode rss)")
	flag.StringVar(&opts.CPUProfile, "cpuprofile", "", "directory for a "+
		"CPU profile of each serve process in each figure")
	flag.StringVar(&opts.Only, "only", "", "run only the figures whose "+
		"name contains this (\"paid\", \"HTTP/2\", \"start-up\")")
	flag.StringVar(&opts.ServeExtra, "serve-extra", "", "YAML appended "+
		"to every serve.yaml, for experiments (\"writetimeout: 0\")")
	flag.Parse()

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "l402-benchload:", err)
		os.Exit(1)
	}
	opts.Self = self
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "l402-benchload: go list -m:", err)
		os.Exit(1)
	}
	opts.Root = strings.TrimSpace(string(out))
	opts.Out = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt,
		syscall.SIGTERM)
	defer stop()
	if err := benchload.Run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "l402-benchload:", err)
		os.Exit(1)
	}
}
