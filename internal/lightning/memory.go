package lightning

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/l402/l402/internal/bolt11"
	"github.com/l402/l402/internal/l402"
)

// DefaultInvoiceExpiry is the expiry of an invoice that names none, as in
// lnd.
const DefaultInvoiceExpiry = 24 * time.Hour

// MemoryNetwork joins in-memory nodes so that each can pay the others'
// invoices. It is for fast unit tests: invoices are real BOLT11, signed by
// each node's key and decoded with internal/bolt11, and preimages are
// real, but no chain or channel exists.
type MemoryNetwork struct {
	mu    sync.Mutex
	nodes map[string]*MemoryNode // by hex pubkey
}

// NewMemoryNetwork returns an empty network.
func NewMemoryNetwork() *MemoryNetwork {
	return &MemoryNetwork{nodes: map[string]*MemoryNode{}}
}

// PayOutcome decides what happens to one payment of a memory node.
type PayOutcome struct {
	// FeeMsat is the routing fee the payment costs.
	FeeMsat int64

	// FailureReason, when set, fails the payment with that reason (lnd's
	// names, such as FAILURE_REASON_NO_ROUTE).
	FailureReason string

	// Hold keeps the payment in flight until Release is called.
	Hold bool

	// Refuse, when set, refuses the payment before it is started, with
	// that message, as lnd's SendPaymentV2 refuses an invoice it will
	// not pay (an AMP invoice without the AMP flag, a final CLTV delta
	// beyond its limit): Pay returns ErrPaymentNotStarted and the node
	// keeps no record of the payment.
	Refuse string
}

// MemoryNode is an in-memory Node on a MemoryNetwork.
type MemoryNode struct {
	net     *MemoryNetwork
	alias   string
	network string
	key     *btcec.PrivateKey
	pubkey  string

	mu       sync.Mutex
	now      func() time.Time
	payHook  func(PayReq) PayOutcome
	invoices map[l402.Hash]*memInvoice
	payments map[l402.Hash]*memPayment

	// added lists the invoices in the order added (add index i+1), and
	// subs are the invoice subscriptions (memory_invoices.go).
	added []*memInvoice
	subs  map[*memSub]bool

	channels []Channel
	denied   map[string]bool // calls refused as for a macaroon
	unsynced bool
}

// DefaultMemoryChannel is the one channel a memory node lists unless
// SetChannels says otherwise: a memory node pays without channels, and
// this one says that it can.
var DefaultMemoryChannel = Channel{ChanID: 1, ChannelPoint: "memory:0",
	Active: true, CapacitySat: 10_000_000, LocalBalanceSat: 10_000_000,
	LocalReserveSat: 100_000}

// memInvoice is an invoice a memory node issued, with its preimage.
type memInvoice struct {
	Invoice
	preimage l402.Preimage
}

// memPayment is a payment a memory node made; done is closed once it is
// final.
type memPayment struct {
	Payment
	req  PayReq
	done chan struct{}

	held      bool // kept in flight until Release
	finishing bool // claimed by one finish call
}

// MemoryNode must implement Node.
var _ Node = (*MemoryNode)(nil)

// NewNode adds a node on the given network (regtest in most tests; another
// one to issue invoices a regtest payer must refuse).
func (n *MemoryNetwork) NewNode(alias, network string) (*MemoryNode, error) {
	if err := CheckNetwork(network); err != nil {
		return nil, err
	}
	key, err := btcec.NewPrivateKey()
	if err != nil {
		return nil, err
	}
	node := &MemoryNode{
		net:      n,
		alias:    alias,
		network:  network,
		key:      key,
		pubkey:   hex.EncodeToString(key.PubKey().SerializeCompressed()),
		now:      time.Now,
		invoices: map[l402.Hash]*memInvoice{},
		payments: map[l402.Hash]*memPayment{},
		subs:     map[*memSub]bool{},
		channels: []Channel{DefaultMemoryChannel},
		denied:   map[string]bool{},
	}

	n.mu.Lock()
	n.nodes[node.pubkey] = node
	n.mu.Unlock()
	return node, nil
}

// node returns the node with the given pubkey.
func (n *MemoryNetwork) node(pubkey string) *MemoryNode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[pubkey]
}

