package macaroons

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"gopkg.in/macaroon.v2"
)

// FuzzInspect: no input makes Inspect, WriteTable or Attenuate panic, and
// whatever Inspect reads encodes as JSON.
func FuzzInspect(f *testing.F) {
	r, _ := LookupRole("l402-both")
	lnd := bakeLnd(f, "4024", r.Permissions())
	f.Add(lnd)
	f.Add([]byte(hex.EncodeToString(lnd)))
	f.Add(mint(f, "hello", "lsat", macaroon.V2, "services=a:0"))
	f.Add(mint(f, "old", "loc", macaroon.V1, "time-before 2030-01-01T00:00:00Z"))
	f.Add([]byte{2, 1, 3})
	f.Add([]byte("02"))

	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data)
		if err != nil {
			return
		}
		if err := WriteTable(io.Discard, info); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(info); err != nil {
			t.Fatal(err)
		}
		if info.Permissions == nil && !strings.HasPrefix(
			info.PermissionsError, "permissions unreadable") {
			t.Fatalf("no permissions and no reason: %+v", info)
		}

		out, err := Attenuate(data, AttenuateOptions{Timeout: time.Hour,
			IP: "127.0.0.1", Now: time.Unix(1e9, 0)})
		if err != nil {
			return
		}
		again, err := Inspect(out)
		if err != nil {
			t.Fatalf("an attenuated macaroon does not read back: %v", err)
		}
		if len(again.Caveats) != len(info.Caveats)+2 {
			t.Fatalf("caveats %q after %q", again.Caveats, info.Caveats)
		}
	})
}
