package serve

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/l402/l402/internal/mpp"
	"github.com/l402/l402/internal/store"
)

// idleBatch bounds the idle sessions one prune closes.
const idleBatch = 100

// prunePayments is the pruner's round for the Payment scheme p: it closes
// the sessions idle for longer than p's timeout and refunds what they
// hold to their return invoices (a session its holder closed meanwhile
// is passed over), then deletes the claims of challenges expired for
// claimRetention. Closed sessions stay, as the draft requires, so that
// their preimages open nothing again. It stops at the first database
// error.
func prunePayments(ctx context.Context, db *store.Store, p *paymentScheme,
	now time.Time, m *Metrics, log *slog.Logger) error {

	if s := p.sessions; s != nil {
		ids, err := db.IdleSessions(ctx, now.Add(-s.idle), idleBatch)
		if err != nil {
			return err
		}
		for _, id := range ids {
			closed, err := db.CloseSession(ctx, id, "", now)
			if errors.Is(err, mpp.ErrSessionClosed) {
				continue
			}
			if err != nil {
				return err
			}
			s.refunds.refund(ctx, id, closed.Service, closed, "idle")
		}
	}
	n, err := db.PruneClaims(ctx, now.Add(-claimRetention))
	if err != nil {
		return err
	}
	m.claimsPruned.Add(float64(n))
	if n > 0 {
		log.Info("pruned the claims of expired Payment challenges",
			"deleted", n)
	}
	return nil
}
