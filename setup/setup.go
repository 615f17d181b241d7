// Package setup is `l402 setup`: it finds the local lnd, checks it
// answers on the expected network, bakes least-privilege macaroons
// unless told not to, and writes serve.yaml and fetch.yaml.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/cli"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lndconn"
	"github.com/l402/l402/internal/lnddetect"
)

// Roles setup writes configs for.
const (
	RoleSeller = "seller"
	RoleBuyer  = "buyer"
	RoleBoth   = "both"
)

// The conditions setup ends in beyond lnd's own (lnddetect.Problem, with
// its cause as the code); internal/cli maps them to exit codes.
var (
	// ErrBadOptions: the flags are wrong or contradict each other.
	ErrBadOptions = fault.New("bad_arguments", "bad setup options")

	// ErrConfigExists: a config file exists with other content and
	// --force was not given; the diff is shown.
	ErrConfigExists = fault.New("config_exists", "config file differs")

	// ErrSessionExists: the LNC session file holds another pairing.
	ErrSessionExists = fault.New("lnc_session_exists",
		"LNC session file holds another pairing")

	// ErrBadPhrase: the pairing phrase is not one.
	ErrBadPhrase = fault.New("lnc_bad_phrase", "bad pairing phrase")

	// ErrLNCUnreachable: the mailbox or the node behind it cannot be
	// reached with the phrase.
	ErrLNCUnreachable = fault.New("lnc_unreachable", "LNC unreachable")

	// ErrWrongNetwork: the node is on another network than --network.
	ErrWrongNetwork = fault.New("wrong_network", "wrong network")
)

// Options are `l402 setup`'s flags.
type Options struct {
	Role string

	// Lnd says where lnd is, and the user's home and environment for
	// finding it; empty fields are found (lnddetect).
	Lnd lndconn.Options

	// Seller: the service sold.
	Upstream string
	Price    int64
	Path     string
	Service  string
	Port     int
	Listen   string
	Insecure bool
	NoAuth   bool

	// Buyer: the default price limit written to fetch.yaml (0: leave
	// fetch's default).
	MaxCost int64

	// Bake and NoBake say whether setup bakes the role's macaroon
	// (invoice-only for serve, pay-only for fetch) with lnd's admin
	// macaroon when it finds none of l402's. By default (neither) it
	// bakes when it can and, when it cannot, falls back to lnd's own
	// (invoice.macaroon, or admin.macaroon for fetch) with a warning;
	// Bake makes a failure to bake an error; NoBake never bakes.
	Bake   bool
	NoBake bool

	// Force replaces config files that differ.
	Force bool

	// Interactive asks on the terminal what could not be found.
	Interactive bool

	// Home is l402's directory (~/.l402): the configs go there.
	Home string

	// LNC reaches the node through Lightning Node Connect instead.
	LNC LNCOptions

	IO cli.IO
}

// Report is what setup found and did; `--json` prints it.
type Report struct {
	Role  string   `json:"role"`
	Lnd   *LndInfo `json:"lnd,omitempty"`
	Files []File   `json:"files"`
	Baked []string `json:"baked,omitempty"`

	// Macaroons names the macaroon each config setup wrote uses, and
	// why that one.
	Macaroons []MacaroonUse `json:"macaroons,omitempty"`

	Warnings []string  `json:"warnings,omitempty"`
	Next     []string  `json:"next"`
	When     time.Time `json:"-"`
}

// LndInfo is the lnd setup chose and what it said about itself.
type LndInfo struct {
	Dir         string   `json:"dir,omitempty"`
	Source      string   `json:"source"`
	Network     string   `json:"network"`
	Host        string   `json:"host"`
	TLSCertPath string   `json:"tls_cert_path"`
	MacaroonDir string   `json:"macaroon_dir"`
	Alias       string   `json:"alias,omitempty"`
	Pubkey      string   `json:"pubkey,omitempty"`
	Synced      bool     `json:"synced_to_chain"`
	Notes       []string `json:"notes,omitempty"`

	// Mailbox and SessionFile are set when the node is reached over LNC
	// (Source "lnc").
	Mailbox     string `json:"mailbox,omitempty"`
	SessionFile string `json:"session_file,omitempty"`
}

// MacaroonUse is the macaroon a config calls lnd with, and why setup
// chose it.
type MacaroonUse struct {
	// Config is the file that names it: serve.yaml or fetch.yaml.
	Config string `json:"config"`
	Path   string `json:"path"`

	// Kind is what it is: one of l402's roles (invoice-only, pay-only,
	// l402-both) or lnd's own macaroon (invoice, admin).
	Kind string `json:"kind"`

	// LeastPrivilege is true when it grants the config's job and no
	// more: invoice-only for serve, pay-only for fetch.
	LeastPrivilege bool `json:"least_privilege"`

	// Baked is true when this run baked it.
	Baked bool `json:"baked"`

	// Reason says why setup chose it.
	Reason string `json:"reason"`
}

