package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// RunOptions are what a surface asks of one fetch: the CLI's flags, an MCP
// tool call. Limits left nil come from fetch.yaml, else the defaults.
type RunOptions struct {
	// ConfigPath is fetch.yaml; "" is the default one
	// (~/.l402/fetch.yaml), which may be missing: free URLs and
	// previews need no config.
	ConfigPath string

	// Config, when set, is the config itself, and ConfigPath is not
	// read: the lnget personality reads ~/.lnget/config.yaml into one
	// (LoadLngetConfig).
	Config *Config

	URL string

	// Method is GET when empty, or POST when there is a Body.
	Method string
	Header http.Header

	// Body opens the request body, again for the retry after a payment
	// (BodyBytes, BodyFile, ParseData). Nil for no body.
	Body func() (io.Reader, error)

	// The limits, over fetch.yaml's maxcost, maxfee, maxtotal,
	// maxperorigin, paymenttimeout and maxinvoiceexpiry.
	MaxCostSat       *int64
	MaxFeeSat        *int64
	MaxTotalSat      *int64
	MaxPerOriginSat  *int64
	PaymentTimeout   *time.Duration
	MaxInvoiceExpiry *time.Duration

	// Timeout bounds connecting, the TLS handshake and waiting for the
	// response headers of each request (not reading the body: a large
	// paid download may take longer), and is the longest Retry-After of
	// a 429 waited out, once. Nil is DefaultTimeout.
	Timeout *time.Duration

	// Insecure skips the verification of the server's certificate.
	Insecure bool

	// CACert, when set, is a PEM file of the certificates the server's
	// must chain to, instead of the system's (curl's --cacert): a
	// self-signed l402 serve's tls.cert, say.
	CACert string

	// NoPay never pays: a 402 is reported with its price, and needs no
	// node (an LNC one is not even connected).
	NoPay bool

	// PreferScheme is the scheme paid when a 402 offers both L402 and a
	// Payment charge (ParseScheme reads lnget's l402 and payment); ""
	// is fetch.yaml's preferscheme, else L402.
	PreferScheme Scheme

	// Session opens a Payment session where a 402 offers one, and
	// tops the origin's up when short (docs/mpp.md); false is
	// fetch.yaml's session.
	Session bool

	// AllowHTTPError makes a final status >= 400 a success.
	AllowHTTPError bool

	// SkipLimits says the caller shows no Result.Limits (the 24 hours'
	// spending, which is the ledger's): a run whose origin the store's
	// shortcut file names then sends its token without opening the
	// store (shortcut.go), and leaves Limits nil.
	SkipLimits bool

	// MaxRedirects is how many redirects are followed (nil:
	// DefaultMaxRedirects); NoRedirects follows none. A token never
	// follows a redirect to another origin, and a 402 reached by one is
	// never paid.
	MaxRedirects *int
	NoRedirects  bool

	Output Output

	// Log receives each step (verbose); nil is silent.
	Log io.Writer

	// Progress, when set, gets a progress bar for a download into a
	// file: a terminal's stderr.
	Progress io.Writer

	// Node connects to the config's paying node (nil when it names
	// none); nil is Config.Node. Tests put an in-memory node here.
	Node func(cfg Config, log io.Writer) (lightning.Node, error)
}

// Run performs one fetch as a surface asks it: it loads fetch.yaml, puts
// the options' limits over the config's, connects the transport, the
// paying node and the token store, fetches into the output, and closes
// them all. Cancelling ctx (SIGINT in the CLI) stops it; a payment in
// flight stays pending for the next run.
func Run(ctx context.Context, opts RunOptions) (Result, error) {
	res := Result{URL: opts.URL}
	cfg, err := opts.config()
	if err != nil {
		return res, err
	}
	fopts, err := opts.options(cfg)
	if err != nil {
		return res, err
	}
	if err := opts.Output.check(); err != nil {
		return res, err
	}

	out, err := openSink(opts.Output, &fopts)
	if err != nil {
		return res, err
	}
	var bar *ProgressBar
	if opts.Progress != nil && opts.Output.File != "" {
		bar = NewProgressBar(opts.Progress, opts.Output.File)
		fopts.Progress = bar.Start
	}

	res, err = opts.fetch(ctx, cfg, fopts, out.w)
	if bar != nil {
		bar.Finish()
	}
	return res, out.finish(&res, err)
}

