package bake

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l402/l402/internal/macaroons"
)

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	past := "time-before 2001-02-03T04:05:06Z"
	mac := mintRole(t, "invoice-only", past, "ipaddr 127.0.0.1")
	bin := writeFile(t, dir, "invoice-only.macaroon", mac)
	hexFile := writeFile(t, dir, "hex.txt",
		[]byte(hex.EncodeToString(mac)+"\n"))

	for _, file := range []string{bin, hexFile} {
		got, err := Inspect(InspectOptions{File: file})
		if err != nil {
			t.Fatalf("inspect %s: %v", file, err)
		}
		if got.Path != file || got.Location != "lnd" ||
			got.RootKeyID != "4021" || got.Role != "invoice-only" ||
			len(got.Permissions) != 6 ||
			got.Permissions[0].String() != "uri:/lnrpc.Lightning/AddInvoice" ||
			len(got.Caveats) != 2 || got.Caveats[0] != past ||
			got.Caveats[1] != "ipaddr 127.0.0.1" || !got.Expired ||
			got.ExpiresAt == nil ||
			got.Revoke != "lncli deletemacaroonid 4021" {
			t.Fatalf("inspect %s: %+v", file, got)
		}
	}

	// stdin.
	got, err := Inspect(InspectOptions{File: "-",
		In: strings.NewReader(hex.EncodeToString(mac))})
	if err != nil || got.Role != "invoice-only" {
		t.Fatalf("inspect -: %+v %v", got, err)
	}

	// Not a macaroon, and no file: bad options.
	junk := writeFile(t, dir, "junk", []byte("hello"))
	for _, file := range []string{junk, filepath.Join(dir, "nope")} {
		if _, err := Inspect(InspectOptions{File: file}); !errors.Is(err,
			ErrBadOptions) {
			t.Errorf("inspect %s: %v", file, err)
		}
	}
}

func TestAttenuate(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "pay-only.macaroon", mintRole(t, "pay-only"))
	want := filepath.Join(dir, "pay-only.attenuated.macaroon")

	res, err := Attenuate(AttenuateOptions{File: src, Caveats: Caveats{
		Timeout: duration(time.Hour), IP: "127.0.0.1"}})
	if err != nil {
		t.Fatalf("attenuate: %v", err)
	}
	if res.Path != want || res.Source != src || len(res.Added) != 2 ||
		!strings.HasPrefix(res.Added[0], "time-before ") ||
		res.Added[1] != "ipaddr 127.0.0.1" || res.ExpiresAt == nil ||
		time.Until(*res.ExpiresAt) < 59*time.Minute {
		t.Fatalf("attenuate: %+v", res)
	}
	fi, err := os.Stat(want)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("attenuated file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(want)
	if info, err := macaroons.Inspect(b); err != nil ||
		info.Role != "pay-only" || len(info.Caveats) != 2 {
		t.Fatalf("attenuated macaroon: %+v %v", info, err)
	}

	// The file is never replaced without Force.
	again := AttenuateOptions{File: src,
		Caveats: Caveats{Timeout: duration(2 * time.Hour)}}
	_, err = Attenuate(again)
	if !errors.Is(err, ErrFileExists) ||
		!strings.Contains(err.Error(), "already exists") ||
		!strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrite: %v", err)
	}
	if after, _ := os.ReadFile(want); string(after) != string(b) {
		t.Fatal("the file was replaced without --force")
	}
	again.Force = true
	if res, err := Attenuate(again); err != nil ||
		!strings.HasPrefix(res.Added[0], "time-before") {
		t.Fatalf("force: %+v %v", res, err)
	}

	// Out, and a hex file's default name.
	hexSrc := writeFile(t, dir, "mac.hex", []byte(hex.EncodeToString(
		mintRole(t, "read-only"))))
	out2 := filepath.Join(dir, "sub", "x.macaroon")
	if _, err := Attenuate(AttenuateOptions{File: hexSrc, Out: out2,
		Caveats: Caveats{IPRange: "10.0.0.0/8"}}); err != nil {
		t.Fatalf("out: %v", err)
	}
	if _, err := os.Stat(out2); err != nil {
		t.Fatal(err)
	}
	if got := attenuatedPath(hexSrc); got != hexSrc+".attenuated" {
		t.Errorf("attenuatedPath(%s) = %s", hexSrc, got)
	}
}

// TestAttenuateBadOptions: each bad option is refused before anything is
// written.
func TestAttenuateBadOptions(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "a.macaroon", mintRole(t, "pay-only"))
	tests := []struct {
		file    string
		caveats Caveats
		want    string
	}{
		{src, Caveats{}, "nothing to add"},
		{src, Caveats{Timeout: duration(0)}, "--timeout 0s"},
		{src, Caveats{Timeout: duration(-5 * time.Minute)}, "positive"},
		{src, Caveats{IP: "localhost"}, "--ip \"localhost\""},
		{src, Caveats{IP: "127.0.0.1:10009"}, "not an IP address"},
		{src, Caveats{IPRange: "10.0.0.0"}, "CIDR"},
		{filepath.Join(dir, "nope"), Caveats{Timeout: duration(time.Hour)},
			"does not exist"},
	}
	for _, tc := range tests {
		_, err := Attenuate(AttenuateOptions{File: tc.file,
			Caveats: tc.caveats})
		if !errors.Is(err, ErrBadOptions) ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want bad options with %q", tc.caveats, err,
				tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir,
		"a.attenuated.macaroon")); err == nil {
		t.Error("a refused attenuation wrote a file")
	}
}
