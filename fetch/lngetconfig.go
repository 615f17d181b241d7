package fetch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lightning"
)

// LngetConfig is lnget v1.1.0's config file, ~/.lnget/config.yaml, and
// its LNGET_* environment variables, as the lnget personality of the
// binary reads them (docs/fetch.md, "lnget users"). Every key lnget
// knows is read; an unknown one is an error naming the nearest known
// key, as in l402's own files. Fetch turns it into fetch's Config.
type LngetConfig struct {
	L402    LngetL402    `yaml:"l402" json:"l402"`
	Output  LngetOutput  `yaml:"output" json:"output"`
	HTTP    LngetHTTP    `yaml:"http" json:"http"`
	LN      LngetLN      `yaml:"ln" json:"ln"`
	Tokens  LngetTokens  `yaml:"tokens" json:"tokens"`
	Events  LngetEvents  `yaml:"events" json:"events"`
	Payment LngetPayment `yaml:"payment" json:"payment"`
}

// LngetL402 is lnget's l402 block: the caps.
type LngetL402 struct {
	MaxCostSats    int64         `yaml:"max_cost_sats" json:"max_cost_sats" want:"a whole number of satoshis"`
	MaxFeeSats     int64         `yaml:"max_fee_sats" json:"max_fee_sats" want:"a whole number of satoshis"`
	PaymentTimeout time.Duration `yaml:"payment_timeout" json:"payment_timeout"`
	AutoPay        bool          `yaml:"auto_pay" json:"auto_pay"`
}

// LngetOutput is lnget's output block.
type LngetOutput struct {
	Format   string `yaml:"format" json:"format"`
	Progress bool   `yaml:"progress" json:"progress"`
	Verbose  bool   `yaml:"verbose" json:"verbose"`
}

// LngetHTTP is lnget's http block.
type LngetHTTP struct {
	Timeout       time.Duration `yaml:"timeout" json:"timeout"`
	MaxRedirects  int           `yaml:"max_redirects" json:"max_redirects"`
	UserAgent     string        `yaml:"user_agent" json:"user_agent"`
	AllowInsecure bool          `yaml:"allow_insecure" json:"allow_insecure"`
}

// LngetLN is lnget's ln block: the Lightning backend.
type LngetLN struct {
	Mode     string        `yaml:"mode" json:"mode"`
	LND      LngetLND      `yaml:"lnd" json:"lnd"`
	LNC      LngetLNC      `yaml:"lnc" json:"lnc"`
	Neutrino LngetNeutrino `yaml:"neutrino" json:"neutrino"`
}

// LngetLND is lnget's ln.lnd block.
type LngetLND struct {
	Host     string `yaml:"host" json:"host"`
	TLSCert  string `yaml:"tls_cert" json:"tls_cert"`
	Macaroon string `yaml:"macaroon" json:"macaroon"`
	Network  string `yaml:"network" json:"network"`
}

// LngetLNC is lnget's ln.lnc block.
type LngetLNC struct {
	MailboxAddr   string `yaml:"mailbox_addr" json:"mailbox_addr"`
	SessionsDir   string `yaml:"sessions_dir" json:"sessions_dir"`
	PairingPhrase string `yaml:"pairing_phrase" json:"-"`
	SessionID     string `yaml:"session_id" json:"session_id"`
	Ephemeral     bool   `yaml:"ephemeral" json:"ephemeral"`
	DevServer     bool   `yaml:"dev_server" json:"dev_server"`
}

// LngetNeutrino is lnget's ln.neutrino block (lnget v1.1.0 does not
// implement the backend either).
type LngetNeutrino struct {
	DataDir string   `yaml:"data_dir" json:"data_dir"`
	Network string   `yaml:"network" json:"network"`
	Peers   []string `yaml:"peers" json:"peers"`
}

// LngetTokens is lnget's tokens block.
type LngetTokens struct {
	Dir string `yaml:"dir" json:"dir"`
}

// LngetEvents is lnget's events block (its payment log).
type LngetEvents struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	DBPath  string `yaml:"db_path" json:"db_path"`
}

// LngetPayment is lnget's payment block.
type LngetPayment struct {
	PreferScheme string `yaml:"prefer_scheme" json:"prefer_scheme"`
}