// fetch is Run's fetch into out: with the token the store's shortcut file
// names, when the run may go without the store (shortcut.go), and
// otherwise, or when the answer to that token needs the store, with the
// client, the paying node and the store.
func (o RunOptions) fetch(ctx context.Context, cfg Config, fopts Options,
	out io.Writer) (Result, error) {

	if sc, ok := o.shortcut(cfg); ok {
		transport, err := o.transport(fopts.MaxRetryWait)
		if err != nil {
			return Result{URL: o.URL}, err
		}
		c := &Client{HTTP: &http.Client{Transport: transport}, Log: o.Log}
		res, done, err := c.fetchShortcut(ctx, fopts, sc,
			tokens.ShortcutPath(cfg.TokenStore), out)
		if done {
			return res, err
		}
	}
	client, closeAll, err := o.client(ctx, cfg, fopts.MaxRetryWait)
	if err != nil {
		return Result{URL: o.URL}, err
	}
	defer closeAll()
	return client.Fetch(ctx, fopts, out)
}

// config loads the run's fetch.yaml.
func (o RunOptions) config() (Config, error) {
	if o.Config != nil {
		return *o.Config, nil
	}
	path, explicit := o.ConfigPath, o.ConfigPath != ""
	if !explicit {
		var err error
		if path, err = DefaultConfigPath(); err != nil {
			return Config{}, err
		}
	}
	cfg, err := LoadConfig(path, explicit)
	if err != nil {
		return cfg, err
	}
	if _, err := os.Stat(path); err != nil {
		progress(o.Log, "config %s: none, the defaults apply", path)
	} else {
		progress(o.Log, "config %s", path)
	}
	return cfg, nil
}

// options returns the Options of the run: each limit given wins over
// fetch.yaml's, which wins over the default. Bad values are BadLimit
// errors naming the limit.
func (o RunOptions) options(cfg Config) (Options, error) {
	opts := Options{
		URL:            o.URL,
		Method:         o.Method,
		Header:         o.Header,
		Body:           o.Body,
		MaxCostSat:     or(o.MaxCostSat, *cfg.MaxCostSat),
		MaxFeeSat:      or(o.MaxFeeSat, *cfg.MaxFeeSat),
		MaxTotalSat:    or(o.MaxTotalSat, *cfg.MaxTotalSat),
		MaxOriginSat:   or(o.MaxPerOriginSat, cfg.MaxPerOriginSat),
		PaymentTimeout: or(o.PaymentTimeout, cfg.PaymentTimeout),
		NoPay:          o.NoPay,
		PreferScheme:   cfg.PreferScheme,
		Session:        o.Session || cfg.Session,
		AllowHTTPError: o.AllowHTTPError,
		MaxRedirects:   o.MaxRedirects,
		NoRedirects:    o.NoRedirects,
		MaxRetryWait:   or(o.Timeout, DefaultTimeout),
		MaxInvoiceExpiry: or(o.MaxInvoiceExpiry,
			cfg.MaxInvoiceExpiry),
	}
	for _, l := range []struct {
		limit Limit
		sat   int64
	}{
		{LimitCost, opts.MaxCostSat}, {LimitFee, opts.MaxFeeSat},
		{LimitTotal, opts.MaxTotalSat}, {LimitOrigin, opts.MaxOriginSat},
	} {
		if err := CheckAmounts(l.sat); err != nil {
			return opts, badLimit(l.limit, "%s must be sats from 0 to %d, "+
				"got %d", MaxSats, l.sat)
		}
	}
	switch {
	case opts.PaymentTimeout < 0:
		return opts, badLimit(LimitPaymentTimeout, "%s cannot be "+
			"negative, got %s", opts.PaymentTimeout)
	case opts.MaxRetryWait <= 0:
		return opts, badLimit(LimitTimeout, "%s must be positive, got %s",
			opts.MaxRetryWait)
	case opts.MaxInvoiceExpiry <= 0:
		return opts, badLimit(LimitInvoiceExpiry, "%s must be positive, "+
			"got %s", opts.MaxInvoiceExpiry)
	}
	if o.PreferScheme != "" {
		sc, err := ParseScheme(string(o.PreferScheme))
		if err != nil {
			return opts, err
		}
		opts.PreferScheme = sc
	}
	if opts.Body != nil && opts.Method == "" {
		opts.Method = http.MethodPost
	}
	return opts, nil
}

