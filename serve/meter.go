package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/mpp"
)

// meterStage draws a paid request to a metered service on its balance
// (docs/metering.md): between the challenge stage, which prices and books
// the bundles of the 402s it mints, and the proxy. A paid request is
// admitted with a reservation against its key's balance, or answered with
// a fresh 402 at the next bundle's price; admitted, it goes to the backend
// without its Accept-Encoding (the tail must be plain text), its response
// streams through untouched while its tail is kept, and once it is done
// the backend settles the usage and releases the reservation. Every
// response says the balance in L402-Balance-Remaining. A request drawn on a
// Payment session pays its own quote from the session, and the difference
// to what it cost goes back (or is taken) once it is done.
type meterStage struct {
	chained
	backends []MeterBackend // by route index; nil: not metered
	tails    []int          // by route index: usagetailbytes

	challenge *challengeStage
	sessions  PaymentStore // the session draws; nil without sessions

	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics
}

// newMeterStage builds the meters of cfg's metered services and the stage
// that draws on them, nil when no service is metered (or with
// authenticator.disable, where every request is free). The meters are
// the challenge stage's too, which closes them.
func newMeterStage(cfg *Config, challenge *challengeStage, paidAccess bool,
	payment *paymentScheme, opts HandlerOptions,
	now func() time.Time) (*meterStage, error) {

	m := &meterStage{challenge: challenge, now: now, log: opts.Log,
		metrics: opts.Metrics}
	any := false
	expiry := cfg.InvoiceExpiry
	if expiry <= 0 {
		expiry = DefaultInvoiceExpiry
	}
	for i, sc := range cfg.Services {
		var b MeterBackend
		var err error
		switch {
		case !paidAccess || !sc.metered():
		case sc.Meter != nil:
			b, err = newBuiltinMeter(sc, opts.Meter, expiry+challengeGrace,
				now)
		case opts.DialMeter == nil:
			err = fmt.Errorf("service %q: dynamicprice.metered needs a "+
				"metered price server client", sc.Name)
		default:
			b, err = opts.DialMeter(sc)
		}
		if err != nil {
			return nil, err
		}
		challenge.meters[i] = b
		m.backends = append(m.backends, b)
		m.tails = append(m.tails, sc.usageTailBytes())
		any = any || b != nil
	}
	if !any {
		return nil, nil
	}
	if payment != nil && payment.sessions != nil {
		m.sessions = payment.store
	}
	return m, nil
}

// settleTimeout bounds a settlement, which runs after the response,
// whatever became of the client.
const settleTimeout = 30 * time.Second

// serve implements stage.
func (m *meterStage) serve(w http.ResponseWriter, r *http.Request, f *flow) {
	b := m.backends[f.route.index]
	if b == nil || f.access != paid {
		m.next.serve(w, r, f)
		return
	}
	name := f.route.cfg.Name
	key := f.grant.meter
	if key.IsZero() {
		// A credential the meter cannot key is never served
		// unmetered.
		m.log.Warn("metered request with a credential the meter cannot "+
			"key", "service", name)
		f.access = unpaid
		m.challenge.meteredChallenge(w, r, f, 0)
		return
	}
	req, err := f.meterRequest(r, name)
	if err != nil {
		msg := "unable to read the request body"
		if errors.Is(err, ErrMeterRequest) {
			msg = err.Error()
		}
		answer(w, r, http.StatusBadRequest, grpcInvalidArgument, msg)
		return
	}
	if key.Kind == MeterSession {
		m.session(w, r, f, b, req)
		return
	}

	a, err := b.Authorize(r.Context(), req, key)
	if err != nil {
		m.failed(w, r, f, "unable to authorize the metered request", err)
		return
	}
	if a.RemainingKnown {
		setBalance(w.Header(), a.RemainingMsat)
	}
	if !a.Allowed {
		m.metrics.meterRefused.WithLabelValues(name).Inc()
		m.log.Info("metered request refused", "service", name, "key",
			key.String(), "reason", a.Reason)
		f.access = unpaid
		m.challenge.meteredChallenge(w, r, f, a.NextPriceSat)
		return
	}
	if a.activated {
		m.metrics.meterActivated.WithLabelValues(name).Inc()
		m.log.Info("meter bundle activated", "service", name, "key",
			key.String(), "balance_msat", a.RemainingMsat)
	}

	call := m.proxy(w, r, f)
	m.metrics.meterInFlight.WithLabelValues(name).Inc()
	defer func() {
		m.metrics.meterInFlight.WithLabelValues(name).Dec()
		res := call.response(recover())
		ctx, cancel := context.WithTimeout(
			context.WithoutCancel(r.Context()), settleTimeout)
		defer cancel()
		st, err := b.Settle(ctx, req, key, a, res)
		if err != nil {
			m.log.Error("unable to settle a metered request: its "+
				"reservation stays held until the pruner releases it",
				"service", name, "key", key.String(), "err", err)
		} else {
			m.settled(name, key, st, res)
		}
		if call.panic != nil {
			panic(call.panic)
		}
	}()
	m.next.serve(w, call.r, f)
}

