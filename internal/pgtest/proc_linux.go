package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// clusterCredential returns the user initdb and postgres run as: nil (the
// current one) unless we are root, which Postgres refuses to run as; then
// the postgres system user.
func clusterCredential() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: Postgres refuses to run as root, "+
			"and there is no postgres user to run it as (%v): install "+
			"postgresql (apt-get install postgresql creates the user), or "+
			"run the tests as another user", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("pgtest: user postgres has uid %q", u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("pgtest: user postgres has gid %q", u.Gid)
	}
	return &credential{name: u.Username, uid: uid, gid: gid}, nil
}

// sysProcAttr runs a child as runAs (nil: as we run). With deathsig, the
// child gets SIGQUIT when the test binary dies: that is postgres's
// immediate shutdown, which stops its backends and frees its shared
// memory, so that no server outlives `go test`.
func sysProcAttr(runAs *credential, deathsig bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if runAs != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(runAs.uid),
			Gid: uint32(runAs.gid), NoSetGroups: true}
	}
	if deathsig {
		attr.Pdeathsig = syscall.SIGQUIT
	}
	return attr
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
