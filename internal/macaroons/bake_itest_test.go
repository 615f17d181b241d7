//go:build itest

package macaroons

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/regtest"
)

// stack is the regtest stack the itests of this package share.
var stack *regtest.Stack

func TestMain(m *testing.M) { os.Exit(regtest.RunTests(m, &stack)) }

// dialHex connects to a regtest node with a macaroon given as bytes.
func dialHex(t *testing.T, n *regtest.Node, mac []byte) *lightning.Lnd {
	t.Helper()
	l, err := lightning.NewLnd(lightning.LndConfig{
		Name:        n.Name,
		Host:        n.RPCHost,
		TLSCertPath: n.TLSCertPath,
		MacaroonHex: hex.EncodeToString(mac),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dialFile connects to a regtest node with a macaroon file.
func dialFile(t *testing.T, n *regtest.Node, path string) *lightning.Lnd {
	t.Helper()
	mac, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return dialHex(t, n, mac)
}

// bake bakes a role on a node with its admin macaroon, writes it as
// `l402 bake` would, and returns its path.
func bake(t *testing.T, ctx context.Context, n *regtest.Node,
	role string) string {

	t.Helper()
	mac, err := Bake(ctx, dialFile(t, n, n.AdminMacaroonPath), role)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(mac)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := LookupRole(role)
	if info.Role != role ||
		info.RootKeyID != strconv.FormatUint(r.RootKeyID, 10) {
		t.Fatalf("baked %+v", info)
	}

	path := filepath.Join(t.TempDir(), role+".macaroon")
	if err := WriteSecretFile(path, mac, false); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestItestInvoiceOnly: bob's invoice-only macaroon adds and looks up
// invoices, and lnd refuses it a payment.
func TestItestInvoiceOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bob := dialFile(t, stack.Bob, bake(t, ctx, stack.Bob, "invoice-only"))

	inv, err := bob.AddInvoice(ctx, lightning.InvoiceRequest{AmountSat: 10,
		Memo: "bake itest"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.LookupInvoice(ctx, inv.PaymentHash); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Info(ctx); err != nil {
		t.Fatal(err)
	}

	aliceInv, err := stack.Alice.Lnd().AddInvoice(ctx,
		lightning.InvoiceRequest{AmountSat: 10, Memo: "not for bob"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.Pay(ctx, lightning.PayRequest{
		PaymentRequest: aliceInv.PaymentRequest, MaxFeeSat: 1,
		Timeout: 10 * time.Second})
	if !errors.Is(err, lightning.ErrPermissionDenied) {
		t.Fatalf("invoice-only paid: got %v, want permission denied", err)
	}
}

// TestItestPayOnly: alice's pay-only macaroon pays bob, and lnd refuses it
// an invoice.
func TestItestPayOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice := dialFile(t, stack.Alice, bake(t, ctx, stack.Alice, "pay-only"))

	_, err := alice.AddInvoice(ctx, lightning.InvoiceRequest{AmountSat: 10})
	if !errors.Is(err, lightning.ErrPermissionDenied) {
		t.Fatalf("pay-only added an invoice: got %v, want permission "+
			"denied", err)
	}

	inv, err := stack.Bob.Lnd().AddInvoice(ctx, lightning.InvoiceRequest{
		AmountSat: 21, Memo: "pay-only itest"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.DecodePayReq(ctx, inv.PaymentRequest); err != nil {
		t.Fatal(err)
	}
	p, err := alice.Pay(ctx, lightning.PayRequest{
		PaymentRequest: inv.PaymentRequest, MaxFeeSat: 5,
		Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != lightning.PaymentSucceeded {
		t.Fatalf("payment %+v", p)
	}
	if _, err := alice.TrackPayment(ctx, inv.PaymentHash); err != nil {
		t.Fatal(err)
	}
}

// TestItestAttenuated: lnd honours the caveats Attenuate adds: an expired
// macaroon and one locked to another address are refused.
func TestItestAttenuated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mac, err := os.ReadFile(bake(t, ctx, stack.Bob, "invoice-only"))
	if err != nil {
		t.Fatal(err)
	}

	short, err := Attenuate(mac, AttenuateOptions{Timeout: 2 * time.Second,
		IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	bob := dialHex(t, stack.Bob, short)
	if _, err := bob.Info(ctx); err != nil {
		t.Fatalf("before its timeout: %v", err)
	}
	time.Sleep(3 * time.Second)
	_, err = bob.Info(ctx)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("after its timeout: got %v, want expired", err)
	}
	t.Logf("lnd refuses an expired macaroon with: %v", err)

	elsewhere, err := Attenuate(mac, AttenuateOptions{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dialHex(t, stack.Bob, elsewhere).Info(ctx)
	if err == nil || !strings.Contains(err.Error(), "different IP") {
		t.Fatalf("from another address: got %v", err)
	}

	local, err := Attenuate(mac, AttenuateOptions{IPRange: "127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialHex(t, stack.Bob, local).Info(ctx); err != nil {
		t.Fatalf("within the IP range: %v", err)
	}
}

// TestItestRolesOnTheNode checks every role's methods against the
// permissions a running lnd reports, and that a role lnd cannot bake is
// explained.
func TestItestRolesOnTheNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := dialFile(t, stack.Bob, stack.Bob.AdminMacaroonPath)

	perms, err := admin.ListPermissions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkPermissionsFile(t, perms)
	for _, r := range Roles {
		for _, m := range r.Methods {
			if len(perms[m]) == 0 {
				t.Errorf("%s: the node has no method %s", r.Name, m)
			}
		}
	}
	checkLanes(t, perms)

	// A method lnd does not serve is named in the error.
	Roles = append(Roles, Role{Name: "bogus", RootKeyID: 4099,
		Methods: []string{"/lnrpc.Lightning/GetInfo",
			"/lnrpc.Lightning/NoSuchMethod"}})
	defer func() { Roles = Roles[:len(Roles)-1] }()
	_, err = Bake(ctx, admin, "bogus")
	if err == nil || !strings.Contains(err.Error(),
		"does not serve /lnrpc.Lightning/NoSuchMethod;") {
		t.Fatalf("unknown method: got %v", err)
	}
}

// TestItestBakeNeedsAdmin: a macaroon that may not bake gets an error that
// says which one to use.
func TestItestBakeNeedsAdmin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bob := dialFile(t, stack.Bob, stack.Bob.InvoiceMacaroonPath)
	_, err := Bake(ctx, bob, "invoice-only")
	if !errors.Is(err, lightning.ErrPermissionDenied) ||
		!strings.Contains(err.Error(), "admin.macaroon") {
		t.Fatalf("got %v, want permission denied naming admin.macaroon",
			err)
	}
}

// checkPermissionsFile checks that lndPermissionsFile, which the unit
// tests read, says what the running node says; with L402_UPDATE_TESTDATA=1
// it rewrites the file from the node instead.
func checkPermissionsFile(t *testing.T,
	perms map[string][]lightning.Permission) {

	t.Helper()
	want, err := json.MarshalIndent(perms, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if os.Getenv("L402_UPDATE_TESTDATA") == "1" {
		if err := os.WriteFile(lndPermissionsFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(lndPermissionsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the node's ListPermissions: rerun this "+
			"test with L402_UPDATE_TESTDATA=1 and review the diff",
			lndPermissionsFile)
	}
}
