package macaroons

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lightning/lndrpc"
	"google.golang.org/protobuf/proto"
	"gopkg.in/macaroon.v2"
)

// lndIDVersion is the first byte of the id of every macaroon lnd bakes:
// macaroon-bakery's bakery.Version3 (LatestVersion), followed by a
// protobuf MacaroonId (bakery/oven.go, NewMacaroon).
const lndIDVersion = 3

// Info is what a macaroon says about itself. Text that comes from the
// macaroon is made printable: control characters are quoted, so a hostile
// file cannot drive the terminal it is shown on.
type Info struct {
	// Version is the macaroon's format, 1 or 2 (lnd writes 2).
	Version int `json:"version"`

	// Location is the macaroon's location hint ("lnd").
	Location string `json:"location"`

	// ID is the macaroon's identifier, hex.
	ID string `json:"id"`

	// RootKeyID is the lnd root key the macaroon was baked under, as
	// `lncli deletemacaroonid` takes it, when the id is lnd's.
	RootKeyID string `json:"root_key_id,omitempty"`

	// Nonce is the random part of an lnd id, hex.
	Nonce string `json:"nonce,omitempty"`

	// Role names the l402 role whose permissions these exactly are.
	Role string `json:"role,omitempty"`

	// Permissions are what the id grants, when it is lnd's format.
	Permissions []lightning.Permission `json:"permissions"`

	// PermissionsError says why Permissions could not be read; it
	// starts "permissions unreadable".
	PermissionsError string `json:"permissions_error,omitempty"`

	// Caveats are the macaroon's caveats as text, in order: first-party
	// ones as written ("time-before 2030-01-02T03:04:05Z"), third-party
	// ones as "third-party <location> <id hex>".
	Caveats []string `json:"caveats"`

	// ExpiresAt is the earliest time-before caveat, if any.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Inspect reads a macaroon, binary or hex, without any node. It fails only
// when the input is not a macaroon; an id that is not lnd's leaves
// Permissions empty and says so in PermissionsError.
func Inspect(mac []byte) (Info, error) {
	m, err := decodeMacaroon(mac)
	if err != nil {
		return Info{}, err
	}

	info := Info{
		Version:  int(m.Version()),
		Location: printable(m.Location()),
		ID:       hex.EncodeToString(m.Id()),
		Caveats:  []string{},
	}
	readID(&info, m.Id())
	readCaveats(&info, m.Caveats())
	return info, nil
}

// readID fills in what lnd writes into a macaroon's id.
func readID(info *Info, id []byte) {
	mid, err := decodeLndID(id)
	if err != nil {
		info.PermissionsError = "permissions unreadable: " + err.Error()
		return
	}

	info.RootKeyID = printableOrHex(mid.StorageId)
	info.Nonce = hex.EncodeToString(mid.Nonce)
	info.Permissions = []lightning.Permission{}
	for _, op := range mid.Ops {
		for _, action := range op.Actions {
			info.Permissions = append(info.Permissions,
				lightning.Permission{
					Entity: printable(op.Entity),
					Action: printable(action),
				})
		}
	}
	info.Role = roleOf(info.Permissions)
}

// decodeLndID decodes an id as macaroon-bakery's oven writes it for lnd:
// a version byte 3 and a protobuf MacaroonId. Like the oven, it also takes
// the URL-safe base64 form bakery uses for version 1 macaroons.
func decodeLndID(id []byte) (*lndrpc.MacaroonId, error) {
	if len(id) == 0 {
		return nil, errors.New("the id is empty")
	}
	if id[0] == 'A' {
		if dec, err := base64.RawURLEncoding.DecodeString(
			string(id)); err == nil && len(dec) > 0 {

			id = dec
		}
	}
	if id[0] != lndIDVersion {
		return nil, fmt.Errorf("the id is not lnd's (it starts with "+
			"byte %d, lnd's with %d)", id[0], lndIDVersion)
	}

	mid := &lndrpc.MacaroonId{}
	if err := proto.Unmarshal(id[1:], mid); err != nil {
		return nil, fmt.Errorf("the id is not lnd's: %w", err)
	}
	// Like the oven, refuse an id that grants nothing.
	if len(mid.Ops) == 0 || len(mid.Ops[0].Actions) == 0 {
		return nil, errors.New("the id names no permissions")
	}
	return mid, nil
}

// readCaveats lists the caveats as text and finds the earliest expiry.
func readCaveats(info *Info, caveats []macaroon.Caveat) {
	for _, c := range caveats {
		if len(c.VerificationId) > 0 || c.Location != "" {
			info.Caveats = append(info.Caveats, fmt.Sprintf(
				"third-party %s %x", printable(c.Location), c.Id))
			continue
		}

		text := string(c.Id)
		info.Caveats = append(info.Caveats, printable(text))
		t, ok := timeBefore(text)
		if ok && (info.ExpiresAt == nil || t.Before(*info.ExpiresAt)) {
			info.ExpiresAt = &t
		}
	}
}

// timeBefore returns the time of a time-before caveat in lnd's format.
func timeBefore(caveat string) (time.Time, bool) {
	arg, ok := strings.CutPrefix(caveat, condTimeBefore+" ")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, arg)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// printable returns s unchanged when it is valid UTF-8 made of graphic
// characters and spaces, and Go-quoted otherwise.
func printable(s string) string {
	if !utf8.ValidString(s) {
		return strconv.QuoteToGraphic(s)
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsGraphic(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}

// printableOrHex returns b as text when it is printable ASCII (lnd's root
// key IDs are decimal), and as hex otherwise.
func printableOrHex(b []byte) string {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return hex.EncodeToString(b)
		}
	}
	return string(b)
}

// WriteTable writes info as plain, aligned text, one field a line and one
// line per permission and caveat.
func WriteTable(w io.Writer, info Info) error {
	tw := &tableWriter{w: w}
	tw.row("version", strconv.Itoa(info.Version))
	tw.row("location", info.Location)
	tw.row("id", info.ID)
	if info.RootKeyID != "" {
		tw.row("root key id", info.RootKeyID)
	}
	if info.Nonce != "" {
		tw.row("nonce", info.Nonce)
	}
	if info.Role != "" {
		tw.row("role", info.Role)
	}

	perms := make([]string, 0, len(info.Permissions))
	for _, p := range info.Permissions {
		perms = append(perms, p.String())
	}
	if info.PermissionsError != "" {
		perms = []string{info.PermissionsError}
	}
	tw.rows("permissions", perms)
	tw.rows("caveats", info.Caveats)
	if info.ExpiresAt != nil {
		tw.row("expires", info.ExpiresAt.Format(time.RFC3339Nano))
	}
	return tw.err
}

// tableWriter writes label/value lines, remembering the first error.
type tableWriter struct {
	w   io.Writer
	err error
}

// row writes one labelled line.
func (t *tableWriter) row(label, value string) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, "%-12s %s\n", label, value)
	}
}

// rows writes a label with several values, one a line, or "(none)".
func (t *tableWriter) rows(label string, values []string) {
	if len(values) == 0 {
		t.row(label, "(none)")
		return
	}
	for i, v := range values {
		if i > 0 {
			label = ""
		}
		t.row(label, v)
	}
}
