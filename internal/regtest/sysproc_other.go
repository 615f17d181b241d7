//go:build !linux

package regtest

import "syscall"

// sysProcAttr puts a child in its own process group. Only Linux can tie a
// child's life to this process; elsewhere the PID files are the fallback.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
