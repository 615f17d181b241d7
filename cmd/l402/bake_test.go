package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/bake"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/macaroons"
	"github.com/l402/l402/internal/macaroons/macaroontest"
)

// mintRole returns a macaroon as lnd would bake it for the role.
func mintRole(t *testing.T, role string, caveats ...string) []byte {
	return macaroontest.MintRole(t, role, caveats...)
}

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// isolate points the home directory, l402's directory and $LND_DIR at
// empty places, so that no lnd and no config is found.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("LND_DIR", "")
	t.Setenv("L402_HOME", filepath.Join(home, ".l402"))
	return home
}

func TestBakeListRoles(t *testing.T) {
	out, errOut, code := run("bake", "--list-roles")
	if code != 0 || errOut != "" {
		t.Fatalf("--list-roles: %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(macaroons.Roles)+1 ||
		!strings.HasPrefix(lines[0], "ROLE") {
		t.Fatalf("table:\n%s", out)
	}
	for i, r := range macaroons.Roles {
		if !strings.HasPrefix(lines[i+1], r.Name+"\t") ||
			!strings.Contains(lines[i+1], strconv.FormatUint(r.RootKeyID,
				10)) {
			t.Errorf("row %d: %q", i+1, lines[i+1])
		}
	}
	if !strings.Contains(out, "Router/SendPaymentV2") {
		t.Errorf("methods are not in the table:\n%s", out)
	}

	out, _, code = run("bake", "--list-roles", "--json")
	var roles []bake.RoleInfo
	if err := json.Unmarshal([]byte(out), &roles); err != nil || code != 0 {
		t.Fatalf("--list-roles --json: %d %v %q", code, err, out)
	}
	byName := map[string]bake.RoleInfo{}
	for _, r := range roles {
		byName[r.Name] = r
	}
	if len(roles) != len(macaroons.Roles) ||
		byName["channel-admin"].RootKeyID != 4025 ||
		byName["signer-only"].RootKeyID != 4026 ||
		!strings.Contains(byName["channel-admin"].Description,
			"NOT funds-safe") ||
		len(byName["invoice-only"].Methods) != 6 ||
		byName["invoice-only"].Methods[0] != "/lnrpc.Lightning/AddInvoice" {
		t.Fatalf("roles: %+v", roles)
	}
}

func TestBakeInspect(t *testing.T) {
	dir := t.TempDir()
	past := "time-before 2001-02-03T04:05:06Z"
	mac := mintRole(t, "invoice-only", past, "ipaddr 127.0.0.1")
	bin := writeFile(t, dir, "invoice-only.macaroon", mac)
	hexFile := writeFile(t, dir, "hex.txt",
		[]byte(hex.EncodeToString(mac)+"\n"))

	for _, file := range []string{bin, hexFile} {
		out, errOut, code := run("bake", "inspect", file)
		if code != 0 || errOut != "" {
			t.Fatalf("inspect %s: %d %q", file, code, errOut)
		}
		for _, want := range []string{"location     lnd",
			"root key id  4021", "role         invoice-only",
			"uri:/lnrpc.Lightning/AddInvoice", past, "ipaddr 127.0.0.1",
			"expired      true", "revoke       lncli deletemacaroonid 4021"} {
			if !strings.Contains(out, want) {
				t.Errorf("inspect %s lacks %q:\n%s", file, want, out)
			}
		}
	}

	out, _, code := run("bake", "inspect", bin, "--json")
	var got struct {
		Path        string
		Location    string
		RootKeyID   string `json:"root_key_id"`
		Role        string
		Permissions []lightning.Permission
		Caveats     []string
		Expired     bool
		ExpiresAt   *time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("inspect --json: %d %v %q", code, err, out)
	}
	if got.Path != bin || got.Location != "lnd" || got.RootKeyID != "4021" ||
		got.Role != "invoice-only" || len(got.Permissions) != 6 ||
		len(got.Caveats) != 2 || !got.Expired || got.ExpiresAt == nil {
		t.Fatalf("inspect --json: %s", out)
	}
	if strings.Contains(out, hex.EncodeToString(mac)) {
		t.Fatal("inspect printed the macaroon")
	}

	// Not a macaroon, and no file: bad arguments.
	junk := writeFile(t, dir, "junk", []byte("hello"))
	for _, file := range []string{junk, filepath.Join(dir, "nope")} {
		_, errOut, code := run("bake", "inspect", file, "--json")
		if code != 2 || !strings.Contains(errOut, `"exit_code":2`) {
			t.Errorf("inspect %s: %d %q", file, code, errOut)
		}
	}
}

func TestBakeAttenuate(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "pay-only.macaroon", mintRole(t, "pay-only"))
	want := filepath.Join(dir, "pay-only.attenuated.macaroon")

	out, errOut, code := run("bake", "attenuate", src, "--timeout", "1h",
		"--ip", "127.0.0.1", "--json")
	if code != 0 {
		t.Fatalf("attenuate: %d %q", code, errOut)
	}
	var res bake.AttenuateReport
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Path != want || res.Source != src || len(res.Added) != 2 ||
		!strings.HasPrefix(res.Added[0], "time-before ") ||
		res.Added[1] != "ipaddr 127.0.0.1" || res.ExpiresAt == nil ||
		time.Until(*res.ExpiresAt) < 59*time.Minute {
		t.Fatalf("attenuate --json: %s", out)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}

	// The file is never replaced without --force.
	_, errOut, code = run("bake", "attenuate", src, "--timeout", "2h")
	if code != 1 || !strings.Contains(errOut, "already exists") ||
		!strings.Contains(errOut, "--force") {
		t.Fatalf("overwrite: %d %q", code, errOut)
	}
	if after, _ := os.ReadFile(want); string(after) != string(b) {
		t.Fatal("the file was replaced without --force")
	}
	_, errOut, code = run("bake", "attenuate", src, "--timeout", "2h",
		"--force")
	if code != 0 || !strings.Contains(errOut, "time-before") {
		t.Fatalf("--force: %d %q", code, errOut)
	}

	// --out.
	out2 := filepath.Join(dir, "sub", "x.macaroon")
	if _, errOut, code := run("bake", "attenuate", src, "--ip-range",
		"10.0.0.0/8", "--out", out2); code != 0 {
		t.Fatalf("--out: %d %q", code, errOut)
	}
	if _, err := os.Stat(out2); err != nil {
		t.Fatal(err)
	}
}

// TestBakeAttenuateBadArguments: each bad flag is refused with exit 2
// before anything is written.
func TestBakeAttenuateBadArguments(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "a.macaroon", mintRole(t, "pay-only"))
	tests := []struct {
		args []string
		want string
	}{
		{[]string{src}, "nothing to add"},
		{[]string{src, "--timeout", "0"}, "--timeout 0s"},
		{[]string{src, "--timeout", "-5m"}, "positive"},
		{[]string{src, "--ip", "localhost"}, "--ip \"localhost\""},
		{[]string{src, "--ip", "127.0.0.1:10009"}, "not an IP address"},
		{[]string{src, "--ip-range", "10.0.0.0"}, "CIDR"},
		{[]string{filepath.Join(dir, "nope"), "--timeout", "1h"},
			"does not exist"},
		{[]string{"--timeout", "1h"}, "takes 1 argument"},
	}
	for _, tc := range tests {
		args := append([]string{"bake", "attenuate"}, tc.args...)
		_, errOut, code := run(args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %q, want exit 2 with %q", tc.args, code,
				errOut, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir,
		"a.attenuated.macaroon")); err == nil {
		t.Error("a refused attenuation wrote a file")
	}
}

