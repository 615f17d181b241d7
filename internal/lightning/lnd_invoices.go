package lightning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/grpc"
)

// convertInvoice turns lnd's invoice into ours.
func convertInvoice(inv *lndrpc.Invoice) Invoice {
	out := Invoice{
		PaymentRequest: inv.PaymentRequest,
		AmountSat:      inv.Value,
		Memo:           inv.Memo,
		AmountPaidMsat: inv.AmtPaidMsat,
		CreatedAt:      time.Unix(inv.CreationDate, 0),
		Expiry:         time.Duration(inv.Expiry) * time.Second,
		AddIndex:       inv.AddIndex,
	}
	if len(inv.RHash) == l402.HashSize {
		out.PaymentHash = l402.Hash(inv.RHash)
	}
	if inv.SettleDate != 0 {
		out.SettledAt = time.Unix(inv.SettleDate, 0)
	}
	switch inv.State {
	case lndrpc.Invoice_SETTLED:
		out.State = InvoiceSettled
	case lndrpc.Invoice_CANCELED:
		out.State = InvoiceCanceled
	case lndrpc.Invoice_ACCEPTED:
		out.State = InvoiceAccepted
	default:
		out.State = InvoiceOpen
	}
	return out
}

// ListInvoices implements Node with lnd's ListInvoices, paged by add
// index.
func (l *Lnd) ListInvoices(ctx context.Context, offset uint64, max int) (
	[]Invoice, uint64, error) {

	ctx, cancel := l.callCtx(ctx)
	defer cancel()
	if max <= 0 {
		return nil, offset, l.callError("ListInvoices",
			fmt.Errorf("max %d must be positive", max))
	}
	resp := &lndrpc.ListInvoiceResponse{}
	err := l.conn.Invoke(ctx, methodListInvoices, &lndrpc.ListInvoiceRequest{
		IndexOffset: offset, NumMaxInvoices: uint64(max)}, resp)
	if err != nil {
		return nil, offset, l.callError("ListInvoices", err)
	}
	out := make([]Invoice, 0, len(resp.Invoices))
	next := offset
	for _, inv := range resp.Invoices {
		out = append(out, convertInvoice(inv))
		next = max64(next, inv.AddIndex)
	}
	return out, next, nil
}

// max64 returns the larger of a and b.
func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// SubscribeInvoices implements Node with lnd's SubscribeInvoices stream,
// from now on (no add or settle index: the caller catches up with
// ListInvoices).
func (l *Lnd) SubscribeInvoices(ctx context.Context, ready func(),
	update func(Invoice)) error {

	cs, err := l.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true},
		methodSubscribeInvs)
	if err != nil {
		return l.callError("SubscribeInvoices", err)
	}
	if err := cs.SendMsg(&lndrpc.InvoiceSubscription{}); err != nil {
		return l.callError("SubscribeInvoices", err)
	}
	if err := cs.CloseSend(); err != nil {
		return l.callError("SubscribeInvoices", err)
	}
	// lnd sends no header before the first invoice: the request is
	// sent, and lnd subscribes as it reads it. The caller's catch-up
	// runs after this and a little overlap is harmless.
	ready()
	for {
		inv := &lndrpc.Invoice{}
		err := cs.RecvMsg(inv)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF):
			return l.callError("SubscribeInvoices",
				errors.New("lnd ended the invoice stream"))
		case err != nil:
			return l.callError("SubscribeInvoices", err)
		}
		update(convertInvoice(inv))
	}
}
