package serve

import (
	"context"
	"time"
)

// pruneLoop deletes the root keys of unpaid tokens whose invoices expired,
// and with the Payment scheme closes idle sessions and deletes expired
// claims (prune_payment.go), every PruneInterval, until ctx ends.
func (s *server) pruneLoop(ctx context.Context) {
	t := time.NewTicker(PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.prunePayment(ctx, time.Now())
		res, err := Prune(ctx, s.db, s.node, time.Now(), pruneBatch)
		s.metrics.settled.Add(float64(res.Settled))
		s.metrics.pruned.Add(float64(res.Deleted))
		if err != nil {
			s.log.Warn("pruning unpaid tokens stopped", "err", err)
		} else if res.Deleted+res.Settled > 0 {
			s.log.Info("pruned unpaid tokens", "deleted", res.Deleted,
				"settled", res.Settled, "kept", res.Kept)
		}
	}
}

// Pruning: how often, and how many rows each database query reads (a
// round goes on until no candidate is left).
const (
	PruneInterval = 5 * time.Minute
	pruneBatch    = 1000
)
