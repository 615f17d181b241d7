package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/store"
)

// PruneResult counts what one Prune did with the tokens whose invoices
// expired unpaid as far as the database knew.
type PruneResult struct {
	// Deleted tokens' invoices can no longer be paid: their rows went.
	Deleted int

	// Settled tokens were paid after all (perhaps just before expiry):
	// their rows are now marked so, and kept for good.
	Settled int

	// Kept tokens' invoices are still open on the node, whose clock
	// decides; a later Prune looks at them again.
	Kept int
}

// Prune deletes the stored root keys (of tokens minted before root keys
// were derived) of tokens whose invoices expired before now unpaid,
// asking the node about each invoice first, so that a token paid just
// before its expiry keeps working. It reads the candidates batch at
// a time until none is left. On a node or database error it stops at
// once, deletes nothing more, and returns what it did so far with the
// error.
//
// No cache needs telling: the Authenticator's key cache only holds the
// root keys of tokens that verified, that is of paid tokens, whose rows
// Prune marks settled and never deletes.
//
// An invoice the node does not know is kept: replicas sharing a database
// may use different lnds, and only a node that says "canceled" proves a
// token was never paid.
func Prune(ctx context.Context, db *store.Store, node lightning.Node,
	now time.Time, batch int) (PruneResult, error) {

	var res PruneResult
	if batch <= 0 {
		return res, fmt.Errorf("prune: batch %d must be positive", batch)
	}

	// Tokens kept stay candidates: each query asks for that many more
	// rows than the batch, and skips them, so every round sees new ones.
	kept := map[[32]byte]bool{}
	for {
		limit := batch + len(kept)
		candidates, err := db.PruneCandidates(ctx, now, limit)
		if err != nil {
			return res, err
		}
		fresh := 0
		for _, c := range candidates {
			if kept[c.Key] {
				continue
			}
			fresh++
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if err := pruneOne(ctx, db, node, c, &res, kept); err != nil {
				return res, err
			}
		}
		if fresh == 0 || len(candidates) < limit {
			return res, nil
		}
	}
}

// pruneOne settles, deletes or keeps one candidate, as its invoice's
// state on the node says, and counts it in res.
func pruneOne(ctx context.Context, db *store.Store, node lightning.Node,
	c store.Candidate, res *PruneResult, kept map[[32]byte]bool) error {

	inv, err := node.LookupInvoice(ctx, c.PaymentHash)
	switch {
	case errors.Is(err, lightning.ErrInvoiceNotFound):
		// This node did not mint it (a replica on another lnd, or lnd
		// was replaced), or garbage-collected it: either way the node
		// cannot say it was not paid, so the row stays. Deleting it
		// could lose a paid token.
		kept[c.Key] = true
		res.Kept++
		return nil

	case err != nil:
		return fmt.Errorf("prune: unable to look up invoice %x, so no "+
			"more tokens are pruned now: %w", c.PaymentHash, err)
	}

	switch inv.State {
	case lightning.InvoiceSettled:
		err := db.MarkSettled(ctx, c.Key)
		if errors.Is(err, store.ErrNotFound) {
			return nil // gone already; nothing left to protect
		}
		if err != nil {
			return err
		}
		res.Settled++

	case lightning.InvoiceCanceled:
		return deleteUnsettled(ctx, db, c, res)

	default:
		// Open (the node's clock has not reached the expiry), or
		// accepted and waiting to settle: it may still be paid.
		kept[c.Key] = true
		res.Kept++
	}
	return nil
}

// deleteUnsettled deletes a candidate's row unless it was marked settled
// meanwhile, and counts it.
func deleteUnsettled(ctx context.Context, db *store.Store,
	c store.Candidate, res *PruneResult) error {

	gone, err := db.DeleteUnsettled(ctx, c.Key)
	if err != nil {
		return err
	}
	if gone {
		res.Deleted++
	}
	return nil
}
