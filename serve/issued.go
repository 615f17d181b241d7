package serve

import (
	"context"
	"errors"
	"fmt"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// issuance is what one scheme's credential is held to when it must have
// been issued here (an L402 token under its derived key, a Payment
// charge or deposit): the secret that proves its binding is in the
// database, so its invoice must be one serve issued for it. The fields
// are where the schemes differ; issuedHere is what they share.
type issuance struct {
	// hash is the payment hash of the credential's invoice.
	hash l402.Hash

	// refusal is what a credential not issued here wraps
	// (l402.ErrUnknownToken, mpp.ErrTampered).
	refusal error

	// recorded tells by the transactions whether the credential was
	// issued here (Store.TokenIssuance, Store.ChallengeIssuance).
	recorded func(ctx context.Context) (store.Issuance, error)

	// written reports whether a settled invoice was written by serve for
	// this credential (its memo, and for the Payment scheme its amount).
	written func(inv lightning.Invoice) bool

	// record queues the credential's transaction again from its invoice.
	// It does not wait and cannot fail the check: a row not written is
	// the store's failure handler's to report, and the invoice is asked
	// again the next time the row is missing.
	record func(ctx context.Context, inv lightning.Invoice)
}

// issuedHere holds a credential to having been issued here: its own
// transaction takes it and another's refuses it; with none for its
// payment hash at all (the row lost to a crash or a failed write, or
// another replica's not written yet), node is asked, and an invoice
// settled and written by serve for it takes it, its row queued again. A
// refusal wraps is.refusal; a database or node that cannot answer is
// ErrCannotVerify (503: the buyer may have paid).
func issuedHere(ctx context.Context, node lightning.Node,
	is issuance) error {

	found, err := is.recorded(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("%w: unable to tell whether the credential's "+
			"invoice was issued here: %w", ErrCannotVerify, err)
	case found == store.Recorded:
		return nil
	case found == store.OtherToken:
		return fmt.Errorf("%w: its invoice was issued for another "+
			"credential", is.refusal)
	}

	inv, err := node.LookupInvoice(ctx, is.hash)
	switch {
	case errors.Is(err, lightning.ErrInvoiceNotFound):
		return fmt.Errorf("%w: no transaction and no invoice has its "+
			"payment hash", is.refusal)
	case err != nil:
		return fmt.Errorf("%w: unable to look up an invoice with no "+
			"transaction: %w", ErrCannotVerify, err)
	case inv.State != lightning.InvoiceSettled || !is.written(inv):
		return fmt.Errorf("%w: it has no transaction and its invoice is "+
			"%s, %d sat, memo %q", is.refusal, inv.State, inv.AmountSat,
			truncateMemo(inv.Memo))
	}
	is.record(ctx, inv)
	return nil
}

// truncateMemo bounds a memo quoted in an error.
func truncateMemo(m string) string {
	if len(m) > 64 {
		return m[:64]
	}
	return m
}
