package macaroons

import (
	"testing"

	"github.com/l402/l402/internal/lightning"
)

// TestLndNeedsAreLnds checks lndNeeds against lnd's permission map.
func TestLndNeedsAreLnds(t *testing.T) {
	perms := lndPermissions(t)
	for method, need := range lndNeeds {
		got := perms[method]
		if len(got) != 1 || got[0] != need {
			t.Errorf("%s: lnd requires %v, lndNeeds says %v", method, got,
				need)
		}
	}
}

// lndAdmin are the permissions of lnd's admin.macaroon.
var lndAdmin = func() []lightning.Permission {
	var out []lightning.Permission
	for _, e := range []string{"info", "onchain", "offchain", "address",
		"message", "peers", "invoices", "signer", "macaroon"} {
		for _, a := range []string{"read", "write"} {
			out = append(out, lightning.Permission{Entity: e, Action: a})
		}
	}
	return append(out, lightning.Permission{Entity: "macaroon",
		Action: "generate"})
}()

// TestAbilitiesOf sorts the roles, lnd's own macaroons and entity-level
// ones into their kinds.
func TestAbilitiesOf(t *testing.T) {
	role := func(name string) []lightning.Permission {
		r, err := LookupRole(name)
		if err != nil {
			t.Fatal(err)
		}
		return r.Permissions()
	}
	perm := func(s ...string) []lightning.Permission {
		var out []lightning.Permission
		for i := 0; i < len(s); i += 2 {
			out = append(out, lightning.Permission{Entity: s[i],
				Action: s[i+1]})
		}
		return out
	}
	tests := []struct {
		name  string
		perms []lightning.Permission
		want  Abilities
	}{
		{"pay-only role", role("pay-only"), Abilities{Kind: KindPayOnly,
			Pay: true, ChannelBalance: true}},
		{"invoice-only role", role("invoice-only"),
			Abilities{Kind: KindInvoiceOnly, CreateInvoices: true}},
		{"read-only role", role("read-only"), Abilities{Kind: KindOther,
			ListChannels: true, ChannelBalance: true}},
		{"l402-both role", role("l402-both"), Abilities{Kind: KindOther,
			Pay: true, ChannelBalance: true, CreateInvoices: true}},
		{"admin.macaroon", lndAdmin, Abilities{Kind: KindAdmin, Pay: true,
			ListChannels: true, ChannelBalance: true, CreateInvoices: true,
			SendOnchain: true, BakeMacaroons: true}},
		{"entity-level pay-only", perm("info", "read", "offchain", "read",
			"offchain", "write"), Abilities{Kind: KindPayOnly, Pay: true,
			ListChannels: true, ChannelBalance: true}},
		{"pays without tracking", []lightning.Permission{
			lightning.URIPermission(uriGetInfo),
			lightning.URIPermission(uriSendPaymentV2)},
			Abilities{Kind: KindOther}},
		{"nothing", nil, Abilities{Kind: KindOther}},
	}
	for _, tc := range tests {
		if got := AbilitiesOf(tc.perms); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
