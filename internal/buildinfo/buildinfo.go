// Package buildinfo tells which l402 this is: the version and commit the
// linker set, else the module version and VCS facts Go recorded.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"golang.org/x/mod/module"
)

// Info is what `l402 version` reports.
type Info struct {
	Version    string `json:"version"`
	Commit     string `json:"commit"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified"`
	GoVersion  string `json:"go_version"`
	Platform   string `json:"platform"`
}

// Current returns the build's version facts: ldVersion and ldCommit when
// the linker set them (-ldflags "-X main.version=..."), else what Go
// recorded in the binary.
func Current(ldVersion, ldCommit string) Info {
	bi, _ := debug.ReadBuildInfo()
	return Resolve(ldVersion, ldCommit, bi)
}

// Resolve chooses the version facts. Values given with -ldflags win
// (make build and make install set them). Without them, `go install
// module@version` leaves the module version in bi.Main.Version, and a
// build in a checkout leaves the VCS revision, its time and whether the
// tree was modified in bi.Settings; a pseudo-version names its commit and
// time itself. "(devel)" is Go's word for no version: it reports "dev".
func Resolve(ldVersion, ldCommit string, bi *debug.BuildInfo) Info {
	v := Info{
		Version:   ldVersion,
		Commit:    ldCommit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi == nil {
		bi = &debug.BuildInfo{}
	}
	if v.Version == "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}

	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	rev := vcs["vcs.revision"]
	if v.Commit == "" {
		v.Commit = rev
	}
	if rev != "" && v.Commit == rev {
		v.CommitTime = vcs["vcs.time"]
		v.Modified = vcs["vcs.modified"] == "true"
	}

	// A pseudo-version (v0.0.0-20260101120000-0123456789ab) carries the
	// commit's short hash and time, which a module build has no VCS
	// settings for.
	if module.IsPseudoVersion(v.Version) {
		pseudoRev, errRev := module.PseudoVersionRev(v.Version)
		pseudoTime, errTime := module.PseudoVersionTime(v.Version)
		if v.Commit == "" && errRev == nil {
			v.Commit = pseudoRev
		}
		if v.CommitTime == "" && errTime == nil && errRev == nil &&
			v.Commit == pseudoRev {

			v.CommitTime = pseudoTime.UTC().Format(time.RFC3339)
		}
	}

	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

// String is the one line `l402 version` prints.
func (v Info) String() string {
	modified := ""
	if v.Modified {
		modified = ", modified"
	}
	return fmt.Sprintf("l402 %s (commit %s%s, %s, %s)", v.Version,
		v.Commit, modified, v.GoVersion, v.Platform)
}
