package macaroons

import (
	"fmt"
	"sort"
	"strings"

	"github.com/l402/l402/internal/lightning"
)

// The lnd methods the roles grant, by their full gRPC names. Each one is a
// key of lnd v0.21's permission maps (rpcserver.go's
// MainRPCServerPermissions, routerrpc's, verrpc's and signrpc's
// macPermissions), which BakeMacaroon checks uri: permissions against;
// TestRoleURIsAreLnds keeps it so.
const (
	uriGetInfo           = "/lnrpc.Lightning/GetInfo"
	uriGetVersion        = "/verrpc.Versioner/GetVersion"
	uriAddInvoice        = "/lnrpc.Lightning/AddInvoice"
	uriLookupInvoice     = "/lnrpc.Lightning/LookupInvoice"
	uriListInvoices      = "/lnrpc.Lightning/ListInvoices"
	uriSubscribeInvoices = "/lnrpc.Lightning/SubscribeInvoices"
	uriDecodePayReq      = "/lnrpc.Lightning/DecodePayReq"
	uriSendPaymentV2     = "/routerrpc.Router/SendPaymentV2"
	uriTrackPaymentV2    = "/routerrpc.Router/TrackPaymentV2"
	uriChannelBalance    = "/lnrpc.Lightning/ChannelBalance"
	uriWalletBalance     = "/lnrpc.Lightning/WalletBalance"
	uriListChannels      = "/lnrpc.Lightning/ListChannels"
	uriPendingChannels   = "/lnrpc.Lightning/PendingChannels"
	uriListPayments      = "/lnrpc.Lightning/ListPayments"

	uriOpenChannelSync     = "/lnrpc.Lightning/OpenChannelSync"
	uriOpenChannel         = "/lnrpc.Lightning/OpenChannel"
	uriCloseChannel        = "/lnrpc.Lightning/CloseChannel"
	uriClosedChannels      = "/lnrpc.Lightning/ClosedChannels"
	uriConnectPeer         = "/lnrpc.Lightning/ConnectPeer"
	uriDisconnectPeer      = "/lnrpc.Lightning/DisconnectPeer"
	uriListPeers           = "/lnrpc.Lightning/ListPeers"
	uriUpdateChannelPolicy = "/lnrpc.Lightning/UpdateChannelPolicy"
	uriFeeReport           = "/lnrpc.Lightning/FeeReport"
	uriGetChanInfo         = "/lnrpc.Lightning/GetChanInfo"
	uriGetNodeInfo         = "/lnrpc.Lightning/GetNodeInfo"
	uriEstimateFee         = "/lnrpc.Lightning/EstimateFee"

	uriSignMessage           = "/lnrpc.Lightning/SignMessage"
	uriVerifyMessage         = "/lnrpc.Lightning/VerifyMessage"
	uriSignerSignMessage     = "/signrpc.Signer/SignMessage"
	uriSignerVerifyMessage   = "/signrpc.Signer/VerifyMessage"
	uriSignerDeriveSharedKey = "/signrpc.Signer/DeriveSharedKey"
)

// CustomRootKeyID is the root key `l402 bake --custom` bakes under unless
// told otherwise: deleting it revokes every custom macaroon at once.
const CustomRootKeyID = 4020

// Role is a named set of lnd methods that one job needs.
type Role struct {
	// Name is what `l402 bake <name>` takes.
	Name string

	// Description says who the role is for and what it withholds.
	Description string

	// RootKeyID is the lnd root key the role bakes under: deleting it
	// with `lncli deletemacaroonid` revokes every macaroon of the role.
	RootKeyID uint64

	// Methods are the full gRPC names of the methods the role grants.
	Methods []string
}

// Permissions returns the role's methods as lnd uri: permissions.
func (r Role) Permissions() []lightning.Permission {
	perms := make([]lightning.Permission, 0, len(r.Methods))
	for _, m := range r.Methods {
		perms = append(perms, lightning.URIPermission(m))
	}
	return perms
}

// invoiceOnly is what `l402 serve` needs: create invoices and see whether
// they are paid.
var invoiceOnly = []string{
	uriAddInvoice, uriLookupInvoice, uriListInvoices,
	uriSubscribeInvoices, uriGetInfo, uriGetVersion,
}

// payOnly is what `l402 fetch` needs: decode, pay and track invoices, and
// see the balance it pays from.
var payOnly = []string{
	uriSendPaymentV2, uriTrackPaymentV2, uriDecodePayReq, uriGetInfo,
	uriGetVersion, uriChannelBalance,
}

// channelAdmin is what a channel manager (a person, a script or an
// autopilot) needs: peers, channels and their fees, the balances and the
// graph facts to choose them by. Abandoning channels, batch and PSBT
// funding, and sending on-chain are withheld.
var channelAdmin = []string{
	uriGetInfo, uriGetVersion, uriWalletBalance, uriChannelBalance,
	uriConnectPeer, uriDisconnectPeer, uriListPeers, uriOpenChannelSync,
	uriOpenChannel, uriCloseChannel, uriListChannels, uriPendingChannels,
	uriClosedChannels, uriUpdateChannelPolicy, uriFeeReport,
	uriGetChanInfo, uriGetNodeInfo, uriEstimateFee,
}