// or returns *v when it is set, else def.
func or[T any](v *T, def T) T {
	if v != nil {
		return *v
	}
	return def
}

// client returns the run's client and the function that closes what it
// holds: the paying node and the token store.
func (o RunOptions) client(ctx context.Context, cfg Config,
	timeout time.Duration) (*Client, func(), error) {

	transport, err := o.transport(timeout)
	if err != nil {
		return nil, nil, err
	}
	node, err := o.node(cfg)
	if err != nil {
		return nil, nil, err
	}
	store, err := o.store(ctx, cfg)
	if err != nil {
		if node != nil {
			node.Close()
		}
		return nil, nil, err
	}
	closeAll := func() {
		if store != nil {
			store.Close()
		}
		if node != nil {
			node.Close()
		}
	}
	return &Client{
		HTTP:  &http.Client{Transport: transport},
		Node:  node,
		Store: store,
		Log:   o.Log,
	}, closeAll, nil
}

// store opens the run's token store. A preview (NoPay) writes nothing:
// when there is no store yet it creates none and returns nil, as it has
// no token to send and no pending payment to find.
func (o RunOptions) store(ctx context.Context, cfg Config) (*tokens.Store,
	error) {

	if o.NoPay {
		if _, err := os.Lstat(cfg.TokenStore); errors.Is(err,
			fs.ErrNotExist) {
			progress(o.Log, "token store %s: none yet, and a preview "+
				"creates none", cfg.TokenStore)
			return nil, nil
		}
	}
	store, err := tokens.Open(ctx, cfg.TokenStore)
	if err != nil {
		return nil, err
	}
	progress(o.Log, "token store %s", cfg.TokenStore)
	return store, nil
}

// node returns the paying node, or nil when the run has or needs none: a
// preview needs no node, so one that cannot be set up is left out, and an
// LNC one, slow to connect, is not even tried.
func (o RunOptions) node(cfg Config) (lightning.Node, error) {
	dial := o.Node
	if dial == nil {
		dial = func(cfg Config, log io.Writer) (lightning.Node, error) {
			return cfg.Node(log)
		}
	}
	node, err := dial(cfg, o.Log)
	if err != nil && !o.NoPay {
		return nil, err
	}
	if err != nil || (o.NoPay && cfg.LNC != nil) {
		if node != nil {
			node.Close()
		}
		progress(o.Log, "paying node: none (a preview needs none)")
		return nil, nil
	}
	switch {
	case node == nil:
		progress(o.Log, "paying node: none configured")
	case cfg.LNC != nil:
		progress(o.Log, "paying node: LNC session via %s, connected "+
			"only if needed", cfg.LNC.MailboxAddr())
	case cfg.Lnd.Host != "":
		progress(o.Log, "paying node: lnd at %s, reached only if needed",
			cfg.Lnd.Host)
	default:
		progress(o.Log, "paying node: reached only if needed")
	}
	return node, nil
}

// transport returns the HTTP transport of a run: timeout bounds
// connecting, the TLS handshake and waiting for the response headers,
// not reading the body.
func (o RunOptions) transport(timeout time.Duration) (*http.Transport,
	error) {

	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: timeout}).DialContext
	t.TLSHandshakeTimeout = timeout
	t.ResponseHeaderTimeout = timeout
	switch {
	case o.Insecure:
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	case o.CACert != "":
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, badOptions(fmt.Errorf("CA certificate file: %w",
				err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, badOptions(fmt.Errorf("CA certificate file %s "+
				"holds no PEM certificate", o.CACert))
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return t, nil
}