// proxy prepares a metered request for the proxy: without its
// Accept-Encoding (so that the backend's answer, and its tail, are plain
// text), and with the call whose observer keeps the response's tail.
func (m *meterStage) proxy(w http.ResponseWriter, r *http.Request,
	f *flow) *meterCall {

	r.Header.Del("Accept-Encoding")
	call := &meterCall{tailSize: m.tails[f.route.index]}
	call.r = r.WithContext(context.WithValue(r.Context(), meterCallKey{},
		call))
	return call
}

// settled records what a settlement did.
func (m *meterStage) settled(name string, key MeterKey, st Settlement,
	res *MeterResponse) {

	if st.Tokens > 0 {
		m.metrics.meterTokens.WithLabelValues(name).Add(float64(st.Tokens))
	}
	m.metrics.meterDebited.WithLabelValues(name).Add(float64(st.DebitedMsat))
	if st.UnbilledMsat > 0 {
		m.metrics.meterUnbilled.WithLabelValues(name).Add(
			float64(st.UnbilledMsat))
		m.log.Warn("a metered request cost more than its bundle held",
			"service", name, "key", key.String(), "unbilled_msat",
			st.UnbilledMsat)
	}
	if st.RemainingKnown && st.RemainingMsat == 0 &&
		(st.DebitedMsat > 0 || st.UnbilledMsat > 0) {
		m.metrics.meterExhausted.WithLabelValues(name).Inc()
		m.log.Info("meter bundle exhausted", "service", name, "key",
			key.String())
	}
	m.log.Debug("metered request settled", "service", name, "key",
		key.String(), "tokens", st.Tokens, "debited_msat", st.DebitedMsat,
		"remaining_msat", st.RemainingMsat, "bytes", res.Bytes,
		"complete", res.Complete)
}

// drawRefused answers a session request whose draw failed: a refusal
// (a short balance, a closed session) is challenged anew, anything else
// is a failure the meter cannot decide on.
func (m *meterStage) drawRefused(w http.ResponseWriter, r *http.Request,
	f *flow, err error) {

	if !isPaymentCondition(err) {
		m.failed(w, r, f, "unable to draw on the session", err)
		return
	}
	refused(m.metrics, m.log, f.route.cfg.Name, f.scheme, err)
	f.access, f.refusal = unpaid, err
	m.challenge.meteredChallenge(w, r, f, 0)
}

// failed answers a request the meter cannot decide on: 400 for a
// request it cannot meter, 503 for a backend that cannot answer; never
// the backend unmetered.
func (m *meterStage) failed(w http.ResponseWriter, r *http.Request, f *flow,
	msg string, err error) {

	if errors.Is(err, ErrMeterRequest) {
		answer(w, r, http.StatusBadRequest, grpcInvalidArgument, err.Error())
		return
	}
	m.log.Error(msg, "service", f.route.cfg.Name, "err", err)
	answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
		msg+"; try again")
}

