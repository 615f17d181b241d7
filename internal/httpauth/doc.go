// Package httpauth reads and writes the syntax of HTTP authentication
// (RFC 9110, section 11): challenges with their auth-params, tokens and
// quoted strings. It knows no scheme; internal/l402 and internal/mpp build
// their challenges on it.
//
// It does no I/O, like the protocol packages that use it.
package httpauth