// SetClock replaces the node's clock, for expiry tests.
func (m *MemoryNode) SetClock(now func() time.Time) {
	m.mu.Lock()
	m.now = now
	m.mu.Unlock()
}

// SetPayHook decides the outcome of the node's next payments; nil restores
// the default of success at no fee.
func (m *MemoryNode) SetPayHook(hook func(PayReq) PayOutcome) {
	m.mu.Lock()
	m.payHook = hook
	m.mu.Unlock()
}

// SetChannels replaces the channels ListChannels and ChannelBalance
// report (payments do not use them).
func (m *MemoryNode) SetChannels(chs []Channel) {
	m.mu.Lock()
	m.channels = append([]Channel(nil), chs...)
	m.mu.Unlock()
}

// Deny makes the named calls ("ListChannels", "ChannelBalance", "Info",
// "AddInvoice") fail with ErrPermissionDenied, as lnd refuses a macaroon without their
// permission.
func (m *MemoryNode) Deny(calls ...string) {
	m.mu.Lock()
	for _, c := range calls {
		m.denied[c] = true
	}
	m.mu.Unlock()
}

// SetSynced sets what Info says of the node's sync to the chain.
func (m *MemoryNode) SetSynced(synced bool) {
	m.mu.Lock()
	m.unsynced = !synced
	m.mu.Unlock()
}

// refused returns the error of a denied call, or nil.
func (m *MemoryNode) refused(call string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.denied[call] {
		return m.fail(call, fmt.Errorf("%w: %s", ErrPermissionDenied,
			"permission denied"))
	}
	return nil
}

// Network returns the network the node is on, to add nodes it can pay.
func (m *MemoryNode) Network() *MemoryNetwork { return m.net }

// Pubkey returns the node's hex public key.
func (m *MemoryNode) Pubkey() string { return m.pubkey }

// fail wraps an error with the node and the call.
func (m *MemoryNode) fail(call string, err error) error {
	return &CallError{Node: m.alias, Call: call, Err: err}
}

// AddInvoice implements Node: a real BOLT11 invoice signed with the node's
// key, with a random preimage and payment address.
func (m *MemoryNode) AddInvoice(_ context.Context, req InvoiceRequest) (
	Invoice, error) {

	if err := m.refused("AddInvoice"); err != nil {
		return Invoice{}, err
	}
	if req.AmountSat < 0 {
		return Invoice{}, m.fail("AddInvoice", errors.New("negative amount"))
	}
	expiry := req.Expiry
	if expiry <= 0 {
		expiry = DefaultInvoiceExpiry
	}

	var preimage l402.Preimage
	var addr [32]byte
	if _, err := rand.Read(preimage[:]); err != nil {
		return Invoice{}, m.fail("AddInvoice", err)
	}
	if _, err := rand.Read(addr[:]); err != nil {
		return Invoice{}, m.fail("AddInvoice", err)
	}
	hash := preimage.Hash()
	prefix, _ := networkPrefix(m.network)

	m.mu.Lock()
	now := m.now()
	m.mu.Unlock()

	payReq, err := bolt11.Encode(bolt11.Request{
		Prefix:        strings.TrimPrefix(prefix, "ln"),
		AmountMsat:    req.AmountSat * 1000,
		Timestamp:     now,
		PaymentHash:   hash,
		PaymentSecret: addr,
		Description:   req.Memo,
		Expiry:        expiry,
		MinFinalCLTV:  40,
	}, func(digest []byte) ([]byte, error) {
		return ecdsa.SignCompact(m.key, digest, true), nil
	})
	if err != nil {
		return Invoice{}, m.fail("AddInvoice", err)
	}

	out := Invoice{
		PaymentRequest: payReq,
		PaymentHash:    hash,
		AmountSat:      req.AmountSat,
		Memo:           req.Memo,
		State:          InvoiceOpen,
		CreatedAt:      time.Unix(now.Unix(), 0),
		Expiry:         expiry,
	}
	m.mu.Lock()
	out.AddIndex = uint64(len(m.added) + 1)
	mi := &memInvoice{Invoice: out, preimage: preimage}
	m.invoices[hash] = mi
	m.added = append(m.added, mi)
	m.notify(mi.Invoice)
	m.mu.Unlock()
	return out, nil
}

