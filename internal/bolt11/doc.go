// Package bolt11 decodes and encodes BOLT 11 payment requests: every
// field a payer reads (amount, timestamp, payment hash and secret,
// description, payee, expiry, final CLTV delta, features) and the
// signature over them, and it fails wherever lnd's own decoder (zpay32,
// which lnd v0.21 pays with) fails, and where BOLT 11 says a reader fails
// and zpay32 does not (an amount or expiry beyond 64 bits, which zpay32
// wraps; a recovery ID above 3). It exists so that the l402 binary
// does not link lnd's wire package, which links a property-testing
// library and lnd's test helpers; the tests hold it against zpay32. It
// does no I/O.
package bolt11
