package serve

import (
	"errors"
	"net/http"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/metrics"
	"github.com/l402/l402/internal/mpp"
)

// Metrics are what serve counts, for Prometheus. They live in their own
// registry (internal/metrics), served by Handler on the address
// prometheus.listenaddr names, never on the proxy's port.
type Metrics struct {
	registry *metrics.Registry

	challenges      *metrics.CounterVec
	challengeErrors *metrics.CounterVec
	accepted        *metrics.CounterVec
	rejected        *metrics.CounterVec
	free            *metrics.CounterVec
	limited         *metrics.CounterVec
	upstream        *metrics.HistogramVec
	settled         *metrics.Counter
	pruned          *metrics.Counter

	// bookkeepingFailures counts the tokens whose transaction row was
	// not written (internal/store's RecordToken).
	bookkeepingFailures *metrics.Counter

	// shadow mode's would-be challenges and revenue (shadow.go).
	shadowChallenges *metrics.CounterVec
	shadowRevenue    *metrics.CounterVec

	// The schemes side by side, and the Payment scheme's sessions
	// (metrics_payment.go).
	challengesByScheme *metrics.CounterVec
	credentials        *metrics.CounterVec
	sessionsOpened     *metrics.CounterVec
	sessionDeposits    *metrics.CounterVec
	sessionsClosed     *metrics.CounterVec
	sessionRefunds     *metrics.CounterVec
	claimsPruned       *metrics.Counter

	// The meter's (metrics_meter.go).
	meterMetrics
}

// NewMetrics registers serve's metrics in a new registry, with the
// process and Go runtime families Prometheus' Go client gave by default.
func NewMetrics() *Metrics {
	m := &Metrics{registry: metrics.NewRegistry()}
	counter := func(name, help string, labels ...string) *metrics.CounterVec {
		return m.registry.CounterVec(namespace+name, help, labels...)
	}
	m.challenges = counter("challenges_total",
		"402 challenges issued (each an invoice and a token).", "service")
	m.challengeErrors = counter("challenge_errors_total",
		"Challenges that could not be issued (lnd or database failure).",
		"service")
	m.accepted = counter("tokens_accepted_total",
		"Requests let through with a valid L402 token.", "service")
	m.rejected = counter("tokens_rejected_total",
		"Credentials refused, by reason.", "service", "reason")
	m.free = counter("free_requests_total",
		"Requests let through without a token, by reason.", "service",
		"reason")
	m.limited = counter("rate_limited_total",
		"Requests refused by a rate limit (rule) or the challenge limit.",
		"service", "limit")
	m.upstream = m.registry.HistogramVec(
		namespace+"upstream_duration_seconds",
		"Time until the backend's response headers, by status.",
		metrics.ExponentialBuckets(0.001, 2.5, 12), "service", "code")
	m.shadowChallenges, m.shadowRevenue = shadowMetrics(counter)
	m.settled = m.registry.Counter(namespace+"invoices_settled_total",
		"Invoices seen settled by the pruner.")
	m.pruned = m.registry.Counter(namespace+"root_keys_pruned_total",
		"Root keys of unpaid, expired tokens deleted.")
	m.bookkeepingFailures = m.registry.Counter(
		namespace+"bookkeeping_failures_total",
		"Minted tokens whose transaction (the admin API's row) "+
			"could not be written; the tokens still verify.")
	m.registerPayment(counter)
	m.registerMeter(counter)
	m.registry.MustRegister(metrics.GoCollector(),
		metrics.ProcessCollector())
	return m
}

// namespace prefixes the name of every family serve registers.
const namespace = "l402_"

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return m.registry.Handler()
}

// statusLabels are the upstream histogram's code label values, few
// whatever the backends answer; statusIndex picks one for a status code
// (0: no answer).
var statusLabels = [...]string{"error", "other", "2xx", "3xx", "4xx",
	"5xx"}

// statusIndex returns the index in statusLabels of a status code.
func statusIndex(code int) int {
	switch {
	case code == 0:
		return 0
	case code < 200 || code > 599:
		return 1
	}
	return code / 100
}

// reasons name the conditions a credential is refused for, both schemes'.
var reasons = []struct {
	err    error
	reason string
}{
	{l402.ErrUnknownToken, "unknown_token"},
	{l402.ErrPreimageMismatch, "wrong_preimage"},
	{l402.ErrTokenExpired, "expired"},
	{l402.ErrServiceNotAllowed, "wrong_service"},
	{l402.ErrCapabilityNotAllowed, "capability"},
	{l402.ErrResourceNotAllowed, "resource"},
	{l402.ErrCaveatWidens, "widened_caveat"},
	{l402.ErrBadSignature, "bad_signature"},
	{ErrNotSettled, "not_settled"},
	{ErrCannotVerify, "unavailable"},
	{mpp.ErrBadPreimage, "wrong_preimage"},
	{mpp.ErrExpired, "expired"},
	{mpp.ErrWrongResource, "resource"},
	{mpp.ErrUnsupported, "unsupported"},
	{mpp.ErrWrongRealm, "wrong_realm"},
	{mpp.ErrTampered, "tampered"},
	{mpp.ErrReused, "reused"},
	{mpp.ErrInsufficient, "insufficient_balance"},
	{mpp.ErrUnknownSession, "unknown_session"},
	{mpp.ErrSessionClosed, "session_closed"},
	{mpp.ErrBadReturnInvoice, "bad_return_invoice"},
}

// rejectReason names why a credential was refused, for the rejected
// counter: a small fixed set, whatever the error says.
func rejectReason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "malformed"
}
