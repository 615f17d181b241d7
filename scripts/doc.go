// Package scripts holds the repository's helper scripts (deps.sh,
// install-check.sh, and modproxy, which install-check.sh runs); its itest
// runs install-check.sh, so that `make test` proves `go install` works.
package scripts
