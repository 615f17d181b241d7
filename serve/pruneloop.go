package serve

import (
	"context"
	"time"
)

// pruneLoop deletes the stored root keys of unpaid tokens (minted before
// root keys were derived) whose invoices expired,
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
		s.pruneMeter(ctx, time.Now())
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

// staleReservation is how long a metered request's reservation is held
// before the pruner takes it for one whose replica stopped mid-request
// and releases it: longer than any stream a rolling writetimeout keeps
// alive in practice.
const staleReservation = 6 * time.Hour

// pruneMeter drops the meter's bookings that were never paid and
// releases stale reservations.
func (s *server) pruneMeter(ctx context.Context, now time.Time) {
	if s.db == nil || !s.cfg.anyMetered() {
		return
	}
	bookings, held, err := s.db.PruneMeter(ctx, now,
		now.Add(-staleReservation))
	s.metrics.meterPruned.WithLabelValues("bookings").Add(float64(bookings))
	s.metrics.meterPruned.WithLabelValues("reservations").Add(float64(held))
	switch {
	case err != nil:
		s.log.Warn("pruning the meter's bookings stopped", "err", err)
	case held > 0:
		s.log.Warn("released stale meter reservations (a replica stopped "+
			"mid-request?)", "reservations", held, "bookings", bookings)
	case bookings > 0:
		s.log.Info("pruned unpaid meter bookings", "bookings", bookings)
	}
}