// LngetDir returns lnget's directory, ~/.lnget.
func LngetDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for ~/.lnget: %w", err)
	}
	return filepath.Join(home, ".lnget"), nil
}

// LngetConfigPath returns lnget's config file, ~/.lnget/config.yaml.
func LngetConfigPath() (string, error) {
	dir, err := LngetDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "config.yaml"), nil
}

// DefaultLngetConfig returns lnget v1.1.0's defaults: the caps of
// lnget (1000 sat, 10 sat of fee, 60 s), JSON, a progress bar, a 30 s
// HTTP timeout, 10 redirects, and lnd at localhost:10009 with ~/.lnd's
// mainnet admin macaroon.
func DefaultLngetConfig() (LngetConfig, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return LngetConfig{}, fmt.Errorf("no home directory: %w", err)
	}
	dir := filepath.Join(home, ".lnget")
	return LngetConfig{
		L402: LngetL402{MaxCostSats: DefaultMaxCostSat,
			MaxFeeSats: DefaultMaxFeeSat, PaymentTimeout: DefaultPaymentTimeout,
			AutoPay: true},
		Output: LngetOutput{Format: "json", Progress: true},
		HTTP: LngetHTTP{Timeout: DefaultTimeout,
			MaxRedirects: DefaultMaxRedirects, UserAgent: "lnget/0.1.0"},
		LN: LngetLN{
			Mode: "lnd",
			LND: LngetLND{Host: "localhost:10009",
				TLSCert: filepath.Join(home, ".lnd", "tls.cert"),
				Macaroon: filepath.Join(home, ".lnd", "data", "chain",
					"bitcoin", "mainnet", "admin.macaroon"),
				Network: "mainnet"},
			LNC: LngetLNC{MailboxAddr: lightning.DefaultMailboxAddr,
				SessionsDir: filepath.Join(dir, "lnc", "sessions")},
			Neutrino: LngetNeutrino{DataDir: filepath.Join(dir, "neutrino"),
				Network: "mainnet"},
		},
		Tokens:  LngetTokens{Dir: filepath.Join(dir, "tokens")},
		Events:  LngetEvents{Enabled: true, DBPath: filepath.Join(dir, "events.db")},
		Payment: LngetPayment{PreferScheme: "l402"},
	}, nil
}

