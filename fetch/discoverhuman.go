package fetch

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/l402/l402/internal/cli"
)

// WriteHuman prints the discovery for people: what the manifest says of
// its provider on errOut, and its resources as a table on out (drawn
// for a terminal when tty), one row per resource: service, tiers, method, path,
// capability and price. Text from the manifest is made printable.
func (d Discovery) WriteHuman(out, errOut io.Writer, tty bool) error {
	m := d.Manifest
	p := printable(m.Provider.Name)
	if m.Provider.URI != "" {
		p += " (" + printable(m.Provider.URI) + ")"
	}
	fmt.Fprintf(errOut, "l402: %s: manifest %s, version %s, by %s\n",
		d.Origin, d.URL, printable(m.Version), p)
	if m.Provider.NodePubkey != "" {
		fmt.Fprintf(errOut, "l402: node %s\n", printable(m.Provider.NodePubkey))
	}
	fmt.Fprintf(errOut, "l402: payment methods %s\n",
		printable(strings.Join(m.PaymentMethods, ", ")))
	if m.QuoteEndpoint != "" {
		fmt.Fprintf(errOut, "l402: quotes at %s\n", printable(m.QuoteEndpoint))
	}
	if m.OpenAPI != "" {
		fmt.Fprintf(errOut, "l402: OpenAPI at %s\n", printable(m.OpenAPI))
	}
	if len(m.Caveats) > 0 {
		fmt.Fprintf(errOut, "l402: caveats %s\n", caveatsText(m.Caveats))
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(errOut, "l402: warning: %s\n", printable(w))
	}

	var rows [][]string
	for _, s := range m.Services {
		for _, r := range s.Resources {
			rows = append(rows, []string{printable(s.Name),
				tiersText(s.Tiers), r.Method, printable(r.Path),
				printable(r.Capability), PriceText(r.Pricing)})
		}
	}
	return cli.WriteTable(out, tty, []string{"SERVICE", "TIERS", "METHOD",
		"PATH", "CAPABILITY", "PRICE"}, rows)
}

// PriceText describes a price for people: "21 sat", "1 sat + 0.01 sat
// per forecast_monthly_requests", or that the quote endpoint says.
func PriceText(p Pricing) string {
	switch p.Model {
	case "fixed":
		return formatMsat(or(p.PriceMsat, 0))
	case "formula":
		parts := []string{formatMsat(or(p.BaseMsat, 0))}
		for _, c := range p.Components {
			per := printable(c.Constraint)
			if c.Unit > 1 {
				per = strconv.FormatInt(c.Unit, 10) + " " + per
			}
			parts = append(parts, formatMsat(or(c.PriceMsatPerUnit, 0))+
				" per "+per)
		}
		return strings.Join(parts, " + ")
	}
	return "dynamic: ask the quote endpoint"
}

// tiersText lists a service's tiers, "0" when it names none.
func tiersText(tiers []Tier) string {
	if len(tiers) == 0 {
		return "0"
	}
	var out []string
	for _, t := range tiers {
		s := strconv.Itoa(int(t.Tier))
		if t.Name != "" {
			s += " " + printable(t.Name)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// caveatsText lists the caveat vocabulary, by condition.
func caveatsText(caveats map[string]CaveatSpec) string {
	names := make([]string, 0, len(caveats))
	for n := range caveats {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		c := caveats[n]
		desc := c.Type
		if c.Attenuation != "" {
			desc += ", " + c.Attenuation
		}
		out = append(out, printable(n)+" ("+printable(desc)+")")
	}
	return strings.Join(out, ", ")
}

// printable returns s cut to 200 characters, Go-quoted when it is not
// valid UTF-8 of graphic characters and spaces, so that a server's text
// cannot drive the terminal it is shown on.
func printable(s string) string {
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "..."
	}
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
