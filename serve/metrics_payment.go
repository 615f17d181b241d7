package serve

import "github.com/l402/l402/internal/metrics"

// registerPayment registers the metrics that count both schemes side by
// side, and the Payment scheme's sessions, with counter (NewMetrics').
func (m *Metrics) registerPayment(counter func(name, help string,
	labels ...string) *metrics.CounterVec) {

	m.challengesByScheme = counter("challenges_by_scheme_total",
		"Challenges offered, by scheme (l402, payment): one 402 offers "+
			"every scheme of its service.", "service", "scheme")
	m.credentials = counter("credentials_total",
		"Credentials by scheme and outcome: accepted, or the reason "+
			"they were refused.", "service", "scheme", "outcome")
	m.sessionsOpened = counter("payment_sessions_opened_total",
		"Payment sessions opened.", "service")
	m.sessionDeposits = counter("payment_session_deposits_sat_total",
		"Sats deposited into Payment sessions (opens and top-ups).",
		"service")
	m.sessionsClosed = counter("payment_sessions_closed_total",
		"Payment sessions closed, by why: closed by the buyer, or idle.",
		"service", "why")
	m.sessionRefunds = counter("payment_session_refunds_sat_total",
		"Sats refunded from closed Payment sessions, by status "+
			"(succeeded, failed, in_flight).", "service", "status")
	m.claimsPruned = m.registry.Counter(namespace+"payment_claims_pruned_total",
		"Single-use claims of expired Payment challenges deleted.")
}
