#!/usr/bin/env bash
# install-check.sh: prove that `go install github.com/l402/l402/cmd/l402@VERSION`
# works from a clean GOPATH, before the module is published.
#
#   scripts/install-check.sh [REV]     (REV: a git revision, HEAD by default)
#
# It writes REV's tree as a pseudo-version into a file-based module proxy
# (scripts/modproxy), puts that proxy in front of the real one, runs
# `go install ...@VERSION` with a new, empty GOPATH (so a new GOPATH/bin),
# and checks that the installed `l402 version --json` reports VERSION and
# the commit. Only committed files take part: commit first.
#
# The module cache is shared (GOMODCACHE), so that the dependencies are
# neither downloaded nor compiled again; the test version of l402 that go
# puts there is removed at the end. The checksum database is not asked
# about github.com/l402/l402 (GONOSUMDB): it has never heard of the test
# version. Everything else is checked as usual.
set -euo pipefail

rev="${1:-HEAD}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
module=github.com/l402/l402

work="$(mktemp -d)"
modcache="$(go env GOMODCACHE)"
version=""

# cleanup removes the work directory and the test version from the shared
# module cache (go writes it read-only).
cleanup() {
	if [ -n "$version" ]; then
		chmod -R u+w "$modcache/$module@$version" 2>/dev/null || true
		rm -rf "$modcache/$module@$version"
		dl="$modcache/cache/download/$module/@v"
		rm -f "$dl/$version".*
		# go also lists the version it fetched; with no other version
		# of the module in the cache, that list is ours alone.
		if [ -z "$(ls -A "$dl" 2>/dev/null | grep -v '^list')" ]; then
			rm -f "$dl/list" "$dl/list.lock"
			rmdir "$dl" "$(dirname "$dl")" 2>/dev/null || true
		fi
		rmdir "$modcache/cache/download/github.com/l402" \
			"$modcache/github.com/l402" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
	echo "install-check: the tree has uncommitted changes; checking $rev as committed" >&2
fi

(cd "$repo" && go run ./scripts/modproxy -dir "$work/proxy" -rev "$rev" -repo "$repo") \
	>"$work/version"
version="$(cat "$work/version")"
commit="${version##*-}"
echo "install-check: $module@$version ($rev) from file://$work/proxy" >&2

mkdir -p "$work/gopath" "$work/cwd"
realproxy="$(go env GOPROXY)"
case "$realproxy" in
off | "") realproxy=https://proxy.golang.org ;;
esac

# A clean environment for go: no GOBIN, no GOFLAGS, no workspace, no
# toolchain download, a new GOPATH; run outside any module.
(
	cd "$work/cwd"
	env -u GOBIN \
		GOPATH="$work/gopath" \
		GOMODCACHE="$modcache" \
		GOPROXY="file://$work/proxy,$realproxy" \
		GONOSUMDB="$module" \
		GOFLAGS= \
		GOWORK=off \
		GOTOOLCHAIN=local \
		go install "$module/cmd/l402@$version"
)

bin="$work/gopath/bin/l402"
if [ ! -x "$bin" ]; then
	echo "install-check: go install wrote no $bin" >&2
	exit 1
fi
out="$("$bin" version --json)"
echo "install-check: $bin version --json: $out" >&2
case "$out" in
*"\"version\":\"$version\""*) ;;
*)
	echo "install-check: the installed l402 does not report $version" >&2
	exit 1
	;;
esac
case "$out" in
*"\"commit\":\"$commit\""*) ;;
*)
	echo "install-check: the installed l402 does not report commit $commit" >&2
	exit 1
	;;
esac
echo "install-check: ok: go install $module/cmd/l402@$version"
