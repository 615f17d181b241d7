package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// buildInfo is a debug.BuildInfo with a main module version and VCS
// settings given as key, value pairs.
func buildInfo(mainVersion string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{Main: debug.Module{
		Path: "github.com/l402/l402", Version: mainVersion}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{
			Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

// TestResolveVersion: ldflags win; without them the module version and the
// VCS settings of the build info; a pseudo-version names its commit;
// "(devel)" and nothing at all are "dev" and "unknown".
func TestResolveVersion(t *testing.T) {
	const (
		rev   = "0123456789abcdef0123456789abcdef01234567"
		when  = "2026-05-01T10:20:30Z"
		pseud = "v0.0.0-20260501102030-0123456789ab"
	)
	vcs := []string{"vcs", "git", "vcs.revision", rev, "vcs.time", when,
		"vcs.modified", "true"}

	tests := []struct {
		name                string
		ldVersion, ldCommit string
		bi                  *debug.BuildInfo
		want                Info
	}{
		{"no build info", "", "", nil,
			Info{Version: "dev", Commit: "unknown"}},
		{"plain go build outside VCS", "", "", buildInfo("(devel)"),
			Info{Version: "dev", Commit: "unknown"}},
		{"go build in a checkout", "", "", buildInfo("(devel)", vcs...),
			Info{Version: "dev", Commit: rev, CommitTime: when,
				Modified: true}},
		{"go install of a tag", "", "", buildInfo("v0.3.0"),
			Info{Version: "v0.3.0", Commit: "unknown"}},
		{"go install of a pseudo-version", "", "", buildInfo(pseud),
			Info{Version: pseud, Commit: "0123456789ab",
				CommitTime: "2026-05-01T10:20:30Z"}},
		{"a tag built in a clean checkout", "", "",
			buildInfo("v0.3.0", "vcs.revision", rev, "vcs.time", when,
				"vcs.modified", "false"),
			Info{Version: "v0.3.0", Commit: rev,
				CommitTime: when}},
		{"ldflags win", "v0.3.0-2-gabcdef-dirty", "abcdef", buildInfo(
			"v0.2.0", vcs...),
			Info{Version: "v0.3.0-2-gabcdef-dirty",
				Commit: "abcdef"}},
		{"ldflags' commit with the same VCS revision", "v0.3.0", rev,
			buildInfo("(devel)", vcs...),
			Info{Version: "v0.3.0", Commit: rev,
				CommitTime: when, Modified: true}},
		{"ldflags' version only", "v0.3.0", "", buildInfo("(devel)",
			vcs...),
			Info{Version: "v0.3.0", Commit: rev,
				CommitTime: when, Modified: true}},
		{"ldflags' commit only", "", "abcdef", buildInfo(pseud),
			Info{Version: pseud, Commit: "abcdef"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Resolve(tc.ldVersion, tc.ldCommit, tc.bi)
			want := tc.want
			want.GoVersion = runtime.Version()
			want.Platform = runtime.GOOS + "/" + runtime.GOARCH
			if got != want {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestVersionLine: the text form names the version, the commit, whether
// the tree was modified, Go and the platform.
func TestVersionLine(t *testing.T) {
	v := Info{Version: "v0.3.0", Commit: "abc", GoVersion: "go1.26",
		Platform: "linux/amd64"}
	if got := v.String(); got != "l402 v0.3.0 (commit abc, go1.26, "+
		"linux/amd64)" {
		t.Fatalf("got %q", got)
	}
	v.Modified = true
	if got := v.String(); got != "l402 v0.3.0 (commit abc, modified, "+
		"go1.26, linux/amd64)" {
		t.Fatalf("got %q", got)
	}
}
