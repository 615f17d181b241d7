// Package benchload is `make bench-load`: it measures l402 as users see
// it, whole processes on one machine. It builds l402 and a bare reverse
// proxy (cmd/bareproxy), starts a backend, buys tokens through a fake
// lnd over gRPC (an in-memory node behind lnd's wire protocol), and
// alternates load generators (wrk, h2load, a gRPC client loop) between
// serve and the bare proxy, printing each ratio; it times a cached
// `l402 fetch` against curl and `l402 version`; and, in its optional
// modes, the 402 issuance rate with a real regtest lnd and serve's RSS
// over a long paid-path load. docs/benchmarks.md has the figures.
package benchload
