package lightning

import (
	"context"
	"sync"

	"github.com/l402/l402/internal/l402"
)

// Lazy must implement Node.
var _ Node = (*Lazy)(nil)

// Lazy is a Node that connects on its first call, for a client that may
// not need a node at all (a free URL) and whose connection is slow to
// open (LNC). A failed connection is tried again on the next call.
type Lazy struct {
	dial func(ctx context.Context) (Node, error)

	mu   sync.Mutex
	node Node
}

// NewLazy returns a Node that calls dial on its first call.
func NewLazy(dial func(ctx context.Context) (Node, error)) *Lazy {
	return &Lazy{dial: dial}
}

// get returns the connected node, connecting first when needed.
func (l *Lazy) get(ctx context.Context) (Node, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.node != nil {
		return l.node, nil
	}
	n, err := l.dial(ctx)
	if err != nil {
		return nil, err
	}
	l.node = n
	return n, nil
}

// AddInvoice implements Node.
func (l *Lazy) AddInvoice(ctx context.Context, req InvoiceRequest) (Invoice,
	error) {

	n, err := l.get(ctx)
	if err != nil {
		return Invoice{}, err
	}
	return n.AddInvoice(ctx, req)
}

// LookupInvoice implements Node.
func (l *Lazy) LookupInvoice(ctx context.Context, hash l402.Hash) (Invoice,
	error) {

	n, err := l.get(ctx)
	if err != nil {
		return Invoice{}, err
	}
	return n.LookupInvoice(ctx, hash)
}

// DecodePayReq implements Node.
func (l *Lazy) DecodePayReq(ctx context.Context, payReq string) (PayReq,
	error) {

	n, err := l.get(ctx)
	if err != nil {
		return PayReq{}, err
	}
	return n.DecodePayReq(ctx, payReq)
}

// Pay implements Node.
func (l *Lazy) Pay(ctx context.Context, req PayRequest) (Payment, error) {
	n, err := l.get(ctx)
	if err != nil {
		return Payment{}, err
	}
	return n.Pay(ctx, req)
}

// TrackPayment implements Node.
func (l *Lazy) TrackPayment(ctx context.Context, hash l402.Hash) (Payment,
	error) {

	n, err := l.get(ctx)
	if err != nil {
		return Payment{}, err
	}
	return n.TrackPayment(ctx, hash)
}

// Info implements Node.
func (l *Lazy) Info(ctx context.Context) (Info, error) {
	n, err := l.get(ctx)
	if err != nil {
		return Info{}, err
	}
	return n.Info(ctx)
}

// ListChannels implements Node.
func (l *Lazy) ListChannels(ctx context.Context) ([]Channel, error) {
	n, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return n.ListChannels(ctx)
}

// ChannelBalance implements Node.
func (l *Lazy) ChannelBalance(ctx context.Context) (ChannelBalance, error) {
	n, err := l.get(ctx)
	if err != nil {
		return ChannelBalance{}, err
	}
	return n.ChannelBalance(ctx)
}

// Close implements Node: it closes the connection if one was made.
func (l *Lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.node == nil {
		return nil
	}
	err := l.node.Close()
	l.node = nil
	return err
}

// ListInvoices implements Node, connecting first.
func (l *Lazy) ListInvoices(ctx context.Context, offset uint64, max int) (
	[]Invoice, uint64, error) {

	n, err := l.get(ctx)
	if err != nil {
		return nil, offset, err
	}
	return n.ListInvoices(ctx, offset, max)
}

// SubscribeInvoices implements Node, connecting first.
func (l *Lazy) SubscribeInvoices(ctx context.Context, ready func(),
	update func(Invoice)) error {

	n, err := l.get(ctx)
	if err != nil {
		return err
	}
	return n.SubscribeInvoices(ctx, ready, update)
}