// LookupInvoice implements Node. An open invoice past its expiry is
// reported canceled, as lnd does.
func (m *MemoryNode) LookupInvoice(_ context.Context, hash l402.Hash) (
	Invoice, error) {

	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invoices[hash]
	if !ok {
		return Invoice{}, m.fail("LookupInvoice", ErrInvoiceNotFound)
	}
	if inv.State == InvoiceOpen &&
		m.now().After(inv.CreatedAt.Add(inv.Expiry)) {
		inv.State = InvoiceCanceled
	}
	return inv.Invoice, nil
}

// DecodePayReq implements Node with a full BOLT11 decode for the node's
// network.
func (m *MemoryNode) DecodePayReq(_ context.Context, payReq string) (PayReq,
	error) {

	req, err := DecodeInvoice(payReq, m.network)
	if err != nil {
		return PayReq{}, m.fail("DecodePayReq", err)
	}
	return req, nil
}

// Pay implements Node: it settles the payee's invoice on the same network
// when the amount and the invoice are right, as a one-hop payment would.
// What lnd refuses before it creates the payment (an invoice it cannot
// decode, without an amount or expired, a payment to itself, a hook's
// Refuse) is ErrPaymentNotStarted, with no payment recorded.
func (m *MemoryNode) Pay(ctx context.Context, req PayRequest) (Payment,
	error) {

	const call = "SendPaymentV2"
	notStarted := func(err error) (Payment, error) {
		return Payment{}, m.fail(call, fmt.Errorf("%w: %w",
			ErrPaymentNotStarted, err))
	}
	pr, err := DecodeInvoice(req.PaymentRequest, m.network)
	if err != nil {
		return notStarted(err)
	}
	switch {
	case pr.AmountMsat == 0 && req.AmountSat <= 0:
		return notStarted(errors.New("amount must be specified when " +
			"paying a zero amount invoice"))
	case pr.AmountMsat != 0 && req.AmountSat != 0:
		return notStarted(errors.New("amount must not be specified " +
			"when paying a non-zero amount invoice"))
	case pr.AmountMsat == 0:
		// The payment carries the payer's amount, as lnd's does.
		pr.AmountMsat = req.AmountSat * 1000
	}
	if pr.Destination == m.pubkey {
		return notStarted(errors.New("self-payments not allowed"))
	}
	m.mu.Lock()
	expired := m.now().After(pr.ExpiresAt())
	hook := m.payHook
	m.mu.Unlock()
	if expired {
		return notStarted(errors.New("invoice expired"))
	}

	// The hook runs without the lock, so that it may use the node.
	outcome := PayOutcome{}
	if hook != nil {
		outcome = hook(pr)
	}
	if outcome.Refuse != "" {
		return notStarted(errors.New(outcome.Refuse))
	}

	m.mu.Lock()
	if prev, ok := m.payments[pr.PaymentHash]; ok {
		switch prev.Status {
		case PaymentSucceeded:
			m.mu.Unlock()
			return Payment{}, m.fail(call, ErrAlreadyPaid)
		case PaymentInFlight:
			m.mu.Unlock()
			return Payment{}, m.fail(call, ErrPaymentInFlight)
		}
	}
	p := &memPayment{
		Payment: Payment{
			PaymentHash: pr.PaymentHash,
			Status:      PaymentInFlight,
			ValueMsat:   pr.AmountMsat,
		},
		req:  pr,
		done: make(chan struct{}),
	}
	m.payments[pr.PaymentHash] = p
	m.mu.Unlock()

	if outcome.FailureReason == "" && outcome.FeeMsat > req.MaxFeeSat*1000 {
		outcome.FailureReason = "FAILURE_REASON_NO_ROUTE"
	}
	if outcome.Hold {
		m.mu.Lock()
		p.held = true
		m.mu.Unlock()
	} else {
		m.finish(p, outcome)
	}

	// Like the lnd backend, stop waiting for a payment still in flight
	// once its timeout has passed; it stays in flight.
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return m.snapshot(p), m.fail(call, ctx.Err())
	}
	got := m.snapshot(p)
	if got.Status == PaymentFailed {
		return got, m.fail(call, fmt.Errorf("%w: %s", ErrPaymentFailed,
			got.FailureReason))
	}
	return got, nil
}