// TestBakeBadArguments: the mistakes bake refuses before looking for lnd
// exit 2 and say what to do.
func TestBakeBadArguments(t *testing.T) {
	isolate(t)
	roles := strings.Join(macaroons.RoleNames(), ", ")
	tests := []struct {
		args []string
		want string
	}{
		{nil, roles},
		{[]string{"admin"}, `unknown role "admin": choose one of ` + roles},
		{[]string{"pay-only", "invoice-only"}, "takes one ROLE"},
		{[]string{"pay-only", "--custom", "/lnrpc.Lightning/GetInfo"},
			"only one of"},
		{[]string{"--list-roles", "--save-to", "x"}, "--save-to is for"},
		{[]string{"--list-permissions", "--list-roles"}, "only one of"},
		{[]string{"--list-roles", "--network", "regtest"},
			"needs no lnd: drop --network"},
		{[]string{"pay-only", "--name", "x"}, "--name names the file"},
		{[]string{"--custom", "GetInfo"}, "not a full gRPC method"},
		{[]string{"--custom", "/lnrpc.Lightning/GetInfo", "--name",
			"admin"}, "lnd's own admin.macaroon"},
		{[]string{"--custom", "/lnrpc.Lightning/GetInfo", "--name",
			"../x"}, "--name"},
		{[]string{"pay-only", "--print-hex", "--save-to", "x"},
			"drop --save-to"},
		{[]string{"pay-only", "--root-key-id", "0"}, "lnd's own root key"},
		{[]string{"pay-only", "--timeout", "0"}, "positive"},
		{[]string{"pay-only", "--ip", "nope"}, "not an IP address"},
		{[]string{"pay-only", "--network", "moonnet"}, "--network"},
		{[]string{"--role", "admin"}, `unknown role "admin"`},
		{[]string{"pay-only", "--role", "invoice-only"},
			`--role "invoice-only" and ROLE "pay-only" differ`},
		{[]string{"--role", "pay-only", "--list-roles"}, "only one of"},
	}
	for _, tc := range tests {
		args := append([]string{"bake"}, tc.args...)
		out, errOut, code := run(append(args, "--json")...)
		var e struct {
			Code     string
			Message  string
			ExitCode int `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(errOut), &e); err != nil ||
			code != 2 || e.Code != "bad_arguments" ||
			!strings.Contains(e.Message, tc.want) || out != "" {
			t.Errorf("%v: %d %q %q, want exit 2 with %q", tc.args, code,
				out, errOut, tc.want)
		}
	}
}

// TestBakeLndNotFound: no lnd and no config is exit 3, lnd_not_found.
func TestBakeLndNotFound(t *testing.T) {
	home := isolate(t)
	for _, args := range [][]string{
		{"bake", "invoice-only", "--json"},
		{"bake", "--list-permissions", "--json"},
		{"bake", "pay-only", "--lnddir", filepath.Join(home, "nope"),
			"--json"},
		// --role ROLE is the skill's form of ROLE; both, when the same.
		{"bake", "--role", "invoice-only", "--json"},
		{"bake", "--role=pay-only", "pay-only", "--json"},
	} {
		_, errOut, code := run(args...)
		var e struct{ Code, Message string }
		if err := json.Unmarshal([]byte(errOut), &e); err != nil ||
			code != 3 || e.Code != "lnd_not_found" ||
			!strings.Contains(e.Message, "--lnddir") {
			t.Errorf("%v: %d %q", args, code, errOut)
		}
	}
}

// selfSignedPEM returns a PEM certificate, as lnd's tls.cert.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject:     pkix.Name{CommonName: "lnd"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl,
		&key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestBakeFromSetupConfigs: with no lnd found and no lnd flag, bake uses
// the lnd of the serve.yaml or fetch.yaml setup wrote, and the
// admin.macaroon in its macaroon directory; an lnd that does not answer
// is exit 3, lnd_unreachable, naming the config's host.
func TestBakeFromSetupConfigs(t *testing.T) {
	for _, name := range []string{"serve.yaml", "fetch.yaml"} {
		t.Run(name, func(t *testing.T) { bakeFromConfig(t, name) })
	}
}

// bakeFromConfig is TestBakeFromSetupConfigs with one config file.
func bakeFromConfig(t *testing.T, configName string) {
	home := isolate(t)
	l402Home := filepath.Join(home, ".l402")
	macDir := filepath.Join(home, "macaroons")
	os.MkdirAll(l402Home, 0o700)
	os.MkdirAll(macDir, 0o700)
	cert := writeFile(t, home, "tls.cert", selfSignedPEM(t))
	writeFile(t, macDir, "admin.macaroon", mintRole(t, "l402-both"))
	pay := writeFile(t, macDir, "pay-only.macaroon", mintRole(t, "pay-only"))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	configs := map[string]string{
		"fetch.yaml": "lnd:\n  host: " + host + "\n  tlscertpath: " +
			cert + "\n  macaroonpath: " + pay + "\n",
		"serve.yaml": "listenaddr: localhost:8081\nauthenticator:\n" +
			"  network: regtest\n  lndhost: " + host + "\n  tlspath: " +
			cert + "\n  macdir: " + macDir + "\nservices:\n" +
			"  - name: api\n    hostregexp: \".*\"\n" +
			"    pathregexp: \"^/.*$\"\n    address: 127.0.0.1:8080\n" +
			"    protocol: http\n    price: 1\n",
	}
	writeFile(t, l402Home, configName, []byte(configs[configName]))

	_, errOut, code := run("bake", "invoice-only", "--json")
	var e struct{ Code, Message string }
	if err := json.Unmarshal([]byte(errOut), &e); err != nil || code != 3 ||
		e.Code != "lnd_unreachable" || !strings.Contains(e.Message, host) {
		t.Fatalf("bake from %s: %d %q", configName, code, errOut)
	}
	if _, err := os.Stat(filepath.Join(macDir,
		"invoice-only.macaroon")); err == nil {
		t.Fatal("a failed bake wrote a file")
	}
}
