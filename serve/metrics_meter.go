package serve

import "github.com/l402/l402/internal/metrics"

// The meter's metrics (meter.go), by service.
type meterMetrics struct {
	meterBooked    *metrics.CounterVec
	meterActivated *metrics.CounterVec
	meterExhausted *metrics.CounterVec
	meterRefused   *metrics.CounterVec
	meterTokens    *metrics.CounterVec
	meterDebited   *metrics.CounterVec
	meterUnbilled  *metrics.CounterVec
	meterInFlight  *metrics.GaugeVec
	meterPruned    *metrics.CounterVec
}

// registerMeter registers the meter's metrics with counter (NewMetrics').
func (m *Metrics) registerMeter(counter func(name, help string,
	labels ...string) *metrics.CounterVec) {

	m.meterBooked = counter("meter_bundles_booked_total",
		"Bundles booked as their 402 was minted (one per key: the L402 "+
			"token, and the Payment charge when offered).", "service")
	m.meterActivated = counter("meter_bundles_activated_total",
		"Bundles activated: their first request, which the payment's "+
			"preimage authenticated.", "service")
	m.meterExhausted = counter("meter_bundles_exhausted_total",
		"Bundles a request's settlement emptied.", "service")
	m.meterRefused = counter("meter_requests_refused_total",
		"Paid requests a balance refused (exhausted, unknown, another "+
			"model), answered with a fresh 402.", "service")
	m.meterTokens = counter("meter_tokens_debited_total",
		"Tokens the backends reported in the usage of metered responses.",
		"service")
	m.meterDebited = counter("meter_debited_msat_total",
		"Msat drawn from bundles and sessions by metered responses.",
		"service")
	m.meterUnbilled = counter("meter_unbilled_msat_total",
		"Msat metered responses cost beyond what their bundle still held.",
		"service")
	m.meterInFlight = m.registry.GaugeVec(
		namespace+"meter_reservations_outstanding",
		"Reservations this process holds: metered requests in flight.",
		"service")
	m.meterPruned = counter("meter_pruned_total",
		"Unpaid bookings dropped and stale reservations released by the "+
			"pruner.", "what")
}
