// Package mcp is `l402 mcp`: a Model Context Protocol server whose tools
// buy through fetch.Run within caps that only the user sets, and read the
// token store. Every tool also answers under lnget v1.1.0's name.
package mcp

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/fault"
	"github.com/l402/l402/internal/lightning"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultBodyCap is how much of a body a tool result carries unless the
// user sets another cap: enough for an API's JSON, little enough for a
// model's context.
const DefaultBodyCap = 64 << 10

// ErrBadOptions: the server's own options are wrong (a negative cap, an
// HTTP address that is not a loopback one), or a tool's arguments are.
var ErrBadOptions = fault.New("bad_arguments", "bad mcp options")

// Options are the server's settings: the user's, from the command line.
// The caps left nil come from fetch.yaml, else fetch's defaults; they are
// read once, at start, and no tool argument can raise them.
type Options struct {
	// ConfigPath is fetch.yaml; "" is the default one.
	ConfigPath string

	// The caps of every purchase: the most one call may pay, its
	// routing fee, and the spending of any 24 hours (0: no cap).
	MaxCostSat  *int64
	MaxFeeSat   *int64
	MaxTotalSat *int64

	// BodyCap is how many bytes of a body a result carries (the rest is
	// counted in size and dropped, and body_truncated says so); 0 is
	// DefaultBodyCap.
	BodyCap int64

	// Timeout, Insecure and CACert are fetch's (RunOptions).
	Timeout  *time.Duration
	Insecure bool
	CACert   string

	// OutputDir is where the output argument may write files: a
	// relative path is taken from it, and a path that leaves it (an
	// absolute path elsewhere, "..", a symbolic link out) is refused. ""
	// is the working directory at start.
	OutputDir string

	// Version is the server's version, as the initialize answer says.
	Version string

	// Log receives fetch's steps (stderr, never stdout: stdio carries
	// the protocol); nil is silent.
	Log io.Writer

	// Node connects to fetch.yaml's paying node; nil is Config.Node.
	// Tests put an in-memory node here.
	Node func(cfg fetch.Config, log io.Writer) (lightning.Node, error)

	// In and Out carry the protocol over stdio (nil: os.Stdin and
	// os.Stdout). HTTPAddr, when set, serves streamable HTTP on this
	// loopback address instead; Listening is told the endpoint's URL
	// once it listens.
	In        io.Reader
	Out       io.Writer
	HTTPAddr  string
	Listening func(url string)
}

// Limits are the caps the server keeps every call to, resolved at start.
type Limits struct {
	MaxCostSat      int64         `json:"max_cost_sat" jsonschema:"the most one call may pay for a token, in sats"`
	MaxFeeSat       int64         `json:"max_fee_sat" jsonschema:"the most routing fee of one payment, in sats"`
	MaxTotalSat     int64         `json:"max_total_sat" jsonschema:"the most spent in any 24 hours, all origins, fees included; 0 is no cap"`
	MaxPerOriginSat int64         `json:"max_per_origin_sat" jsonschema:"the most spent at one origin in any 24 hours; 0 is no cap"`
	PaymentTimeout  time.Duration `json:"-"`
	// MaxInvoiceExpiry is the longest an invoice may stay payable.
	MaxInvoiceExpiry time.Duration `json:"-"`
}

// Server is the MCP server: its limits, the config it read and the SDK's
// server with the tools registered. It is safe for concurrent calls.
type Server struct {
	opts    Options
	cfg     fetch.Config
	limits  Limits
	bodyCap int64
	outDir  string
	mcp     *sdk.Server
}

// New reads fetch.yaml, resolves the caps (the options' over the
// config's over fetch's defaults) and registers the tools.
func New(opts Options) (*Server, error) {
	path, explicit := opts.ConfigPath, opts.ConfigPath != ""
	if !explicit {
		var err error
		if path, err = fetch.DefaultConfigPath(); err != nil {
			return nil, err
		}
	}
	cfg, err := fetch.LoadConfig(path, explicit)
	if err != nil {
		return nil, err
	}
	lim := Limits{
		MaxCostSat:       or(opts.MaxCostSat, *cfg.MaxCostSat),
		MaxFeeSat:        or(opts.MaxFeeSat, *cfg.MaxFeeSat),
		MaxTotalSat:      or(opts.MaxTotalSat, *cfg.MaxTotalSat),
		MaxPerOriginSat:  cfg.MaxPerOriginSat,
		PaymentTimeout:   cfg.PaymentTimeout,
		MaxInvoiceExpiry: cfg.MaxInvoiceExpiry,
	}
	for _, v := range []struct {
		name string
		sat  int64
	}{
		{"max cost", lim.MaxCostSat}, {"max fee", lim.MaxFeeSat},
		{"max total", lim.MaxTotalSat},
	} {
		if fetch.CheckAmounts(v.sat) != nil {
			return nil, ErrBadOptions.Mark(fmt.Errorf("%s must be sats "+
				"from 0 to %d, got %d", v.name, fetch.MaxSats, v.sat))
		}
	}
	if opts.BodyCap < 0 {
		return nil, ErrBadOptions.Mark(errors.New("the body cap cannot " +
			"be negative"))
	}
	outDir, err := resolveOutputDir(opts.OutputDir)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, cfg: cfg, limits: lim, bodyCap: opts.BodyCap,
		outDir: outDir}
	if s.bodyCap == 0 {
		s.bodyCap = DefaultBodyCap
	}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	s.mcp = sdk.NewServer(&sdk.Implementation{Name: "l402",
		Version: version}, &sdk.ServerOptions{
		Instructions: s.instructions(),
	})
	s.register()
	return s, nil
}

// Limits returns the caps the server keeps to.
func (s *Server) Limits() Limits { return s.limits }

// instructions tells the client what the server is for and what it will
// never do, with the caps in force.
func (s *Server) instructions() string {
	return fmt.Sprintf("l402 buys HTTP APIs that ask for Lightning "+
		"payments (HTTP 402, L402). fetch (lnget: download) fetches a URL "+
		"and pays its price from the user's node; preview (dry_run) shows "+
		"the price without paying. The user's caps hold for every call and "+
		"no argument can raise them: %s. A call above them is refused "+
		"with the reason, and nothing is paid.", s.capsText())
}

// capsText describes the caps in force, for the instructions and the
// tools' descriptions.
func (s *Server) capsText() string {
	total := "no 24-hour cap"
	if s.limits.MaxTotalSat > 0 {
		total = fmt.Sprintf("%d sat in any 24 hours", s.limits.MaxTotalSat)
	}
	return fmt.Sprintf("at most %d sat a call (plus up to %d sat routing "+
		"fee), %s", s.limits.MaxCostSat, s.limits.MaxFeeSat, total)
}

// or returns *v when it is set, else def.
func or[T any](v *T, def T) T {
	if v != nil {
		return *v
	}
	return def
}
