// Package l402 is the L402 protocol core shared by every l402 command: token
// identifiers, macaroons and their caveats, challenges and credentials.
//
// It does no I/O at all: no network, no files and no clock reads (the time is
// always passed in), so that the part everything trusts stays small and fuzzed.
package l402