// LoadLngetConfig reads lnget's config as lnget does: the defaults, then
// the file at path ("" is ~/.lnget/config.yaml, which may be missing;
// one named must exist), then the LNGET_* variables of getenv, which win
// over the file (LNGET_L402_MAX_COST_SATS is l402.max_cost_sats). The
// values are checked; paths starting with ~ are expanded.
func LoadLngetConfig(path string, getenv func(string) string) (LngetConfig,
	error) {

	cfg, err := DefaultLngetConfig()
	if err != nil {
		return cfg, err
	}
	explicit := path != ""
	if !explicit {
		if path, err = LngetConfigPath(); err != nil {
			return cfg, err
		}
	}
	if _, err := config.Load(path, &cfg); err != nil &&
		(explicit || !errors.Is(err, os.ErrNotExist)) {
		return cfg, err
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return cfg, config.ErrBad.Mark(err)
	}
	if err := cfg.check(); err != nil {
		return cfg, config.ErrBad.Mark(fmt.Errorf("lnget config %s: %w",
			path, err))
	}
	for _, p := range []*string{&cfg.LN.LND.TLSCert, &cfg.LN.LND.Macaroon,
		&cfg.LN.LNC.SessionsDir, &cfg.Tokens.Dir, &cfg.Events.DBPath} {
		if *p, err = config.ExpandHome(*p); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// lngetEnv is every key lnget reads, as its LNGET_* variable names it,
// with what sets it from the variable's text.
func (c *LngetConfig) lngetEnv() map[string]func(string) error {
	return map[string]func(string) error{
		"l402.max_cost_sats":    setInt64(&c.L402.MaxCostSats),
		"l402.max_fee_sats":     setInt64(&c.L402.MaxFeeSats),
		"l402.payment_timeout":  setDuration(&c.L402.PaymentTimeout),
		"l402.auto_pay":         setBool(&c.L402.AutoPay),
		"output.format":         setString(&c.Output.Format),
		"output.progress":       setBool(&c.Output.Progress),
		"output.verbose":        setBool(&c.Output.Verbose),
		"http.timeout":          setDuration(&c.HTTP.Timeout),
		"http.max_redirects":    setInt(&c.HTTP.MaxRedirects),
		"http.user_agent":       setString(&c.HTTP.UserAgent),
		"http.allow_insecure":   setBool(&c.HTTP.AllowInsecure),
		"ln.mode":               setString(&c.LN.Mode),
		"ln.lnd.host":           setString(&c.LN.LND.Host),
		"ln.lnd.tls_cert":       setString(&c.LN.LND.TLSCert),
		"ln.lnd.macaroon":       setString(&c.LN.LND.Macaroon),
		"ln.lnd.network":        setString(&c.LN.LND.Network),
		"ln.lnc.mailbox_addr":   setString(&c.LN.LNC.MailboxAddr),
		"ln.lnc.sessions_dir":   setString(&c.LN.LNC.SessionsDir),
		"ln.lnc.pairing_phrase": setString(&c.LN.LNC.PairingPhrase),
		"ln.lnc.session_id":     setString(&c.LN.LNC.SessionID),
		"ln.lnc.ephemeral":      setBool(&c.LN.LNC.Ephemeral),
		"ln.lnc.dev_server":     setBool(&c.LN.LNC.DevServer),
		"ln.neutrino.data_dir":  setString(&c.LN.Neutrino.DataDir),
		"ln.neutrino.network":   setString(&c.LN.Neutrino.Network),
		"tokens.dir":            setString(&c.Tokens.Dir),
		"events.enabled":        setBool(&c.Events.Enabled),
		"events.db_path":        setString(&c.Events.DBPath),
		"payment.prefer_scheme": setString(&c.Payment.PreferScheme),
	}
}

// LngetEnvVar returns the LNGET_* variable of a key ("l402.max_cost_sats"
// is LNGET_L402_MAX_COST_SATS).
func LngetEnvVar(key string) string {
	return "LNGET_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// LngetEnvVars lists every LNGET_* variable read, sorted.
func LngetEnvVars() []string {
	var c LngetConfig
	var out []string
	for k := range c.lngetEnv() {
		out = append(out, LngetEnvVar(k))
	}
	sort.Strings(out)
	return out
}

// applyEnv sets every key whose LNGET_* variable is set.
func (c *LngetConfig) applyEnv(getenv func(string) string) error {
	keys := c.lngetEnv()
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := getenv(LngetEnvVar(k))
		if v == "" {
			continue
		}
		if err := keys[k](v); err != nil {
			return fmt.Errorf("$%s: %w", LngetEnvVar(k), err)
		}
	}
	return nil
}

// setInt64 returns a setter of a whole number.
func setInt64(p *int64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		*p = v
		return nil
	}
}

// setInt returns a setter of a whole number.
func setInt(p *int) func(string) error {
	return func(s string) error {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		*p = v
		return nil
	}
}

// setDuration returns a setter of a duration ("60s", "1m").
func setDuration(p *time.Duration) func(string) error {
	return func(s string) error {
		v, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s", s)
		}
		*p = v
		return nil
	}
}

// setBool returns a setter of true or false.
func setBool(p *bool) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*p = v
		return nil
	}
}

// setString returns a setter of text.
func setString(p *string) func(string) error {
	return func(s string) error { *p = s; return nil }
}

