#!/usr/bin/env bash
# Installs, from Debian's packages, what `make test` needs beyond Go:
# make, gcc and libc6-dev (the race detector's cgo runtime needs a C
# compiler and libc's headers and start files, which minimal images leave
# out even when gcc is there), Postgres (the store's tests start a
# throwaway cluster), curl, jq and perl (the skills' commands, which
# the itests run), and chromium (the dashboard's browser itest drives it
# headless). Nothing is downloaded from elsewhere.
#
# deps.sh --list prints the missing packages and installs nothing.
# deps.sh --bench is for `make bench-load` only: wrk, h2load (Debian's
# nghttp2-client) and curl.
set -euo pipefail

missing=()
if [ "${1:-}" = --bench ]; then
	shift
	command -v wrk >/dev/null 2>&1 || missing+=(wrk)
	command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
	command -v curl >/dev/null 2>&1 || missing+=(curl)
else
	for tool in make gcc curl jq perl chromium; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	# gcc that cannot build and link a C program is what -race fails on.
	# It links into a directory of its own: a linker replaces its output
	# file, and as root `-o /dev/null` would turn /dev/null into a
	# regular file.
	cc_dir=$(mktemp -d)
	if ! printf '#include <stdlib.h>\nint main(void) { return 0; }\n' |
		gcc -x c -o "$cc_dir/a.out" - >/dev/null 2>&1; then
		missing+=(libc6-dev)
	fi
	rm -rf "$cc_dir"
	if ! command -v initdb >/dev/null 2>&1 &&
		! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
		missing+=(postgresql)
	fi
fi
if [ "${1:-}" = --list ]; then
	[ ${#missing[@]} -eq 0 ] || echo "${missing[*]}"
	exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing ${missing[*]}: install them (on Debian: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "deps: installing ${missing[*]} from Debian's packages" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
