package regtest

import "syscall"

// sysProcAttr puts a child in its own process group and has the kernel
// kill it should this process die without stopping it. (Pdeathsig follows
// the OS thread that started the child; Go only ends threads that a
// goroutine locked, which this package never does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