// check refuses values lnget refuses, and those l402 does not serve.
func (c *LngetConfig) check() error {
	switch {
	case CheckAmounts(c.L402.MaxCostSats, c.L402.MaxFeeSats) != nil:
		return fmt.Errorf("l402.max_cost_sats and l402.max_fee_sats must "+
			"be sats from 0 to %d", MaxSats)
	case c.L402.PaymentTimeout <= 0:
		return errors.New("l402.payment_timeout must be positive")
	case c.HTTP.Timeout <= 0:
		return errors.New("http.timeout must be positive")
	case c.HTTP.MaxRedirects < 0:
		return errors.New("http.max_redirects cannot be negative")
	}
	switch c.Output.Format {
	case "json", "human":
	default:
		return fmt.Errorf("output.format %q: json or human",
			c.Output.Format)
	}
	switch strings.ToLower(c.Payment.PreferScheme) {
	case "l402", "payment":
	default:
		return fmt.Errorf("payment.prefer_scheme %q: l402 or payment",
			c.Payment.PreferScheme)
	}
	switch c.LN.Mode {
	case "lnd", "lnc", "neutrino", "none":
	default:
		return fmt.Errorf("ln.mode %q: lnd, lnc, neutrino or none",
			c.LN.Mode)
	}
	if c.LN.Mode == "lnc" {
		switch {
		case c.LN.LNC.PairingPhrase != "":
			return fmt.Errorf("ln.lnc.pairing_phrase: l402 keeps the "+
				"pairing phrase out of config files; put it in $%s",
				lightning.PhraseEnv)
		case c.LN.LNC.SessionID != "":
			return errors.New("ln.lnc.session_id: l402 keeps one LNC " +
				"session, in sessions_dir/l402-lnc.json; leave it out")
		case c.LN.LNC.Ephemeral:
			return errors.New("ln.lnc.ephemeral: l402 always keeps the " +
				"session's keys (0600); leave it out")
		}
	}
	return nil
}

// Fetch returns fetch's Config for lnget's: its per-payment caps (the
// lower of its and l402's fetch.yaml's when there is one), the 24-hour caps and invoice expiry cap of l402's fetch.yaml (their
// defaults without one), the paying node of ln.mode (none for neutrino, which
// lnget v1.1.0 does not implement either, with a warning), and l402's
// own token store: one store, ledger and 24-hour cap for every surface,
// so that paying through the link and through l402 fetch cannot spend
// two budgets (tokens.dir is read but names no store). The HTTP settings, auto_pay and the
// output block are the caller's (they are flags' defaults).
func (c LngetConfig) Fetch() (Config, []string, error) {
	cost, fee := c.L402.MaxCostSats, c.L402.MaxFeeSats
	store, err := config.InHome("tokens.db")
	if err != nil {
		return Config{}, nil, err
	}
	// lnget has no 24-hour caps: l402's fetch.yaml's hold (its defaults
	// when there is none), so that the link cannot raise a cap the user
	// set for l402 fetch. A fetch.yaml that does not load is an error,
	// not a reason to pay without its caps.
	path, err := DefaultConfigPath()
	if err != nil {
		return Config{}, nil, err
	}
	l402cfg, err := LoadConfig(path, false)
	if err != nil {
		return Config{}, nil, err
	}
	// With a fetch.yaml, the lower per-payment caps of the two files
	// hold: both are the user's, and the link must not be a way round
	// either.
	if _, err := os.Stat(path); err == nil {
		cost = min(cost, *l402cfg.MaxCostSat)
		fee = min(fee, *l402cfg.MaxFeeSat)
	}
	cfg := Config{
		MaxCostSat:       &cost,
		MaxFeeSat:        &fee,
		MaxTotalSat:      l402cfg.MaxTotalSat,
		MaxPerOriginSat:  l402cfg.MaxPerOriginSat,
		PaymentTimeout:   c.L402.PaymentTimeout,
		MaxInvoiceExpiry: l402cfg.MaxInvoiceExpiry,
		TokenStore:       store,
		PreferScheme:     Scheme(strings.ToLower(c.Payment.PreferScheme)),
	}
	var warnings []string
	switch c.LN.Mode {
	case "lnd":
		cfg.Lnd = LndConfig{Host: c.LN.LND.Host, TLSCertPath: c.LN.LND.TLSCert,
			MacaroonPath: c.LN.LND.Macaroon}
	case "lnc":
		cfg.LNC = &LNCConfig{MailboxAddress: c.LN.LNC.MailboxAddr,
			DevServer: c.LN.LNC.DevServer,
			SessionFile: filepath.Join(c.LN.LNC.SessionsDir,
				"l402-lnc.json")}
	case "neutrino":
		warnings = append(warnings, "ln.mode neutrino is not "+
			"implemented (by lnget v1.1.0 either): no payments")
	}
	return cfg, warnings, nil
}
