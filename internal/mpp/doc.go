// Package mpp is the wire format of the "Payment" HTTP authentication
// scheme (MPP) with its Lightning method: challenges and their id binding,
// the JCS-encoded request, credentials, receipts and problem bodies, and
// the checks each side makes on them.
//
// Like internal/l402 it does no I/O: no network, no files and no clock
// reads (the time is always passed in). The server's single-use claim of a
// charge and its sessions are the store's; the invoice's BOLT11 decode is
// internal/lightning's. docs/mpp.md describes the format.
package mpp
