// Package lnddetect finds the local lnd for `l402 setup` and `l402 bake`:
// its directory, configuration, network, TLS certificate and macaroons.
//
// Find only reads files. Verify is the one step that talks to lnd, through
// a Prober the caller supplies (internal/lndconn dials), and Diagnose turns the raw errors of that
// call into the cause and the command that fixes it.
package lnddetect