// session meters a request drawn on a Payment session: a bearer pays the
// request's quote before it is proxied (an open paid the challenge's unit
// price when it opened the session), and the difference to what it cost
// is settled once it is done.
func (m *meterStage) session(w http.ResponseWriter, r *http.Request,
	f *flow, b MeterBackend, req *MeterRequest) {

	name := f.route.cfg.Name
	drawn := f.grant.drawn
	q, err := b.QuoteSession(r.Context(), req)
	if err == nil && q.UnitPriceSat <= 0 {
		err = errors.New("the meter quoted no price")
	}
	if err != nil {
		m.failed(w, r, f, "unable to price the session request", err)
		return
	}
	if f.grant.drawAt == nil {
		// An open drew its challenge's unit price, which priced the
		// request that got the 402, not this one: the rest of this
		// one's quote is drawn too.
		left := f.grant.left
		if extra := q.UnitPriceSat - drawn; extra > 0 &&
			f.grant.drawMore != nil {
			balance, err := f.grant.drawMore(r.Context(), extra)
			if err != nil {
				m.drawRefused(w, r, f, err)
				return
			}
			drawn, left = q.UnitPriceSat, balance
		}
		setBalance(w.Header(), left*1000)
	} else {
		done, balance, err := f.grant.drawAt(r.Context(), q.UnitPriceSat)
		if err != nil {
			m.drawRefused(w, r, f, err)
			return
		}
		f.receipt, drawn = done.receipt, q.UnitPriceSat
		setBalance(w.Header(), balance*1000)
	}

	call := m.proxy(w, r, f)
	defer func() {
		res := call.response(recover())
		ctx, cancel := context.WithTimeout(
			context.WithoutCancel(r.Context()), settleTimeout)
		defer cancel()
		id := f.grant.meter.ID
		cost, err := b.SettleSession(ctx, req, id, drawn, res)
		if err == nil && m.sessions != nil {
			_, err = m.sessions.SettleSessionDraw(ctx, id, name, drawn, cost)
		}
		if err != nil {
			m.log.Error("unable to settle a metered session request: it "+
				"stays charged its quote", "service", name, "session",
				f.grant.meter.Hex(), "err", err)
		} else {
			m.metrics.meterDebited.WithLabelValues(name).Add(
				float64(cost * 1000))
		}
		if call.panic != nil {
			panic(call.panic)
		}
	}()
	m.next.serve(w, call.r, f)
}

// setBalance puts a balance on a response's header.
func setBalance(h http.Header, msat int64) {
	h[HeaderBalanceRemaining] = []string{strconv.FormatInt(msat, 10)}
}

// meterCallKey carries a metered request's call to the proxy's response
// hook, which hands it the backend's response.
type meterCallKey struct{}

// meterCall is one metered request on its way through the proxy: the
// backend's response as it streams to the client.
type meterCall struct {
	r        *http.Request
	tailSize int

	// res is what was seen of the response; body the observer of its
	// body, nil until the backend answered.
	res  MeterResponse
	body *tailBody

	// panic is the proxy's abort (http.ErrAbortHandler, on a stream
	// broken off), passed on once settled.
	panic any
}

// observe is the proxy's response hook for a metered request: it keeps
// the response's status and encoding, and its body's tail as it streams.
func (c *meterCall) observe(res *http.Response) {
	c.res.Status = res.StatusCode
	c.res.ContentType = res.Header.Get("Content-Type")
	c.res.ContentEncoding = res.Header.Get("Content-Encoding")
	if res.StatusCode == http.StatusSwitchingProtocols {
		return
	}
	c.body = &tailBody{ReadCloser: res.Body, tail: newTail(c.tailSize)}
	res.Body = c.body
}

// response returns what was seen of the response once the proxy is done;
// recovered is its panic, if it aborted.
func (c *meterCall) response(recovered any) *MeterResponse {
	c.panic = recovered
	if c.body != nil {
		c.res.Tail, c.res.Bytes = c.body.tail.bytes(), c.body.n
		c.res.Complete = c.body.eof && recovered == nil
	}
	return &c.res
}

// tailBody is a response body that keeps its last bytes as they are read.
type tailBody struct {
	io.ReadCloser
	tail *tail
	n    int64
	eof  bool
}

