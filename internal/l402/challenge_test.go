package l402

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"gopkg.in/macaroon.v2"
)

// testToken mints a token for the tests of this package.
func testToken(t testing.TB) (*macaroon.Macaroon, Preimage) {
	t.Helper()
	preimage := Preimage{0x11, 0x22}
	svcs, err := ServicesCaveat(Service{Name: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	mac, err := Mint(make([]byte, 32), NewIdentifier(preimage.Hash(),
		TokenID{3}), svcs)
	if err != nil {
		t.Fatal(err)
	}
	return mac, preimage
}

func TestBuildChallenges(t *testing.T) {
	mac, _ := testToken(t)
	b64, _ := EncodeMacaroonBase64(mac)
	got, err := BuildChallenges(mac, "lnbcrt1xyz")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`LSAT macaroon="` + b64 + `", invoice="lnbcrt1xyz"`,
		`L402 macaroon="` + b64 + `", invoice="lnbcrt1xyz"`,
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %q\nwant %q", got, want)
	}

	chs, err := ParseChallenges(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 2 || chs[0].Scheme != "LSAT" || chs[1].Scheme != "L402" {
		t.Fatalf("parsed %+v", chs)
	}
	if chs[1].Invoice != "lnbcrt1xyz" ||
		chs[1].Identifier.PaymentHash != (Preimage{0x11, 0x22}).Hash() {
		t.Fatalf("parsed %+v", chs[1])
	}
}

func TestParseChallenges(t *testing.T) {
	mac, _ := testToken(t)
	raw, _ := mac.MarshalBinary()
	std := base64.StdEncoding.EncodeToString(raw)
	url := base64.URLEncoding.EncodeToString(raw)
	rawURL := base64.RawURLEncoding.EncodeToString(raw)
	inv := "lnbcrt10n1pj"

	tests := []struct {
		name    string
		headers []string
		schemes []string // schemes of the challenges found
		wantErr bool
	}{
		{"aperture", []string{
			`LSAT macaroon="` + std + `", invoice="` + inv + `"`,
			`L402 macaroon="` + std + `", invoice="` + inv + `"`,
		}, []string{"LSAT", "L402"}, false},
		{"token= and any order", []string{
			`L402 invoice="` + inv + `", token="` + std + `"`,
		}, []string{"L402"}, false},
		{"lower-case scheme and params", []string{
			`l402 MACAROON="` + std + `", Invoice="` + inv + `"`,
		}, []string{"L402"}, false},
		{"unknown params ignored", []string{
			`L402 version="0", macaroon="` + std + `", invoice="` + inv +
				`", realm="api"`,
		}, []string{"L402"}, false},
		{"url-safe base64", []string{
			`L402 macaroon="` + url + `", invoice="` + inv + `"`,
		}, []string{"L402"}, false},
		{"raw url-safe base64", []string{
			`L402 macaroon="` + rawURL + `", invoice="` + inv + `"`,
		}, []string{"L402"}, false},
		{"unquoted tokens", []string{
			`L402 macaroon=` + std + `, invoice=` + inv,
		}, []string{"L402"}, false},
		{"comma-joined with other schemes", []string{
			`Basic realm="x", L402 macaroon="` + std + `", invoice="` + inv +
				`", Bearer abc==, LSAT invoice="` + inv + `", macaroon="` +
				std + `"`,
		}, []string{"L402", "LSAT"}, false},
		{"bad one does not hide a good one", []string{
			`L402 macaroon="!!!", invoice="` + inv + `"`,
			`L402 macaroon="` + std + `", invoice="` + inv + `"`,
		}, []string{"L402"}, false},
		{"only other schemes", []string{`Basic realm="x"`}, nil, true},
		{"no invoice", []string{`L402 macaroon="` + std + `"`}, nil, true},
		{"empty invoice", []string{`L402 macaroon="` + std + `", invoice=""`},
			nil, true},
		{"no macaroon", []string{`L402 invoice="` + inv + `"`}, nil, true},
		{"garbage base64", []string{`L402 macaroon="%%%", invoice="x"`},
			nil, true},
		{"not a macaroon", []string{`L402 macaroon="aGVsbG8=", ` +
			`invoice="x"`}, nil, true},
		{"repeated param", []string{`L402 macaroon="` + std + `", ` +
			`invoice="a", invoice="b"`}, nil, true},
		{"token and macaroon differ", []string{`L402 macaroon="` + std +
			`", token="` + url + `x", invoice="a"`}, nil, true},
		{"unclosed quote", []string{`L402 macaroon="` + std}, nil, true},
		{"token68 form", []string{`L402 ` + std}, nil, true},
		{"empty", []string{""}, nil, true},
		{"none", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chs, err := ParseChallenges(tc.headers)
			if tc.wantErr {
				if !errors.Is(err, ErrNoChallenge) {
					t.Fatalf("got %v, %d challenges; want "+
						"ErrNoChallenge", err, len(chs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range chs {
				got = append(got, c.Scheme)
				if c.Invoice != inv {
					t.Errorf("invoice %q", c.Invoice)
				}
				if c.Identifier.PaymentHash !=
					(Preimage{0x11, 0x22}).Hash() {
					t.Errorf("identifier %+v", c.Identifier)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.schemes, ",") {
				t.Fatalf("schemes %v, want %v", got, tc.schemes)
			}
		})
	}
}

func TestParseChallengesSaysWhy(t *testing.T) {
	_, err := ParseChallenges([]string{`L402 macaroon="x", invoice="y"`})
	if err == nil || !strings.Contains(err.Error(), "base64") &&
		!strings.Contains(err.Error(), "macaroon") {
		t.Fatalf("error does not say what is wrong: %v", err)
	}
}
