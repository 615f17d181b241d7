package lightning

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/l402/l402/internal/l402"
	"github.com/lightningnetwork/lnd/zpay32"
)

// networks maps l402's network names to their chain parameters, in the
// order in which the BOLT11 prefixes must be tried (longest first).
var networks = []struct {
	name   string
	prefix string
	params *chaincfg.Params
}{
	{"regtest", "lnbcrt", &chaincfg.RegressionNetParams},
	{"mainnet", "lnbc", &chaincfg.MainNetParams},
	{"signet", "lntbs", &chaincfg.SigNetParams},
	{"testnet4", "lntb", &chaincfg.TestNet4Params},
	{"testnet", "lntb", &chaincfg.TestNet3Params},
	{"simnet", "lnsb", &chaincfg.SimNetParams},
}

// NetworkParams returns the chain parameters of a network name.
func NetworkParams(network string) (*chaincfg.Params, error) {
	for _, n := range networks {
		if n.name == network {
			return n.params, nil
		}
	}
	return nil, fmt.Errorf("unknown network %q (want mainnet, testnet, "+
		"testnet4, signet, regtest or simnet)", network)
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

// DecodeInvoice fully decodes a BOLT11 payment request with lnd's zpay32,
// checking its signature and that it is for the given network. It reads no
// clock: expiry is the caller's to judge with PayReq.ExpiresAt.
func DecodeInvoice(payReq, network string) (PayReq, error) {
	params, err := NetworkParams(network)
	if err != nil {
		return PayReq{}, err
	}

	nets, err := InvoiceNetworks(payReq)
	if err != nil {
		return PayReq{}, err
	}
	if !containsNetwork(nets, network) {
		return PayReq{}, fmt.Errorf("invoice is for %s, not %s",
			strings.Join(nets, " or "), network)
	}

	inv, err := zpay32.Decode(payReq, params)
	if err != nil {
		return PayReq{}, fmt.Errorf("invalid BOLT11 invoice: %w", err)
	}
	if inv.PaymentHash == nil {
		return PayReq{}, errors.New("invoice has no payment hash")
	}

	highS, err := signatureHighS(payReq)
	if err != nil {
		return PayReq{}, fmt.Errorf("invalid BOLT11 invoice: %w", err)
	}
	out := PayReq{
		Network:       network,
		PaymentHash:   l402.Hash(*inv.PaymentHash),
		Timestamp:     inv.Timestamp,
		Expiry:        inv.Expiry(),
		PaymentSecret: inv.PaymentAddr.IsSome(),
		HighS:         highS,
	}
	var unknown []string
	for _, bit := range inv.Features.UnknownRequiredFeatures() {
		unknown = append(unknown, strconv.Itoa(int(bit)))
	}
	out.UnknownRequired = strings.Join(unknown, ", ")
	if inv.Destination != nil {
		out.Destination = hex.EncodeToString(
			inv.Destination.SerializeCompressed())
	}
	if inv.MilliSat != nil {
		out.AmountMsat = int64(*inv.MilliSat)
	}
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

// signatureBase32Len is the length of a BOLT11 signature in 5-bit groups:
// 64 bytes of r and s and a recovery id, 520 bits.
const signatureBase32Len = 104

// signatureHighS tells whether the signature of an invoice that zpay32
// accepted is not in lower-S form (s above half the curve order), which
// zpay32 does not check and BOLT 11 says a reader MUST fail.
func signatureHighS(payReq string) (bool, error) {
	_, data, err := bech32.DecodeNoLimit(payReq)
	if err != nil {
		return false, err
	}
	if len(data) < signatureBase32Len {
		return false, errors.New("short invoice")
	}
	sig, err := bech32.ConvertBits(data[len(data)-signatureBase32Len:],
		5, 8, true)
	if err != nil {
		return false, err
	}
	var s btcec.ModNScalar
	if overflow := s.SetByteSlice(sig[32:64]); overflow {
		return false, errors.New("signature s is not below the curve " +
			"order")
	}
	return s.IsOverHalfOrder(), nil
}