// Release ends a payment held by a PayOutcome with Hold, with the outcome
// given (Hold is ignored). It reports whether such a payment was held.
func (m *MemoryNode) Release(hash l402.Hash, outcome PayOutcome) bool {
	m.mu.Lock()
	p, ok := m.payments[hash]
	held := ok && p.held && p.Status == PaymentInFlight && !p.finishing
	m.mu.Unlock()
	if !held {
		return false
	}
	return m.finish(p, outcome)
}

// finish settles or fails a payment and wakes those waiting on it. Only
// the first call for a payment acts; it reports whether this one did.
func (m *MemoryNode) finish(p *memPayment, outcome PayOutcome) bool {
	m.mu.Lock()
	if p.Status != PaymentInFlight || p.finishing {
		m.mu.Unlock()
		return false
	}
	p.finishing = true
	m.mu.Unlock()

	reason := outcome.FailureReason
	var preimage l402.Preimage
	if reason == "" {
		preimage, reason = m.settleAtPayee(p.req)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if reason != "" {
		p.Status, p.FailureReason = PaymentFailed, reason
	} else {
		p.Status, p.Preimage, p.FeeMsat = PaymentSucceeded, preimage,
			outcome.FeeMsat
	}
	close(p.done)
	return true
}

// settleAtPayee settles the payee's invoice, or returns the failure
// reason lnd would report.
func (m *MemoryNode) settleAtPayee(pr PayReq) (l402.Preimage, string) {
	payee := m.net.node(pr.Destination)
	if payee == nil {
		return l402.Preimage{}, "FAILURE_REASON_NO_ROUTE"
	}

	payee.mu.Lock()
	defer payee.mu.Unlock()
	inv, ok := payee.invoices[pr.PaymentHash]
	switch {
	case !ok, inv.State != InvoiceOpen,
		pr.AmountMsat < inv.AmountSat*1000,
		payee.now().After(inv.CreatedAt.Add(inv.Expiry)):
		return l402.Preimage{},
			"FAILURE_REASON_INCORRECT_PAYMENT_DETAILS"
	}
	inv.State = InvoiceSettled
	inv.AmountPaidMsat = pr.AmountMsat
	inv.SettledAt = payee.now()
	payee.notify(inv.Invoice)
	return inv.preimage, ""
}

// snapshot copies a payment's current state.
func (m *MemoryNode) snapshot(p *memPayment) Payment {
	m.mu.Lock()
	defer m.mu.Unlock()
	return p.Payment
}

// TrackPayment implements Node.
func (m *MemoryNode) TrackPayment(ctx context.Context, hash l402.Hash) (
	Payment, error) {

	m.mu.Lock()
	p, ok := m.payments[hash]
	m.mu.Unlock()
	if !ok {
		return Payment{}, m.fail("TrackPaymentV2", ErrPaymentNotFound)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
	}
	return m.snapshot(p), nil
}

// Info implements Node.
func (m *MemoryNode) Info(context.Context) (Info, error) {
	if err := m.refused("Info"); err != nil {
		return Info{}, err
	}
	m.mu.Lock()
	synced := !m.unsynced
	m.mu.Unlock()
	return Info{
		Pubkey:  m.pubkey,
		Alias:   m.alias,
		Network: m.network,
		Synced:  synced,
		Version: "memory",
	}, nil
}

// ListChannels implements Node: the channels SetChannels set, by default
// DefaultMemoryChannel.
func (m *MemoryNode) ListChannels(context.Context) ([]Channel, error) {
	if err := m.refused("ListChannels"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Channel{}, m.channels...), nil
}

// ChannelBalance implements Node: the channels' balances summed.
func (m *MemoryNode) ChannelBalance(context.Context) (ChannelBalance, error) {
	if err := m.refused("ChannelBalance"); err != nil {
		return ChannelBalance{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var b ChannelBalance
	for _, c := range m.channels {
		b.LocalMsat += c.LocalBalanceSat * 1000
		b.RemoteMsat += c.RemoteBalanceSat * 1000
	}
	return b, nil
}

// Close implements Node.
func (m *MemoryNode) Close() error { return nil }
