package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnddetect"
)

// Config is fetch.yaml: the node that pays and the default limits.
type Config struct {
	Lnd LndConfig `yaml:"lnd"`

	// LNC reaches the paying node through Lightning Node Connect
	// instead of lnd's gRPC port; nil when the section is absent.
	LNC *LNCConfig `yaml:"lnc"`

	// MaxCostSat and MaxFeeSat are pointers so that an explicit 0 (pay
	// nothing, or only fee-free routes) is kept, not taken as unset.
	MaxCostSat     *int64        `yaml:"maxcost" want:"a whole number of satoshis"`
	MaxFeeSat      *int64        `yaml:"maxfee" want:"a whole number of satoshis"`
	PaymentTimeout time.Duration `yaml:"paymenttimeout"`
	TokenStore     string        `yaml:"tokenstore"`

	// MaxTotalSat and MaxPerOriginSat cap the spending of any 24 hours,
	// all origins together and per origin; 0 means no cap. MaxTotalSat
	// is a pointer so that an explicit 0 is kept: unset is
	// DefaultMaxTotalSat.
	MaxTotalSat     *int64 `yaml:"maxtotal" want:"a whole number of satoshis"`
	MaxPerOriginSat int64  `yaml:"maxperorigin" want:"a whole number of satoshis"`

	// MaxInvoiceExpiry is the longest an invoice may stay payable from
	// now; unset is DefaultMaxInvoiceExpiry.
	MaxInvoiceExpiry time.Duration `yaml:"maxinvoiceexpiry"`

	// PreferScheme is the scheme paid when a 402 offers both: l402
	// (unset) or payment.
	PreferScheme Scheme `yaml:"preferscheme"`

	// Session opens and tops up Payment sessions where a 402 offers
	// one, as --session does for one fetch.
	Session bool `yaml:"session"`
}

// LndConfig is the paying lnd. A pay-only macaroon is enough.
type LndConfig struct {
	Host         string `yaml:"host"`
	TLSCertPath  string `yaml:"tlscertpath"`
	MacaroonPath string `yaml:"macaroonpath"`
}

// LNCConfig is the paying node reached through Lightning Node Connect
// (docs/lnc.md). The pairing phrase comes from PhraseFile, else from
// $L402_LNC_PHRASE; never from fetch.yaml itself.
type LNCConfig struct {
	// MailboxAddress is the mailbox's host:port (default Lightning
	// Labs' public one); DevServer skips the verification of its TLS
	// certificate, for a test mailbox.
	MailboxAddress string `yaml:"mailboxaddress"`
	DevServer      bool   `yaml:"devserver"`

	// PhraseFile holds the pairing phrase, 0600.
	PhraseFile string `yaml:"phrasefile"`

	// SessionFile keeps the session's keys after pairing (default
	// lnc-fetch.json beside fetch.yaml), 0600.
	SessionFile string `yaml:"sessionfile"`

	// Phrase is read only to be refused by name.
	Phrase string `yaml:"phrase"`
}

// MailboxAddr returns the mailbox, the public one by default.
func (l *LNCConfig) MailboxAddr() string {
	if l.MailboxAddress == "" {
		return lightning.DefaultMailboxAddr
	}
	return l.MailboxAddress
}

// check validates the lnc section of the config at path, and makes its
// paths absolute.
func (l *LNCConfig) check(cfg *Config, path string) error {
	switch {
	case cfg.Lnd.Host != "" || cfg.Lnd.MacaroonPath != "":
		return fmt.Errorf("config %s: lnd and lnc are two ways to reach "+
			"the paying node: keep one section", path)
	case l.Phrase != "":
		return fmt.Errorf("config %s: lnc.phrase: the pairing phrase "+
			"does not go into fetch.yaml; put it in a file only you "+
			"can read (chmod 600) named by lnc.phrasefile, or in $%s",
			path, lightning.PhraseEnv)
	}
	if l.MailboxAddress != "" {
		if _, _, err := net.SplitHostPort(l.MailboxAddress); err != nil {
			return fmt.Errorf("config %s: lnc.mailboxaddress %q is not "+
				"host:port", path, l.MailboxAddress)
		}
	}
	if l.SessionFile == "" {
		l.SessionFile = "lnc-fetch.json"
	}
	return absPaths(path, &l.PhraseFile, &l.SessionFile)
}

// absPaths expands "~" and makes relative paths relative to the config
// file at path, so that every process reading it finds the same files.
func absPaths(path string, paths ...*string) error {
	for _, p := range paths {
		var err error
		if *p, err = config.ExpandHome(*p); err != nil {
			return err
		}
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
		}
	}
	return nil
}

// DefaultConfigPath returns fetch.yaml in l402's directory.
func DefaultConfigPath() (string, error) {
	return config.InHome("fetch.yaml")
}