// File is one config file setup wrote or left.
type File struct {
	Path string `json:"path"`

	// Status is "written", "unchanged", or "differs" (not replaced).
	Status string `json:"status"`
	Diff   string `json:"diff,omitempty"`
}

// Run does the setup and returns its report; the report is filled as far
// as setup got even when it fails.
func Run(ctx context.Context, o Options) (*Report, error) {
	rep := &Report{Role: o.Role, Files: []File{}, Next: []string{}}
	if err := o.check(); err != nil {
		return rep, ErrBadOptions.Mark(err)
	}
	if o.usesLNC() {
		if err := o.runLNC(ctx, rep); err != nil {
			return rep, err
		}
		return rep, o.filesDiffer(rep)
	}
	seller := o.Role == RoleSeller || o.Role == RoleBoth
	buyer := o.Role == RoleBuyer || o.Role == RoleBoth

	var node *found
	if buyer || (seller && !o.NoAuth) {
		var err error
		if node, err = o.findLnd(ctx, rep); err != nil {
			return rep, err
		}
	}
	if seller {
		if err := o.seller(ctx, node, rep); err != nil {
			return rep, err
		}
	}
	if buyer {
		if err := o.buyer(ctx, node, rep); err != nil {
			return rep, err
		}
	}
	return rep, o.filesDiffer(rep)
}

// filesDiffer is exit 4 when a config file was kept because it differs.
func (o *Options) filesDiffer(rep *Report) error {
	for _, f := range rep.Files {
		if f.Status == "differs" {
			return ErrConfigExists.Mark(fmt.Errorf("%s exists with "+
				"other settings (its diff is shown): keep it, or replace it "+
				"with --force", f.Path))
		}
	}
	return nil
}

// check validates the flags.
func (o *Options) check() error {
	switch o.Role {
	case RoleSeller, RoleBuyer, RoleBoth:
	default:
		return fmt.Errorf("--role %q: use seller, buyer or both", o.Role)
	}
	if o.Price < 1 || o.Price > 2_100_000_000_000_000 {
		return fmt.Errorf("--price %d: use 1 to 2100000000000000 sats",
			o.Price)
	}
	if o.Port < 1 || o.Port > 65535 {
		return fmt.Errorf("--port %d is not a TCP port", o.Port)
	}
	if o.Listen != "" {
		if _, _, err := net.SplitHostPort(o.Listen); err != nil {
			return fmt.Errorf("--listen %q is not host:port", o.Listen)
		}
	}
	if _, _, err := upstream(o.Upstream); err != nil {
		return err
	}
	if err := l402.ValidName(o.Service); err != nil {
		return fmt.Errorf("--service: %w (it goes into the token's "+
			"caveats)", err)
	}
	if o.MaxCost < 0 {
		return errors.New("--max-cost cannot be negative")
	}
	if o.Bake && o.NoBake {
		return errors.New("--bake and --no-bake contradict each other: " +
			"setup bakes by default when it can; --bake makes a failure " +
			"to bake an error, --no-bake never bakes")
	}
	return o.Lnd.Check()
}

