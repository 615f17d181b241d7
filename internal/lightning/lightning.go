// Package lightning is the one narrow interface l402 has to a Lightning
// node, with its backends: lnd over gRPC, lnd through Lightning Node
// Connect, and an in-memory node for tests.
package lightning

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/l402/l402/internal/l402"
)

// Node is what l402 needs from a Lightning node: create and look up
// invoices, decode and pay an invoice, track a payment, node info, and
// the channels' balances a payment is made from.
// Every backend implements all of it.
type Node interface {
	// AddInvoice creates an invoice for the node to be paid.
	AddInvoice(ctx context.Context, req InvoiceRequest) (Invoice, error)

	// LookupInvoice returns the node's invoice for a payment hash, or an
	// error wrapping ErrInvoiceNotFound.
	LookupInvoice(ctx context.Context, hash l402.Hash) (Invoice, error)

	// DecodePayReq decodes a BOLT11 payment request for the node's
	// network.
	DecodePayReq(ctx context.Context, payReq string) (PayReq, error)

	// Pay pays a BOLT11 payment request and waits for the outcome. A
	// payment that fails returns the Payment and an error wrapping
	// ErrPaymentFailed; one the node refused before starting it, an
	// error wrapping ErrPaymentNotStarted (only when the node is known
	// to hold no record of it: any doubt is another error); one still
	// in flight when the context ends returns the Payment with status
	// PaymentInFlight and the context's error.
	Pay(ctx context.Context, req PayRequest) (Payment, error)

	// TrackPayment returns the state of a payment the node made, waiting
	// until it is final or the context ends; then it returns the last
	// state seen (in flight) without error. An unknown payment returns
	// an error wrapping ErrPaymentNotFound.
	TrackPayment(ctx context.Context, hash l402.Hash) (Payment, error)

	// Info returns facts about the node.
	Info(ctx context.Context) (Info, error)

	// ListInvoices returns at most max of the node's invoices whose add
	// index is above offset, oldest first, and the add index to go on
	// from (the last one's; offset when there are none).
	ListInvoices(ctx context.Context, offset uint64, max int) ([]Invoice,
		uint64, error)

	// SubscribeInvoices streams the node's invoices as they are added
	// and settled, from the moment the subscription is in place (when
	// ready is called), to update, until ctx ends (it then returns nil)
	// or the stream breaks (an error). update is called from one
	// goroutine, in the node's order.
	SubscribeInvoices(ctx context.Context, ready func(),
		update func(Invoice)) error

	// ListChannels returns the node's open channels with their local
	// balance: what the node can send through each. A macaroon that may
	// not list channels (lnd's offchain:read; l402's pay-only role has
	// only ChannelBalance) returns an error wrapping ErrPermissionDenied.
	ListChannels(ctx context.Context) ([]Channel, error)

	// ChannelBalance returns the local and remote balance summed over
	// every open channel, active or not; ErrPermissionDenied as
	// ListChannels.
	ChannelBalance(ctx context.Context) (ChannelBalance, error)

	// Close releases the connection.
	Close() error
}

var (
	// ErrInvoiceNotFound is returned when the node has no such invoice.
	ErrInvoiceNotFound = errors.New("invoice not found")

	// ErrPaymentNotFound is returned when the node never made such a
	// payment.
	ErrPaymentNotFound = errors.New("payment not found")

	// ErrPaymentFailed is returned when a payment failed for good.
	ErrPaymentFailed = errors.New("payment failed")

	// ErrPaymentNotStarted is returned by Pay when the node refused the
	// payment before it started it (lnd's SendPaymentV2 answering with
	// an error before any update, and no record of the payment): nothing
	// was sent, and nothing will be.
	ErrPaymentNotStarted = errors.New("the node refused the payment " +
		"before starting it")

	// ErrAlreadyPaid is returned when the node already paid this payment
	// hash: track it instead of paying again.
	ErrAlreadyPaid = errors.New("invoice is already paid")

	// ErrPaymentInFlight is returned when a payment for this hash is
	// already under way: track it instead of paying again.
	ErrPaymentInFlight = errors.New("payment is already in flight")

	// ErrPermissionDenied is returned when the node refused the call
	// for the macaroon used.
	ErrPermissionDenied = errors.New("permission denied by the node's " +
		"macaroon")
)

// CallError says which node and which call failed.
type CallError struct {
	Node string
	Call string
	Err  error
}

// Error implements error.
func (e *CallError) Error() string {
	return fmt.Sprintf("lightning node %s: %s: %v", e.Node, e.Call, e.Err)
}

// Unwrap returns the underlying error.
func (e *CallError) Unwrap() error { return e.Err }

// InvoiceRequest describes an invoice to create.
type InvoiceRequest struct {
	AmountSat int64
	Memo      string

	// Expiry is how long the invoice can be paid; zero means
	// DefaultInvoiceExpiry (24 hours, lnd's default).
	Expiry time.Duration
}