// LoadConfig reads fetch.yaml and fills in defaults. A missing file is not
// an error when it is the default one (explicit says it was named): fetch
// then works for free URLs and previews, and says what to do when asked
// to pay.
func LoadConfig(path string, explicit bool) (Config, error) {
	cfg := Config{}
	// fetch.yaml has no blocks to switch off: every unknown key is an
	// error, so there are no warnings.
	_, err := config.Load(path, &cfg)
	if err != nil && (explicit || !errors.Is(err, os.ErrNotExist)) {
		return cfg, err
	}

	if cfg.MaxCostSat == nil {
		v := int64(DefaultMaxCostSat)
		cfg.MaxCostSat = &v
	}
	if cfg.MaxFeeSat == nil {
		v := int64(DefaultMaxFeeSat)
		cfg.MaxFeeSat = &v
	}
	if cfg.MaxTotalSat == nil {
		v := int64(DefaultMaxTotalSat)
		cfg.MaxTotalSat = &v
	}
	if cfg.PaymentTimeout == 0 {
		cfg.PaymentTimeout = DefaultPaymentTimeout
	}
	if cfg.MaxInvoiceExpiry == 0 {
		cfg.MaxInvoiceExpiry = DefaultMaxInvoiceExpiry
	}
	if err := CheckAmounts(*cfg.MaxCostSat, *cfg.MaxFeeSat, *cfg.MaxTotalSat,
		cfg.MaxPerOriginSat); err != nil || cfg.PaymentTimeout < 0 ||
		cfg.MaxInvoiceExpiry < 0 {
		return cfg, config.ErrBad.Mark(fmt.Errorf("config %s: maxcost, "+
			"maxfee, maxtotal and maxperorigin must be sats from 0 to %d, "+
			"paymenttimeout and maxinvoiceexpiry positive", path, MaxSats))
	}

	sc, err := ParseScheme(string(cfg.PreferScheme))
	if err != nil {
		return cfg, config.ErrBad.Mark(fmt.Errorf("config %s: "+
			"preferscheme %q: want %s or %s", path, cfg.PreferScheme,
			SchemeL402, SchemePayment))
	}
	cfg.PreferScheme = sc

	// Paths are relative to the config file, so that every process
	// reading it finds the same store and the same locks.
	if err := absPaths(path, &cfg.Lnd.TLSCertPath, &cfg.Lnd.MacaroonPath,
		&cfg.TokenStore); err != nil {
		return cfg, err
	}
	if cfg.LNC != nil {
		if err := cfg.LNC.check(&cfg, path); err != nil {
			return cfg, config.ErrBad.Mark(err)
		}
	}
	if cfg.TokenStore == "" {
		if cfg.TokenStore, err = config.InHome("tokens.db"); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// Node returns the configured paying node, or nil when there is none: lnd
// over gRPC, or a node reached over LNC, which connects on its first call
// and reports its progress on log (nil: silent).
func (c Config) Node(log io.Writer) (lightning.Node, error) {
	if c.LNC != nil {
		return c.LNC.node(log)
	}
	if c.Lnd.Host == "" {
		return nil, nil
	}
	node, err := lightning.NewLnd(lightning.LndConfig{
		Name:         c.Lnd.Host,
		Host:         c.Lnd.Host,
		TLSCertPath:  c.Lnd.TLSCertPath,
		MacaroonPath: c.Lnd.MacaroonPath,
	})
	if err != nil {
		// A tls.cert or macaroon that is not there or not readable:
		// lnd's cause, with what to do.
		return nil, lnddetect.Explain(fmt.Errorf("fetch.yaml lnd: %w", err))
	}
	return node, nil
}

// node returns the LNC node, connected on its first call. The phrase is
// read now, so that a missing one is reported before any request.
func (l *LNCConfig) node(log io.Writer) (lightning.Node, error) {
	phrase, source, err := lightning.LookupPhrase(l.PhraseFile, os.Getenv)
	if err != nil {
		return nil, config.ErrBad.Mark(fmt.Errorf("fetch.yaml lnc: %w",
			err))
	}
	addr := l.MailboxAddr()
	cfg := lightning.LNCConfig{
		Name:        "lnc via " + addr,
		Phrase:      phrase,
		MailboxAddr: addr,
		DevServer:   l.DevServer,
		Store:       lightning.FileSessionStore{Path: l.SessionFile},
	}
	return lightning.NewLazy(func(ctx context.Context) (lightning.Node,
		error) {

		progress(log, "connecting to the paying node over LNC via %s "+
			"(pairing phrase from %s, session keys in %s)", addr, source,
			l.SessionFile)
		start := time.Now()
		n, err := lightning.NewLNC(ctx, cfg)
		if err != nil {
			return nil, err
		}
		progress(log, "connected over LNC in %s",
			time.Since(start).Round(100*time.Millisecond))
		return n, nil
	}), nil
}

// progress writes one progress line to log, when there is one.
func progress(log io.Writer, format string, args ...any) {
	if log != nil {
		fmt.Fprintf(log, "l402: "+format+"\n", args...)
	}
}

// MaxSats is the largest amount a limit may name: all the bitcoin there
// will ever be. Larger values would overflow in msat.
const MaxSats = 21_000_000 * 100_000_000

// CheckAmounts checks that limits are sats from 0 to MaxSats.
func CheckAmounts(sats ...int64) error {
	for _, v := range sats {
		if v < 0 || v > MaxSats {
			return fmt.Errorf("%d is not an amount from 0 to %d sat", v,
				MaxSats)
		}
	}
	return nil
}
