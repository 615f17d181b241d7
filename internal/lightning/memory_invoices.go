package lightning

import (
	"context"
	"errors"
)

// memSub is one invoice subscription of a memory node: updates queue in a
// buffer, and a subscriber too slow to keep up loses its stream (broken),
// as a real one may, so that it resubscribes and catches up.
type memSub struct {
	updates chan Invoice
	broken  chan struct{}
}

// memSubBuffer is how many updates a subscription holds before it breaks.
const memSubBuffer = 1024

// notify hands an invoice update to every subscription; m.mu is held.
func (m *MemoryNode) notify(inv Invoice) {
	for sub := range m.subs {
		select {
		case sub.updates <- inv:
		default:
			delete(m.subs, sub)
			close(sub.broken)
		}
	}
}

// ListInvoices implements Node: the invoices in the order added, with an
// expired open one reported canceled, as LookupInvoice does.
func (m *MemoryNode) ListInvoices(_ context.Context, offset uint64,
	max int) ([]Invoice, uint64, error) {

	if max <= 0 {
		return nil, offset, m.fail("ListInvoices",
			errors.New("max must be positive"))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Invoice
	next := offset
	for i := offset; i < uint64(len(m.added)) && len(out) < max; i++ {
		inv := m.added[i].Invoice
		if inv.State == InvoiceOpen &&
			m.now().After(inv.CreatedAt.Add(inv.Expiry)) {
			inv.State = InvoiceCanceled
		}
		out = append(out, inv)
		next = inv.AddIndex
	}
	return out, next, nil
}

// SubscribeInvoices implements Node: invoices added and settled after the
// call, until ctx ends; CloseSubscriptions breaks every stream.
func (m *MemoryNode) SubscribeInvoices(ctx context.Context, ready func(),
	update func(Invoice)) error {

	sub := &memSub{updates: make(chan Invoice, memSubBuffer),
		broken: make(chan struct{})}
	m.mu.Lock()
	m.subs[sub] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.subs, sub)
		m.mu.Unlock()
	}()
	ready()
	for {
		select {
		case inv := <-sub.updates:
			update(inv)
		case <-sub.broken:
			// Hand over what was queued before the break.
			for {
				select {
				case inv := <-sub.updates:
					update(inv)
				default:
					return m.fail("SubscribeInvoices",
						errors.New("the invoice stream broke"))
				}
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// CloseSubscriptions breaks every invoice subscription of the node, as a
// node restart would: subscribers must resubscribe and catch up.
func (m *MemoryNode) CloseSubscriptions() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for sub := range m.subs {
		delete(m.subs, sub)
		close(sub.broken)
	}
}
