package serve

import (
	"net"
	"net/http"
)

// stage is one link of the Handler's chain. It answers the request itself
// (a refusal, a challenge, the backend's response), or records what it
// learned in f and hands the request to the next stage. Each stage is
// built once from the config, so that a bad config fails at start (or
// at a reload, which then keeps the old handler).
type stage interface {
	serve(w http.ResponseWriter, r *http.Request, f *flow)
}

// chained is the link to the next stage, embedded by every stage but the
// last.
type chained struct {
	next stage
}

// setNext sets the stage the request goes to once this one is done.
func (c *chained) setNext(s stage) { c.next = s }

// linker is a stage with a next one.
type linker interface {
	stage
	setNext(stage)
}

// link chains stages in the order given, last at the end, and returns the
// first.
func link(last stage, stages ...linker) stage {
	next := last
	for i := len(stages) - 1; i >= 0; i-- {
		stages[i].setNext(next)
		next = stages[i]
	}
	return next
}

// access is how far a request has earned its way to the backend.
type access uint8

const (
	// unpaid requests have no valid credential yet: they are rate
	// limited per client and answered with a challenge.
	unpaid access = iota

	// free requests need no token (authentication off or disabled, a
	// whitelisted path, a zero dynamic price); they are rate limited
	// per client.
	free

	// freebie requests are one of the client's free requests ("auth:
	// freebie N"); like free ones, they are rate limited per client.
	freebie

	// paid requests carry a valid credential; they are rate limited per
	// token.
	paid
)

// flow is what the stages learn about one request, handed from each to
// the next: one small value per request instead of arguments threaded
// through a long function. A stage only reads the fields the stages
// before it set.
type flow struct {
	// ip is the client's address (filter), key its clientKey, made
	// when a stage first needs it.
	ip  net.IP
	key string

	// route is the service the request is for (match).
	route *route

	// access is how the request may pass, and freeReason the metrics
	// label of a free one (authenticate, challenge).
	access     access
	freeReason string

	// grant is what the scheme learned from a valid credential, and
	// scheme the one that verified it (authenticate).
	grant  Grant
	scheme Scheme

	// refusal is why a credential was refused (authenticate, or its
	// commit in challenge), for the Payment scheme's problem body; receipt
	// is the Payment-Receipt of a committed one (challenge).
	refusal error
	receipt string

	// meter is what the meter saw of the request (the head of its body,
	// read once), on a metered service (challenge, meter).
	meter *MeterRequest
}

// clientKey is the key the client's limits and freebies are counted by.
func (f *flow) clientKey() string {
	if f.key == "" {
		f.key = clientKey(f.ip)
	}
	return f.key
}

// limitKey is the key the rate limits count the request by: its token
// once paid, its client otherwise.
func (f *flow) limitKey() string {
	if f.access == paid {
		return f.grant.Key
	}
	return "ip:" + f.clientKey()
}

// pass lets the request through without a token, for reason.
func (f *flow) pass(a access, reason string) {
	f.access, f.freeReason = a, reason
}
