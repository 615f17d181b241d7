// Package scripts holds the repository's helper scripts (deps.sh,
// install-check.sh, modproxy, which install-check.sh runs, and lazyproto,
// which `make proto` runs on the generated protobuf code); its itest
// runs install-check.sh, so that `make test` proves `go install` works.
package scripts
