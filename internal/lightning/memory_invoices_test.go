package lightning

import (
	"context"
	"testing"
)

// TestMemoryListAndSubscribeInvoices: invoices are listed by add index,
// page after page; a subscription sees additions and settlements after it
// is ready, in order; a broken stream returns an error.
func TestMemoryListAndSubscribeInvoices(t *testing.T) {
	payer, payee := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	first, _ := payee.AddInvoice(ctx, InvoiceRequest{AmountSat: 1})
	ready := make(chan struct{})
	got := make(chan Invoice, 10)
	done := make(chan error, 1)
	go func() {
		done <- payee.SubscribeInvoices(ctx, func() { close(ready) },
			func(inv Invoice) { got <- inv })
	}()
	<-ready

	second, _ := payee.AddInvoice(ctx, InvoiceRequest{AmountSat: 2})
	if _, err := payer.Pay(ctx, PayRequest{
		PaymentRequest: second.PaymentRequest}); err != nil {
		t.Fatal(err)
	}
	added, settled := <-got, <-got
	if added.PaymentHash != second.PaymentHash || added.State != InvoiceOpen ||
		added.AddIndex != 2 {
		t.Errorf("added: %+v", added)
	}
	if settled.PaymentHash != second.PaymentHash ||
		settled.State != InvoiceSettled || settled.SettledAt.IsZero() {
		t.Errorf("settled: %+v", settled)
	}

	page, next, err := payee.ListInvoices(ctx, 0, 1)
	if err != nil || len(page) != 1 || page[0].PaymentHash != first.PaymentHash ||
		next != 1 {
		t.Fatalf("first page: %+v %d %v", page, next, err)
	}
	page, next, _ = payee.ListInvoices(ctx, next, 5)
	if len(page) != 1 || page[0].State != InvoiceSettled || next != 2 {
		t.Fatalf("second page: %+v %d", page, next)
	}
	page, next, _ = payee.ListInvoices(ctx, next, 5)
	if len(page) != 0 || next != 2 {
		t.Fatalf("past the end: %+v %d", page, next)
	}

	payee.CloseSubscriptions()
	if err := <-done; err == nil {
		t.Fatal("a broken stream returned no error")
	}
}
