package macaroons

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/l402/l402/internal/lightning"
)

// lndPermissionsFile holds every method the pinned lnd serves (built with
// the regtest harness's sub-server tags) with the permissions it requires,
// as its ListPermissions reports them. The itest TestItestRolesOnTheNode
// checks the file against a running node, and rewrites it when
// L402_UPDATE_TESTDATA=1 (after a change of the pinned lnd). It is a file
// rather than lnd's own RPC packages because those need lnd's fork of
// google.golang.org/protobuf, which would put a replace directive in
// go.mod (docs/lnc.md says more).
const lndPermissionsFile = "testdata/lnd_permissions.json"

// lndPermissions returns lnd's methods, each with the permissions it
// requires, from lndPermissionsFile. BakeMacaroon accepts a uri:
// permission only for a method lnd serves.
func lndPermissions(t *testing.T) map[string][]lightning.Permission {
	t.Helper()
	b, err := os.ReadFile(lndPermissionsFile)
	if err != nil {
		t.Fatalf("lnd's permissions: %v", err)
	}
	all := map[string][]lightning.Permission{}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatalf("lnd's permissions: %s: %v", lndPermissionsFile, err)
	}
	return all
}

// TestRoleURIsAreLnds checks every method of every role against lnd's
// methods, so BakeMacaroon accepts them all.
func TestRoleURIsAreLnds(t *testing.T) {
	perms := lndPermissions(t)
	if len(perms) < 50 {
		t.Fatalf("only %d lnd methods found", len(perms))
	}
	for _, r := range Roles {
		if len(r.Methods) == 0 {
			t.Errorf("%s grants nothing", r.Name)
		}
		for _, m := range r.Methods {
			if _, ok := perms[m]; !ok {
				t.Errorf("%s: lnd has no method %s", r.Name, m)
			}
		}
	}
}

// roleLanes are the coarse lnd permissions each role's methods may need:
// a role must not reach beyond its job.
var roleLanes = map[string]map[string]bool{
	"invoice-only": {"info:read": true, "invoices:read": true,
		"invoices:write": true},
	"pay-only": {"info:read": true, "offchain:read": true,
		"offchain:write": true},
	"read-only": {"info:read": true, "offchain:read": true,
		"onchain:read": true},
	"l402-both": {"info:read": true, "invoices:read": true,
		"invoices:write": true, "offchain:read": true,
		"offchain:write": true},
	"channel-admin": {"info:read": true, "onchain:read": true,
		"onchain:write": true, "offchain:read": true,
		"offchain:write": true, "peers:read": true, "peers:write": true},
	"seller-sessions": {"info:read": true, "invoices:read": true,
		"invoices:write": true, "offchain:read": true,
		"offchain:write": true},
	"buyer-sessions": {"info:read": true, "offchain:read": true,
		"offchain:write": true, "invoices:write": true},
	"signer-only": {"info:read": true, "message:read": true,
		"message:write": true, "signer:read": true,
		"signer:generate": true},
}

// checkLanes checks each role's methods against roleLanes, given lnd's
// permissions per method.
func checkLanes(t *testing.T, perms map[string][]lightning.Permission) {
	t.Helper()
	for _, r := range Roles {
		lane, ok := roleLanes[r.Name]
		if !ok {
			t.Errorf("role %s has no lane in roleLanes", r.Name)
			continue
		}
		for _, m := range r.Methods {
			for _, p := range perms[m] {
				if !lane[p.String()] {
					t.Errorf("%s: %s needs %s", r.Name, m, p)
				}
			}
		}
	}
}

// TestRolesStayInTheirLane checks every role's methods against the
// permissions lnd requires for them; the itest checks them against a node.
func TestRolesStayInTheirLane(t *testing.T) {
	checkLanes(t, lndPermissions(t))
}

// TestRolesAreDistinct: each role has its own root key and permission set,
// so revoking one revokes no other and Inspect names them unambiguously.
func TestRolesAreDistinct(t *testing.T) {
	keys := map[uint64]string{CustomRootKeyID: "--custom"}
	sets := map[string]string{}
	for _, r := range Roles {
		if other, ok := keys[r.RootKeyID]; ok || r.RootKeyID == 0 {
			t.Errorf("%s shares root key %d with %q", r.Name,
				r.RootKeyID, other)
		}
		keys[r.RootKeyID] = r.Name
		k := permKey(r.Permissions())
		if other, ok := sets[k]; ok {
			t.Errorf("%s grants what %s grants", r.Name, other)
		}
		sets[k] = r.Name
		if got := roleOf(r.Permissions()); got != r.Name {
			t.Errorf("roleOf(%s) = %q", r.Name, got)
		}
	}
}

