package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/spf13/cobra"
	"golang.org/x/mod/module"
)

// Set at build time by the Makefile with -ldflags "-X main.version=...
// -X main.commit=...". Empty means not set: the build info decides.
var (
	version = ""
	commit  = ""
)

// versionInfo is what `l402 version` reports.
type versionInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified"`
	GoVersion  string `json:"go_version"`
	Platform   string `json:"platform"`
}

// currentVersion returns the build's version facts: what the linker set,
// else what Go recorded in the binary.
func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveVersion(version, commit, bi)
}

// resolveVersion chooses the version facts. Values given with -ldflags win
// (make build and make install set them). Without them, `go install
// module@version` leaves the module version in bi.Main.Version, and a
// build in a checkout leaves the VCS revision, its time and whether the
// tree was modified in bi.Settings; a pseudo-version names its commit and
// time itself. "(devel)" is Go's word for no version: it reports "dev".
func resolveVersion(ldVersion, ldCommit string,
	bi *debug.BuildInfo) versionInfo {

	v := versionInfo{
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
func (v versionInfo) String() string {
	modified := ""
	if v.Modified {
		modified = ", modified"
	}
	return fmt.Sprintf("l402 %s (commit %s%s, %s, %s)", v.Version,
		v.Commit, modified, v.GoVersion, v.Platform)
}

// newVersionCmd builds `l402 version`.
func newVersionCmd(streams cli.IO) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			v := currentVersion()
			if asJSON {
				b, err := json.Marshal(v)
				if err != nil {
					return fmt.Errorf("unable to encode the "+
						"version: %w", err)
				}
				_, err = fmt.Fprintf(streams.Out, "%s\n", b)
				return err
			}
			_, err := fmt.Fprintln(streams.Out, v.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as a JSON object")
	return cmd
}
