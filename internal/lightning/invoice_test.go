package lightning

import (
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/l402/l402/internal/bolt11"
)

// TestDecodeInvoiceNetworkMatrix: a signed invoice of each network's
// prefix, in lower and upper case, decodes for its own network only
// (testnet and testnet4 share lntb); lnbcrt is never mainnet's, nor
// lntbs testnet's, though each starts with the other's prefix.
func TestDecodeInvoiceNetworkMatrix(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	sign := func(d []byte) ([]byte, error) {
		return ecdsa.SignCompact(key, d, true), nil
	}
	owners := map[string][]string{"bc": {"mainnet"},
		"tb": {"testnet", "testnet4"}, "tbs": {"signet"},
		"bcrt": {"regtest"}, "sb": {"simnet"}}
	for prefix, own := range owners {
		s, err := bolt11.Encode(bolt11.Request{Prefix: prefix,
			AmountMsat: 10_000, Timestamp: time.Unix(1_700_000_000, 0),
			PaymentHash: [32]byte{1}, PaymentSecret: [32]byte{2},
			Description: "x"}, sign)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range []string{s, strings.ToUpper(s)} {
			for _, n := range networks {
				_, err := DecodeInvoice(inv, n.name)
				mine := strings.Contains(" "+strings.Join(own, " ")+" ",
					" "+n.name+" ")
				if mine != (err == nil) {
					t.Errorf("ln%s for %s: %v", prefix, n.name, err)
				}
			}
		}
	}
}