// sellerSessions is what `l402 serve` needs when it sells Payment
// sessions: invoice-only's methods, and paying and tracking the refund of
// a closed session's unspent balance to the buyer's return invoice.
var sellerSessions = union(invoiceOnly, []string{uriSendPaymentV2,
	uriTrackPaymentV2})

// buyerSessions is what `l402 fetch --session` needs: pay-only's
// methods, and creating the amountless invoice a session's refund is paid
// to. It cannot read invoices (their preimages) or settle them.
var buyerSessions = union(payOnly, []string{uriAddInvoice})

// signerOnly is what a service that signs for the node needs: sign and
// verify messages and derive shared keys. signrpc's transaction signers
// (SignOutputRaw, ComputeInputScript, the MuSig2 calls) are withheld, but
// signrpc's SignMessage without double_hash signs sha256 of any message
// with any key locator: a signing oracle for lnd's key families.
var signerOnly = []string{
	uriGetInfo, uriGetVersion, uriSignMessage, uriVerifyMessage,
	uriSignerSignMessage, uriSignerVerifyMessage, uriSignerDeriveSharedKey,
}

// Roles are the roles `l402 bake` offers, in the order its help lists them.
// The root key IDs 4020 (CustomRootKeyID) to 4028 are l402's; lnd's own
// macaroons use 0.
var Roles = []Role{
	{
		Name: "invoice-only",
		Description: "for l402 serve: create invoices and look them " +
			"up; cannot pay, settle or cancel invoices",
		RootKeyID: 4021,
		Methods:   invoiceOnly,
	},
	{
		Name: "pay-only",
		Description: "for l402 fetch: decode, pay and track " +
			"invoices, read the channel balance; cannot create " +
			"invoices or touch on-chain funds",
		RootKeyID: 4022,
		Methods:   payOnly,
	},
	{
		Name: "read-only",
		Description: "for monitoring: node info, balances, channels, " +
			"payments; cannot read invoices, whose preimages " +
			"would redeem this node's unpaid L402 challenges",
		RootKeyID: 4023,
		Methods: []string{
			uriGetInfo, uriGetVersion, uriChannelBalance,
			uriWalletBalance, uriListChannels, uriPendingChannels,
			uriListPayments, uriTrackPaymentV2, uriDecodePayReq,
		},
	},
	{
		Name: "l402-both",
		Description: "for a node that both serves and fetches: " +
			"invoice-only and pay-only together",
		RootKeyID: 4024,
		Methods:   union(invoiceOnly, payOnly),
	},
	{
		Name: "channel-admin",
		Description: "for channel management: peers, open and close " +
			"channels, fee policy, balances; NOT funds-safe: " +
			"opening can push sats to the peer and closing can " +
			"send the funds to an address the holder chooses",
		RootKeyID: 4025,
		Methods:   channelAdmin,
	},
	{
		Name: "seller-sessions",
		Description: "for l402 serve with Payment sessions " +
			"(authenticator.enablesessions): invoice-only, and pay " +
			"and track the refunds of closed sessions; cannot " +
			"settle or cancel invoices, read balances or touch " +
			"on-chain funds, but can pay any invoice: a refund " +
			"goes out through it",
		RootKeyID: 4027,
		Methods:   sellerSessions,
	},
	{
		Name: "buyer-sessions",
		Description: "for l402 fetch with Payment sessions (--session): " +
			"pay-only, and create the invoice a session's refund is " +
			"paid to; cannot read, settle or cancel invoices or touch " +
			"on-chain funds",
		RootKeyID: 4028,
		Methods:   buyerSessions,
	},
	{
		Name: "signer-only",
		Description: "for signing services: sign and verify messages " +
			"and derive shared keys with the node's keys; the " +
			"holder can speak as this node and sign any hash " +
			"with lnd's key-family keys, so guard it like a key; " +
			"no transaction signers, payments or invoices",
		RootKeyID: 4026,
		Methods:   signerOnly,
	},
}

// union returns the methods of a and b, each once, in order.
func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, m := range append(append([]string(nil), a...), b...) {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// RoleNames returns the names of the roles, in Roles' order.
func RoleNames() []string {
	names := make([]string, 0, len(Roles))
	for _, r := range Roles {
		names = append(names, r.Name)
	}
	return names
}

// LookupRole returns the role with the given name, or an error that lists
// the roles there are.
func LookupRole(name string) (Role, error) {
	for _, r := range Roles {
		if r.Name == name {
			return r, nil
		}
	}
	return Role{}, fmt.Errorf("unknown role %q: choose one of %s", name,
		strings.Join(RoleNames(), ", "))
}

// roleOf returns the name of the role whose permissions are exactly perms,
// or "" when none is.
func roleOf(perms []lightning.Permission) string {
	got := permKey(perms)
	for _, r := range Roles {
		if permKey(r.Permissions()) == got {
			return r.Name
		}
	}
	return ""
}

// permKey returns a permission set as one comparable string.
func permKey(perms []lightning.Permission) string {
	keys := make([]string, 0, len(perms))
	for _, p := range perms {
		keys = append(keys, p.String())
	}
	sort.Strings(keys)
	return strings.Join(keys, "\n")
}
