package macaroons

import "github.com/l402/l402/internal/lightning"

// The lnd methods Abilities asks about beyond the roles' own.
const (
	uriSendCoins    = "/lnrpc.Lightning/SendCoins"
	uriBakeMacaroon = "/lnrpc.Lightning/BakeMacaroon"
)

// lndNeeds is the one permission lnd v0.21 requires of each method
// Abilities asks about (rpcserver.go's MainRPCServerPermissions and
// routerrpc's macPermissions); TestLndNeedsAreLnds keeps it so. A
// macaroon may call a method with that permission or the method's own
// uri: one.
var lndNeeds = map[string]lightning.Permission{
	uriGetInfo:        {Entity: "info", Action: "read"},
	uriSendPaymentV2:  {Entity: "offchain", Action: "write"},
	uriTrackPaymentV2: {Entity: "offchain", Action: "read"},
	uriListChannels:   {Entity: "offchain", Action: "read"},
	uriChannelBalance: {Entity: "offchain", Action: "read"},
	uriAddInvoice:     {Entity: "invoices", Action: "write"},
	uriSendCoins:      {Entity: "onchain", Action: "write"},
	uriBakeMacaroon:   {Entity: "macaroon", Action: "generate"},
}

// The kinds Abilities sorts a macaroon into.
const (
	KindPayOnly     = "pay-only"
	KindInvoiceOnly = "invoice-only"
	KindAdmin       = "admin"
	KindOther       = "other"
)

// Abilities is what a macaroon's permissions let its holder do, of what
// matters to a buyer; its JSON field names are stable for agents.
type Abilities struct {
	// Kind is pay-only (it pays, and creates no invoices and moves no
	// on-chain funds), invoice-only (the reverse), admin (it can bake
	// any macaroon, as lnd's admin.macaroon can), or other.
	Kind string `json:"kind"`

	// Pay: every call fetch makes to pay (GetInfo, SendPaymentV2,
	// TrackPaymentV2).
	Pay bool `json:"can_pay"`

	// ListChannels and ChannelBalance: the calls that read the
	// outbound liquidity.
	ListChannels   bool `json:"can_list_channels"`
	ChannelBalance bool `json:"can_read_channel_balance"`

	CreateInvoices bool `json:"can_create_invoices"`
	SendOnchain    bool `json:"can_send_onchain"`
	BakeMacaroons  bool `json:"can_bake_macaroons"`
}

// AbilitiesOf reads what perms, the permissions of an lnd macaroon's id,
// let it do.
func AbilitiesOf(perms []lightning.Permission) Abilities {
	a := Abilities{
		Pay: Grants(perms, uriGetInfo) && Grants(perms, uriSendPaymentV2) &&
			Grants(perms, uriTrackPaymentV2),
		ListChannels:   Grants(perms, uriListChannels),
		ChannelBalance: Grants(perms, uriChannelBalance),
		CreateInvoices: Grants(perms, uriAddInvoice),
		SendOnchain:    Grants(perms, uriSendCoins),
		BakeMacaroons:  Grants(perms, uriBakeMacaroon),
	}
	switch {
	case a.BakeMacaroons:
		a.Kind = KindAdmin
	case a.Pay && !a.CreateInvoices && !a.SendOnchain:
		a.Kind = KindPayOnly
	case a.CreateInvoices && !a.Pay && !a.SendOnchain:
		a.Kind = KindInvoiceOnly
	default:
		a.Kind = KindOther
	}
	return a
}

// Grants reports whether perms let a macaroon call method, one of those
// lndNeeds names: by its uri: permission, or by the entity:action lnd
// requires of it.
func Grants(perms []lightning.Permission, method string) bool {
	need, known := lndNeeds[method]
	for _, p := range perms {
		if p == lightning.URIPermission(method) || known && p == need {
			return true
		}
	}
	return false
}
