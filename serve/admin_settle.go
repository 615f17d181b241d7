package serve

import (
	"context"
	"errors"
	"time"

	"github.com/l402/l402/internal/lightning"
)

// settleRetry is how long the settlement watcher waits before it
// subscribes again after the node's invoice stream broke.
const settleRetry = 5 * time.Second

// catchUpPage is how many invoices one ListInvoices call of the catch-up
// reads.
const catchUpPage = 500

// settleLoop learns from the node which challenges were paid, for the
// admin API's transactions: it subscribes to the node's invoices and,
// once subscribed, catches up with the invoices it missed (at start, and
// after every broken stream) by paging through ListInvoices from the
// oldest pending transaction. A macaroon that may not read invoices stops
// it with a warning: tokens still settle on their first use.
func (s *server) settleLoop(ctx context.Context) {
	for ctx.Err() == nil {
		err := s.node.SubscribeInvoices(ctx, func() {
			go s.catchUp(ctx)
		}, func(inv lightning.Invoice) { s.settled(ctx, inv) })
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, lightning.ErrPermissionDenied):
			s.log.Warn("the node's macaroon may not read invoices: the "+
				"admin API learns of payments only when tokens are "+
				"first used", "err", err)
			return
		case err != nil:
			s.log.Warn("the node's invoice stream broke; subscribing "+
				"again", "err", err, "in", settleRetry)
		}
		select {
		case <-ctx.Done():
		case <-time.After(settleRetry):
		}
	}
}

// settled records what the node says of one invoice.
func (s *server) settled(ctx context.Context, inv lightning.Invoice) {
	var err error
	switch inv.State {
	case lightning.InvoiceSettled:
		at := inv.SettledAt
		if at.IsZero() {
			at = time.Now()
		}
		_, err = s.db.SettleInvoice(ctx, inv.PaymentHash, at)
	case lightning.InvoiceCanceled:
		_, err = s.db.CancelInvoice(ctx, inv.PaymentHash, time.Now())
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("unable to record an invoice's state", "err", err)
	}
}

// catchUp pages through the node's invoices from the oldest pending
// transaction's and records those that settled or were canceled.
func (s *server) catchUp(ctx context.Context) {
	pending, first, err := s.db.PendingSince(ctx)
	if err != nil || len(pending) == 0 {
		if err != nil && ctx.Err() == nil {
			s.log.Warn("invoice catch-up: unable to read the pending "+
				"transactions", "err", err)
		}
		return
	}
	offset := uint64(0)
	if first > 0 {
		offset = first - 1
	}
	for ctx.Err() == nil {
		invs, next, err := s.node.ListInvoices(ctx, offset, catchUpPage)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("invoice catch-up stopped", "err", err)
			}
			return
		}
		for _, inv := range invs {
			if pending[inv.PaymentHash] {
				s.settled(ctx, inv)
			}
		}
		if len(invs) < catchUpPage || next <= offset {
			return
		}
		offset = next
	}
}
