//go:build itest

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/l402/l402/internal/regtest"
)

var (
	// stack is the regtest stack the itests of this package share.
	stack *regtest.Stack

	// binary is l402 built for the itests that run it as a process.
	binary string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "l402-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "l402")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "unable to build l402:", err)
		os.Exit(1)
	}
	code := regtest.RunTests(m, &stack)
	os.RemoveAll(dir)
	os.Exit(code)
}
