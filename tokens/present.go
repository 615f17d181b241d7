package tokens

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/l402/l402/internal/l402"
)

// View is a token or pending payment as `l402 tokens` shows it; its JSON
// field names are stable for agents.
type View struct {
	Origin      string     `json:"origin"`
	State       string     `json:"state"` // "paid" or "pending"
	PaymentHash string     `json:"payment_hash"`
	AmountSat   int64      `json:"amount_sat"`
	FeeSat      int64      `json:"fee_sat"`
	CreatedAt   time.Time  `json:"created_at"`
	ValidUntil  *time.Time `json:"valid_until"`
	Expired     bool       `json:"expired"`
	Caveats     []string   `json:"caveats,omitempty"`
}

// MsatToSat rounds msat up to whole sats, as every l402 report does.
func MsatToSat(msat int64) int64 { return (msat + 999) / 1000 }

// viewOf describes a token; with caveats, its macaroon's caveats too.
func viewOf(t Token, now time.Time, caveats bool) View {
	v := View{
		Origin:      t.Origin,
		State:       "paid",
		PaymentHash: t.PaymentHash.String(),
		AmountSat:   MsatToSat(t.AmountMsat),
		FeeSat:      MsatToSat(t.FeeMsat),
		CreatedAt:   t.CreatedAt.UTC(),
	}
	if until, ok := t.ValidUntil(); ok {
		u := until.UTC()
		v.ValidUntil = &u
		v.Expired = now.After(until)
	}
	if caveats {
		if cred, err := t.Credential(); err == nil {
			cs, _ := l402.Caveats(cred.Macaroon)
			for _, c := range cs {
				v.Caveats = append(v.Caveats, c.String())
			}
		}
	}
	return v
}

// Views lists every token and every pending payment, by origin.
func (s *Store) Views(ctx context.Context, now time.Time) ([]View, error) {
	toks, err := s.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	pend, err := s.PendingFor(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(toks)+len(pend))
	for _, t := range toks {
		out = append(out, viewOf(t, now, false))
	}
	for _, p := range pend {
		out = append(out, View{
			Origin:      p.Origin,
			State:       "pending",
			PaymentHash: p.PaymentHash.String(),
			AmountSat:   MsatToSat(p.AmountMsat),
			CreatedAt:   p.CreatedAt.UTC(),
		})
	}
	return out, nil
}

// Show describes one origin's token with its caveats.
func (s *Store) Show(ctx context.Context, origin string, now time.Time) (
	View, error) {

	t, err := s.Token(ctx, origin)
	if err != nil {
		return View{}, err
	}
	return viewOf(t, now, true), nil
}

// WriteJSON writes v as one line of JSON.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteTable writes rows under a header: a lipgloss table on a terminal,
// tab-separated columns otherwise, so that pipes get stable text.
func WriteTable(w io.Writer, tty bool, header []string,
	rows [][]string) error {

	if !tty {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	}

	head := lipgloss.NewStyle().Bold(true).Padding(0, 1)
	cell := lipgloss.NewStyle().Padding(0, 1)
	t := table.New().
		Border(lipgloss.RoundedBorder()).
		Headers(header...).
		Rows(rows...).
		StyleFunc(func(row, _ int) lipgloss.Style {
			if row == table.HeaderRow {
				return head
			}
			return cell
		})
	_, err := fmt.Fprintln(w, t.Render())
	return err
}

// ViewRows turns views into table rows.
func ViewRows(views []View) (header []string, rows [][]string) {
	header = []string{"ORIGIN", "STATE", "AMOUNT", "FEE", "BOUGHT",
		"VALID UNTIL"}
	for _, v := range views {
		until := "-"
		if v.ValidUntil != nil {
			until = v.ValidUntil.Format(time.RFC3339)
			if v.Expired {
				until += " (expired)"
			}
		}
		rows = append(rows, []string{v.Origin, v.State,
			fmt.Sprintf("%d sat", v.AmountSat),
			fmt.Sprintf("%d sat", v.FeeSat),
			v.CreatedAt.Format(time.RFC3339), until})
	}
	return header, rows
}