func TestLookupRole(t *testing.T) {
	r, err := LookupRole("pay-only")
	if err != nil || r.Name != "pay-only" {
		t.Fatalf("got %+v, %v", r, err)
	}
	_, err = LookupRole("admin")
	if err == nil || !strings.Contains(err.Error(),
		"invoice-only, pay-only, read-only, l402-both") {
		t.Fatalf("unknown role: got %v, want the list of roles", err)
	}
}

// TestL402BothIsTheUnion: l402-both grants exactly invoice-only and
// pay-only together, each method once.
func TestL402BothIsTheUnion(t *testing.T) {
	inv, _ := LookupRole("invoice-only")
	pay, _ := LookupRole("pay-only")
	both, _ := LookupRole("l402-both")

	want := map[string]bool{}
	for _, m := range append(append([]string(nil), inv.Methods...),
		pay.Methods...) {
		want[m] = true
	}
	got := map[string]bool{}
	for _, m := range both.Methods {
		if got[m] {
			t.Errorf("l402-both lists %s twice", m)
		}
		got[m] = true
	}
	if len(got) != len(want) {
		t.Fatalf("l402-both grants %v, want %v", got, want)
	}
	for m := range want {
		if !got[m] {
			t.Errorf("l402-both lacks %s", m)
		}
	}
}

// TestNewRolesGrantWhatTheySay pins the methods of channel-admin and
// signer-only that their descriptions promise or withhold.
func TestNewRolesGrantWhatTheySay(t *testing.T) {
	tests := []struct {
		role      string
		rootKeyID uint64
		grants    []string
		withholds []string
	}{
		{"channel-admin", 4025,
			[]string{uriOpenChannel, uriCloseChannel, uriConnectPeer,
				uriUpdateChannelPolicy, uriListChannels},
			[]string{"/lnrpc.Lightning/AbandonChannel",
				"/lnrpc.Lightning/SendCoins",
				"/lnrpc.Lightning/AddInvoice",
				"/routerrpc.Router/SendPaymentV2"}},
		{"seller-sessions", 4027,
			[]string{uriAddInvoice, uriLookupInvoice, uriSendPaymentV2,
				uriTrackPaymentV2},
			[]string{"/lnrpc.Lightning/SendCoins",
				"/invoicesrpc.Invoices/SettleInvoice",
				"/invoicesrpc.Invoices/CancelInvoice",
				uriChannelBalance, uriOpenChannel}},
		{"buyer-sessions", 4028,
			[]string{uriAddInvoice, uriSendPaymentV2, uriTrackPaymentV2,
				uriDecodePayReq},
			[]string{uriLookupInvoice, uriListInvoices,
				"/invoicesrpc.Invoices/SettleInvoice",
				"/lnrpc.Lightning/SendCoins"}},
		{"signer-only", 4026,
			[]string{uriSignerSignMessage, uriSignerVerifyMessage,
				uriSignerDeriveSharedKey, uriSignMessage,
				uriVerifyMessage},
			[]string{"/signrpc.Signer/SignOutputRaw",
				"/signrpc.Signer/ComputeInputScript",
				"/signrpc.Signer/MuSig2Sign"}},
	}
	for _, tc := range tests {
		r, err := LookupRole(tc.role)
		if err != nil {
			t.Fatal(err)
		}
		if r.RootKeyID != tc.rootKeyID {
			t.Errorf("%s: root key %d, want %d", r.Name, r.RootKeyID,
				tc.rootKeyID)
		}
		has := map[string]bool{}
		for _, m := range r.Methods {
			has[m] = true
		}
		for _, m := range tc.grants {
			if !has[m] {
				t.Errorf("%s lacks %s", r.Name, m)
			}
		}
		for _, m := range tc.withholds {
			if has[m] {
				t.Errorf("%s grants %s", r.Name, m)
			}
		}
	}
	r, _ := LookupRole("channel-admin")
	if !strings.Contains(r.Description, "NOT funds-safe") {
		t.Errorf("channel-admin's description does not warn: %q",
			r.Description)
	}
}