// InvoiceState is the state of an invoice on the node that issued it.
type InvoiceState int

const (
	InvoiceOpen InvoiceState = iota
	InvoiceSettled
	InvoiceCanceled
	InvoiceAccepted
)

// String returns the state's name.
func (s InvoiceState) String() string {
	switch s {
	case InvoiceOpen:
		return "open"
	case InvoiceSettled:
		return "settled"
	case InvoiceCanceled:
		return "canceled"
	case InvoiceAccepted:
		return "accepted"
	}
	return fmt.Sprintf("InvoiceState(%d)", int(s))
}

// Invoice is an invoice the node issued.
type Invoice struct {
	PaymentRequest string
	PaymentHash    l402.Hash
	AmountSat      int64

	// Memo is the invoice's description (BOLT 11's d field), as the
	// invoice's issuer set it.
	Memo string

	State          InvoiceState
	AmountPaidMsat int64
	CreatedAt      time.Time
	SettledAt      time.Time
	Expiry         time.Duration

	// AddIndex is the node's index of the invoice among all it added,
	// counting from 1 (0 when the node did not say).
	AddIndex uint64
}

// PayReq is a decoded BOLT11 payment request.
type PayReq struct {
	Network     string
	Destination string // hex compressed public key
	PaymentHash l402.Hash

	// AmountMsat is zero for an invoice without an amount.
	AmountMsat  int64
	Description string
	Timestamp   time.Time
	Expiry      time.Duration

	// PaymentSecret tells whether the invoice carries the payment
	// secret (BOLT 11's s field) that a payment must send.
	PaymentSecret bool

	// UnknownRequired lists, comma-separated, the even (required)
	// feature bits of the invoice that lnd does not know: BOLT 11 says a
	// reader MUST fail the payment. It is a string so that a PayReq
	// stays comparable.
	UnknownRequired string

	// HighS tells whether the signature is not in lower-S form, which
	// BOLT 11 says a reader MUST fail.
	HighS bool
}

// ExpiresAt returns when the invoice stops being payable.
func (p PayReq) ExpiresAt() time.Time { return p.Timestamp.Add(p.Expiry) }

// PayRequest describes a payment to make.
type PayRequest struct {
	PaymentRequest string

	// AmountSat is the amount to pay an invoice without one (a session
	// refund's return invoice); it must be zero for an invoice that
	// names its amount.
	AmountSat int64

	// MaxFeeSat is the most the payment may cost in routing fees.
	MaxFeeSat int64

	// Timeout bounds the node's attempts to find a route.
	Timeout time.Duration
}

// PaymentStatus is the state of an outgoing payment.
type PaymentStatus int

const (
	PaymentUnknown PaymentStatus = iota
	PaymentInFlight
	PaymentSucceeded
	PaymentFailed
)

// String returns the status's name.
func (s PaymentStatus) String() string {
	switch s {
	case PaymentUnknown:
		return "unknown"
	case PaymentInFlight:
		return "in_flight"
	case PaymentSucceeded:
		return "succeeded"
	case PaymentFailed:
		return "failed"
	}
	return fmt.Sprintf("PaymentStatus(%d)", int(s))
}

// Payment is an outgoing payment as the node sees it.
type Payment struct {
	PaymentHash l402.Hash
	Status      PaymentStatus

	// Preimage is set once the payment succeeded.
	Preimage  l402.Preimage
	ValueMsat int64
	FeeMsat   int64

	// FailureReason names why a failed payment failed, in lnd's words.
	FailureReason string
}

// Info describes a node.
type Info struct {
	Pubkey      string
	Alias       string
	Network     string // mainnet, testnet, testnet4, signet, regtest, simnet
	BlockHeight uint32
	Synced      bool
	Version     string
}

// Channel is one open channel of the node, as ListChannels sees it.
type Channel struct {
	ChanID       uint64
	ChannelPoint string
	RemotePubkey string

	// Active says the peer is online and the channel can carry a
	// payment now.
	Active bool

	CapacitySat      int64
	LocalBalanceSat  int64
	RemoteBalanceSat int64

	// LocalReserveSat is what the node must keep on its side: a payment
	// can spend the local balance above it only.
	LocalReserveSat int64
}

// SpendableSat returns what a payment can take from the channel now: the
// local balance above the reserve of an active channel, 0 otherwise.
func (c Channel) SpendableSat() int64 {
	if !c.Active || c.LocalBalanceSat <= c.LocalReserveSat {
		return 0
	}
	return c.LocalBalanceSat - c.LocalReserveSat
}

// ChannelBalance is the balance summed over the node's open channels.
type ChannelBalance struct {
	LocalMsat  int64
	RemoteMsat int64
}
