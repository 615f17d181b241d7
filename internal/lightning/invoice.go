package lightning

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/l402/l402/internal/bolt11"
	"github.com/l402/l402/internal/l402"
)

// networks are l402's network names with their BOLT11 prefixes, in
// the order in which the prefixes must be tried (longest first).
var networks = []struct {
	name   string
	prefix string
}{
	{"regtest", "lnbcrt"},
	{"mainnet", "lnbc"},
	{"signet", "lntbs"},
	{"testnet4", "lntb"},
	{"testnet", "lntb"},
	{"simnet", "lnsb"},
}

// CheckNetwork returns an error for a network name l402 does not know.
func CheckNetwork(network string) error {
	if _, ok := networkPrefix(network); !ok {
		return fmt.Errorf("unknown network %q (want mainnet, testnet, "+
			"testnet4, signet, regtest or simnet)", network)
	}
	return nil
}

// networkPrefix is a network's BOLT11 prefix.
func networkPrefix(network string) (string, bool) {
	for _, n := range networks {
		if n.name == network {
			return n.prefix, true
		}
	}
	return "", false
}

// InvoiceNetworks returns the networks whose BOLT11 prefix the payment
// request carries (testnet and testnet4 share one), or an error when it
// carries none. The longest prefix wins: "lnbcrt" is regtest, not mainnet.
func InvoiceNetworks(payReq string) ([]string, error) {
	s := strings.ToLower(payReq)
	best := ""
	for _, n := range networks {
		if strings.HasPrefix(s, n.prefix) && len(n.prefix) > len(best) {
			best = n.prefix
		}
	}
	if best == "" {
		return nil, errors.New("not a BOLT11 payment request (no known " +
			"ln prefix)")
	}

	var out []string
	for _, n := range networks {
		if n.prefix == best {
			out = append(out, n.name)
		}
	}
	return out, nil
}

// DecodeInvoice fully decodes a BOLT11 payment request (internal/bolt11,
// which fails where lnd's decoder fails), checking its signature and that
// it is for the given network. It reads no clock: expiry is the caller's
// to judge with PayReq.ExpiresAt.
func DecodeInvoice(payReq, network string) (PayReq, error) {
	prefix, ok := networkPrefix(network)
	if !ok {
		return PayReq{}, CheckNetwork(network)
	}

	nets, err := InvoiceNetworks(payReq)
	if err != nil {
		return PayReq{}, err
	}
	if !containsNetwork(nets, network) {
		return PayReq{}, fmt.Errorf("invoice is for %s, not %s",
			strings.Join(nets, " or "), network)
	}

	inv, err := bolt11.Decode(payReq)
	if err != nil {
		return PayReq{}, fmt.Errorf("invalid BOLT11 invoice: %w", err)
	}
	if "ln"+inv.Prefix != prefix {
		return PayReq{}, fmt.Errorf("invalid BOLT11 invoice: prefix ln%s "+
			"is not %s's", inv.Prefix, network)
	}
	out := PayReq{
		Network:       network,
		PaymentHash:   l402.Hash(inv.PaymentHash),
		Timestamp:     inv.Timestamp,
		Expiry:        inv.Expiry,
		PaymentSecret: inv.HasPaymentSecret,
		HighS:         inv.HighS,
		Destination: hex.EncodeToString(
			inv.Payee.SerializeCompressed()),
		AmountMsat: inv.AmountMsat,
	}
	var unknown []string
	for _, bit := range inv.UnknownRequired() {
		unknown = append(unknown, strconv.Itoa(bit))
	}
	out.UnknownRequired = strings.Join(unknown, ", ")
	if inv.Description != nil {
		out.Description = *inv.Description
	}
	return out, nil
}

// containsNetwork reports whether name is in list.
func containsNetwork(list []string, name string) bool {
	for _, n := range list {
		if n == name {
			return true
		}
	}
	return false
}