// Read implements io.Reader.
func (b *tailBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.tail.write(p[:n])
		b.n += int64(n)
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// tail keeps the last size bytes written to it, in a ring.
type tail struct {
	buf  []byte
	size int
	pos  int
	full bool
}

// newTail returns a tail of size bytes; its buffer grows as bytes come,
// so that a short response does not cost the whole size.
func newTail(size int) *tail { return &tail{size: size} }

// write keeps p's bytes, dropping the oldest beyond the size.
func (t *tail) write(p []byte) {
	if len(p) >= t.size {
		t.buf = append(t.buf[:0], p[len(p)-t.size:]...)
		t.pos, t.full = 0, true
		return
	}
	if !t.full {
		if len(t.buf)+len(p) <= t.size {
			t.buf = append(t.buf, p...)
			return
		}
		// The ring is full from now on.
		grown := make([]byte, t.size)
		copy(grown, t.buf)
		n := copy(grown[len(t.buf):], p)
		copy(grown, p[n:])
		t.buf, t.pos, t.full = grown, len(p)-n, true
		return
	}
	n := copy(t.buf[t.pos:], p)
	copy(t.buf, p[n:])
	t.pos = (t.pos + len(p)) % t.size
}

// bytes returns the kept bytes, oldest first.
func (t *tail) bytes() []byte {
	if !t.full {
		return t.buf
	}
	out := make([]byte, 0, t.size)
	out = append(out, t.buf[t.pos:]...)
	return append(out, t.buf[:t.pos]...)
}

// meterRequest returns what the meter sees of the request, reading the
// head of its body once (the rest is still proxied).
func (f *flow) meterRequest(r *http.Request, service string) (*MeterRequest,
	error) {

	if f.meter != nil {
		return f.meter, nil
	}
	req := &MeterRequest{Service: service, HTTP: r}
	if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" &&
		!strings.EqualFold(enc, "identity") {
		// A backend that inflates it would run the model it names,
		// which the meter cannot read.
		return nil, fmt.Errorf("%w: a request body of Content-Encoding "+
			"%q", ErrMeterRequest, truncateName(enc))
	}
	var whole []byte
	if r.Body != nil && r.Body != http.NoBody {
		// The whole body: the backend reads its last "model" (and
		// honours the largest output bound), wherever it stands; a
		// prefix would let a long prompt hide them.
		orig := r.Body
		var err error
		whole, err = io.ReadAll(io.LimitReader(orig, MeterMaxBodyBytes+1))
		if err != nil {
			return nil, err
		}
		if len(whole) > MeterMaxBodyBytes {
			orig.Close()
			return nil, fmt.Errorf("%w: a request body over %d MiB",
				ErrMeterRequest, MeterMaxBodyBytes>>20)
		}
		r.Body = &replayBody{Reader: bytes.NewReader(whole), closer: orig}
		req.Truncated = len(whole) > MeterBodyBytes
		req.Body = whole[:min(len(whole), MeterBodyBytes)]
	}
	req.Model, req.MaxTokens = modelOf(whole)
	f.meter = req
	return req, nil
}

// replayBody is a request body whose head was read: it reads it again,
// then the rest.
type replayBody struct {
	io.Reader
	closer io.Closer
}

// Close implements io.Closer.
func (b *replayBody) Close() error { return b.closer.Close() }

// modelOf reads the model and the output bound (max_tokens, or
// max_completion_tokens or max_output_tokens) a JSON request body names
// at its top level; a body cut at MeterBodyBytes is read as far as it
// goes.
func modelOf(body []byte) (string, int64) {
	// A byte order mark, which some backends' decoders skip.
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return "", 0
	}
	var (
		model string
		limit int64
	)
	for d.More() {
		t, err := d.Token()
		if err != nil {
			break
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			break
		}
		switch name {
		case "model":
			_ = json.Unmarshal(v, &model)
		case "max_tokens", "max_completion_tokens", "max_output_tokens":
			limit = max(limit, outputBound(v))
		}
	}
	return model, limit
}

// outputBound reads one output bound of a request body: a positive whole
// number (100.0 too, which a lax backend reads as 100), 0 for anything
// else (the estimate then stands), and maxUsageTokens+1 for one beyond
// any count, which reserves more than any bundle holds. The largest of a
// body's bounds counts: backends honour different ones (max_completion_
// tokens over max_tokens), and a JSON decoder the last of a duplicated
// key; the smallest would let a body reserve one token for a stream the
// backend runs to the largest.
func outputBound(v json.RawMessage) int64 {
	var n json.Number
	if json.Unmarshal(v, &n) != nil {
		return 0
	}
	if i, err := n.Int64(); err == nil {
		return min(max(i, 0), maxUsageTokens+1)
	}
	f, err := n.Float64()
	switch {
	case f >= maxUsageTokens+1 || (err != nil && f > 0):
		return maxUsageTokens + 1
	case err != nil || f <= 0 || f != math.Trunc(f):
		return 0
	}
	return int64(f)
}