// upstream splits --upstream into protocol and host:port; a bare
// host:port is http.
func upstream(s string) (proto, addr string, err error) {
	proto, addr = "http", s
	if strings.Contains(s, "://") {
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			(u.Path != "" && u.Path != "/") {
			return "", "", fmt.Errorf("--upstream %q: use host:port or "+
				"http(s)://host:port", s)
		}
		proto, addr = u.Scheme, u.Host
	}
	host, port, perr := net.SplitHostPort(addr)
	if perr != nil || host == "" {
		return "", "", fmt.Errorf("--upstream %q: use host:port, such as "+
			"127.0.0.1:8080", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("--upstream %q: bad port", s)
	}
	return proto, addr, nil
}

// found is the lnd setup will write into the configs.
type found struct {
	res  *lnddetect.Result
	info lnddetect.NodeInfo
}

// findLnd finds lnd, asks on the terminal when allowed and needed, and
// checks it with GetInfo.
func (o *Options) findLnd(ctx context.Context, rep *Report) (*found,
	error) {

	res, err := lndconn.Find(o.Lnd, o.hooks())
	if err != nil {
		return nil, err
	}

	var info lnddetect.NodeInfo
	probe := o.probeMacaroon(res)
	if _, ierr := res.Macaroon("invoice"); probe == "" && ierr == nil &&
		o.Role == RoleSeller {
		// lnd's invoice macaroon may not call GetInfo: serve works
		// with it, but lnd cannot be checked from here.
		rep.Warnings = append(rep.Warnings, "no readable macaroon may "+
			"call GetInfo (readonly, admin or one l402 baked), so lnd "+
			"was not checked; serve will find out when it starts")
		info.SyncedToChain = true
	} else if info, err = o.probe(ctx, res, probe); err != nil {
		return nil, err
	}
	rep.Lnd = &LndInfo{Dir: res.LndDir, Source: res.Source,
		Network: res.Network, Host: res.RPCHost,
		TLSCertPath: res.TLSCertPath, MacaroonDir: res.MacaroonDir,
		Alias: info.Alias, Pubkey: info.Pubkey, Synced: info.SyncedToChain,
		Notes: res.Notes}
	if rep.Lnd.Network == "" {
		rep.Lnd.Network = info.Network
	}
	if !info.SyncedToChain {
		rep.Warnings = append(rep.Warnings, "lnd is not synced to the "+
			"chain yet: payments and invoices may fail until it is")
	}
	return &found{res: res, info: info}, nil
}

// probe dials lnd with the named macaroon (lnddetect's choice when
// empty), for what its GetInfo says, and hangs up.
func (o *Options) probe(ctx context.Context, res *lnddetect.Result,
	name string) (lnddetect.NodeInfo, error) {

	var m lndconn.Macaroon
	if name != "" {
		m.Names = []string{name}
	}
	node, err := lndconn.Dial(ctx, res, m)
	if err != nil {
		return lnddetect.NodeInfo{}, err
	}
	node.Close()
	return node.Info, nil
}

// hooks lets Find ask on the terminal, when setup may, for the network
// and for lnd's directory.
func (o *Options) hooks() lndconn.Hooks {
	if !o.canAsk() {
		return lndconn.Hooks{}
	}
	return lndconn.Hooks{
		Network: func(networks []string) (string, error) {
			return o.ask("lnd has several networks ("+
				strings.Join(networks, ", ")+"): which one?", networks)
		},
		LndDir: func() (string, error) {
			return o.ask("lnd was not found: its directory?", nil)
		},
	}
}

// probeMacaroon picks the macaroon GetInfo is asked with: lnd's readonly
// or admin one (lnddetect's choice), else one of l402's roles, which may
// read node info too.
func (o *Options) probeMacaroon(res *lnddetect.Result) string {
	for _, name := range []string{"readonly", "admin"} {
		if _, err := res.Macaroon(name); err == nil {
			return name
		}
	}
	for _, name := range []string{"pay-only", "invoice-only", "l402-both"} {
		if _, err := res.Macaroon(name); err == nil {
			return name
		}
	}
	return ""
}

// canAsk reports whether setup may prompt.
func (o *Options) canAsk() bool {
	return o.Interactive && o.IO.InTTY && o.IO.ErrTTY
}

// ask prompts on stderr and reads one line from stdin; with choices, the
// answer must be one of them.
func (o *Options) ask(question string, choices []string) (string, error) {
	fmt.Fprintf(o.IO.ErrOut, "%s ", question)
	var line string
	if _, err := fmt.Fscanln(o.IO.In, &line); err != nil {
		return "", fmt.Errorf("no answer: %w", err)
	}
	line = strings.TrimSpace(line)
	if len(choices) > 0 {
		for _, c := range choices {
			if c == line {
				return line, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", line,
			strings.Join(choices, ", "))
	}
	return line, nil
}

// writeHuman prints the node setup found, and how it is reached.
func (l *LndInfo) writeHuman(w io.Writer) {
	if l.Source == "lnc" {
		fmt.Fprintf(w, "lnd: %s over LNC via mailbox %s on %s\n",
			orUnknown(l.Alias), l.Mailbox, orUnknown(l.Network))
		fmt.Fprintf(w, "  session keys in %s\n", l.SessionFile)
	} else {
		fmt.Fprintf(w, "lnd: %s at %s on %s (found via %s)\n", l.Alias,
			l.Host, l.Network, l.Source)
	}
	if l.Pubkey != "" {
		fmt.Fprintf(w, "  pubkey %s, synced to chain: %v\n", l.Pubkey,
			l.Synced)
	}
	for _, n := range l.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// orUnknown is s, or "(unknown)" when empty.
func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// WriteHuman prints the report for people, on w (stderr).
func (r *Report) WriteHuman(w io.Writer) {
	if r.Lnd != nil {
		r.Lnd.writeHuman(w)
	}
	for _, b := range r.Baked {
		fmt.Fprintf(w, "baked %s\n", b)
	}
	for _, m := range r.Macaroons {
		fmt.Fprintf(w, "%s uses %s (%s): %s\n", m.Config, m.Path, m.Kind,
			m.Reason)
	}
	for _, f := range r.Files {
		fmt.Fprintf(w, "%s: %s\n", f.Path, f.Status)
		if f.Diff != "" {
			fmt.Fprint(w, f.Diff)
		}
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
	for _, n := range r.Next {
		fmt.Fprintf(w, "next: %s\n", n)
	}
}