// meteredChallenge answers an unpaid request (or one its balance refused)
// to a metered service with a 402 for a bundle of priceSat (0: the
// meter's quote), after booking the bundle under every key the 402
// minted: a 402 whose bundle could not be booked is never sent.
func (s *challengeStage) meteredChallenge(w http.ResponseWriter,
	r *http.Request, f *flow, priceSat int64) {

	b := s.meters[f.route.index]
	name := f.route.cfg.Name
	req, err := f.meterRequest(r, name)
	if err != nil {
		msg := "unable to read the request body"
		if errors.Is(err, ErrMeterRequest) {
			msg = err.Error()
		}
		answer(w, r, http.StatusBadRequest, grpcInvalidArgument, msg)
		return
	}
	fail := func(msg string, err error) {
		if errors.Is(err, ErrMeterRequest) {
			answer(w, r, http.StatusBadRequest, grpcInvalidArgument,
				err.Error())
			return
		}
		s.log.Error(msg, "service", name, "err", err)
		s.metrics.challengeErrors.WithLabelValues(name).Inc()
		answer(w, r, http.StatusServiceUnavailable, grpcUnavailable,
			msg+"; try again")
	}
	if priceSat <= 0 {
		if priceSat, err = b.Quote(r.Context(), req); err == nil &&
			priceSat <= 0 {
			err = errors.New("the meter quoted no price")
		}
		if err != nil {
			fail("unable to price the bundle", err)
			return
		}
	}
	offer := s.offers[f.route.index]
	offer.PriceSat = priceSat
	if s.sessions[f.route.index] {
		q, err := b.QuoteSession(r.Context(), req)
		if err == nil && q.UnitPriceSat <= 0 {
			err = errors.New("the meter quoted no session price")
		}
		if err != nil {
			fail("unable to price a session request", err)
			return
		}
		offer.SessionPriceSat, offer.SessionDepositSat = q.UnitPriceSat,
			q.DepositSat
	}
	values, err := s.challenges(r.Context(), f, offer)
	if err != nil {
		fail("unable to issue a payment request", err)
		return
	}
	keys, err := mintedKeys(values)
	if err == nil && len(keys) == 0 {
		err = errors.New("the challenge names no token")
	}
	for _, k := range keys {
		if err != nil {
			break
		}
		err = b.Book(r.Context(), req, k, priceSat)
	}
	if err != nil {
		fail("unable to book the bundle", err)
		return
	}
	s.metrics.meterBooked.WithLabelValues(name).Add(float64(len(keys)))
	s.send(w, r, f, values)
}

// mintedKeys returns the keys of the bundles a 402's challenges sell: the
// token ID of its L402 token (its LSAT and L402 values are one token), and
// the payment hash of its Payment charge.
func mintedKeys(values []string) ([]MeterKey, error) {
	var keys []MeterKey
	seen := map[MeterKey]bool{}
	add := func(k MeterKey) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	var l402s, payments []string
	for _, v := range values {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		if strings.EqualFold(scheme, mpp.Scheme) {
			payments = append(payments, v)
		} else {
			l402s = append(l402s, v)
		}
	}
	if len(l402s) > 0 {
		chs, err := l402.ParseChallenges(l402s)
		if err != nil {
			return nil, fmt.Errorf("unable to read the minted token: %w",
				err)
		}
		for _, c := range chs {
			add(MeterKey{Kind: MeterToken, ID: [32]byte(c.Identifier.TokenID)})
		}
	}
	if len(payments) > 0 {
		chs, err := mpp.ParseChallenges(payments)
		if err != nil {
			return nil, fmt.Errorf("unable to read the minted charge: %w",
				err)
		}
		for _, c := range chs {
			if c.Intent != mpp.IntentCharge {
				continue
			}
			req, err := mpp.DecodeChargeRequest(c.Request)
			if err != nil {
				return nil, err
			}
			hash, ok, err := req.PaymentHash()
			if err != nil || !ok {
				return nil, fmt.Errorf("the minted charge names no "+
					"payment hash: %v", err)
			}
			add(MeterKey{Kind: MeterPayment, ID: [32]byte(hash)})
		}
	}
	return keys, nil
}
