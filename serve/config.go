package serve

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/l402"
	"github.com/l402/l402/internal/lightning"
	"gopkg.in/yaml.v3"
)

// Config is serve.yaml. The keys are Aperture's, with their meanings, so
// that an aperture.yaml works as it is; docs/serve-config.md documents
// every one. Unknown keys and bad values are errors naming the key and the
// line (an unknown key in a block that is off is a warning: Inert).
type Config struct {
	ListenAddr string `yaml:"listenaddr"`
	Insecure   bool   `yaml:"insecure"`
	AutoCert   bool   `yaml:"autocert"`
	ServerName string `yaml:"servername"`
	DebugLevel string `yaml:"debuglevel"`

	DBBackend string         `yaml:"dbbackend"`
	SQLite    SQLiteConfig   `yaml:"sqlite"`
	Postgres  PostgresConfig `yaml:"postgres"`

	Authenticator AuthenticatorConfig `yaml:"authenticator"`
	Services      []ServiceConfig     `yaml:"services"`
	Blocklist     []string            `yaml:"blocklist"`

	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trustedproxies"`

	// ChallengeLimit bounds the challenges (each an lnd invoice and a
	// database row) one client IP gets; on by default.
	ChallengeLimit ChallengeLimitConfig `yaml:"challengelimit"`

	// Prometheus serves /metrics on its own address.
	Prometheus PrometheusConfig `yaml:"prometheus"`

	// InvoiceExpiry is how long a challenge's invoice can be paid (ours;
	// default 10m).
	InvoiceExpiry time.Duration `yaml:"invoiceexpiry"`

	// HashMail is Aperture's mailbox relay for Lightning Node Connect,
	// served on listenaddr.
	HashMail HashMailConfig `yaml:"hashmail"`

	// BaseDir is Aperture's directory for its files: serve's default
	// database, self-signed certificate, autocert cache and LNC session
	// go there instead of l402's directory (~/.l402).
	BaseDir string `yaml:"basedir"`

	// StrictVerify asks the node, the first time serve sees a token,
	// that its invoice is settled, instead of taking the preimage alone
	// as the proof of payment.
	StrictVerify bool `yaml:"strictverify"`

	// IdleTimeout, ReadTimeout and WriteTimeout bound the listener's
	// connections as Aperture's do (http.Server's fields); absent, they
	// are Aperture's defaults, and 0 is no bound. The relay's streams
	// (hashmail) are exempt: an LNC session lasts for hours.
	IdleTimeout  *time.Duration `yaml:"idletimeout"`
	ReadTimeout  *time.Duration `yaml:"readtimeout"`
	WriteTimeout *time.Duration `yaml:"writetimeout"`

	// Profile serves Go's pprof on localhost:Profile (1024 to 65535);
	// 0 is off.
	Profile int `yaml:"profile"`

	// WSPingInterval pings the relay's receiving websockets that often,
	// and WSPongWait closes one whose pong is that late; 0 sends none.
	WSPingInterval time.Duration `yaml:"wspinginterval"`
	WSPongWait     time.Duration `yaml:"wspongwait"`

	// CORS lets browser pages of other origins call the services and
	// read the challenge (ours; off without alloworigins).
	CORS CORSConfig `yaml:"cors"`

	// Admin is Aperture's admin API (config_admin.go).
	Admin AdminConfig `yaml:"admin"`

	// Discovery publishes the discovery manifest at ManifestPath (ours;
	// on unless false).
	Discovery *bool `yaml:"discovery"`

	// Aperture holds Aperture's keys for what l402 does not serve yet:
	// accepted when they ask for nothing, refused by name when on.
	Aperture ApertureKeys `yaml:",inline"`

	// Warnings are what the file asks that serve does not do, and
	// unknown keys in blocks that are off; serve logs them at start.
	Warnings []string `yaml:"-"`
}

// Aperture's defaults for the listener's timeouts.
const (
	DefaultIdleTimeout  = 2 * time.Minute
	DefaultReadTimeout  = 15 * time.Second
	DefaultWriteTimeout = 30 * time.Second
)

// timeouts returns the listener's idle, read and write timeouts, defaults
// filled in.
func (c *Config) timeouts() (idle, read, write time.Duration) {
	or := func(d *time.Duration, def time.Duration) time.Duration {
		if d == nil {
			return def
		}
		return *d
	}
	return or(c.IdleTimeout, DefaultIdleTimeout),
		or(c.ReadTimeout, DefaultReadTimeout),
		or(c.WriteTimeout, DefaultWriteTimeout)
}

// Dir returns the directory of serve's own files: basedir, else def
// (l402's directory).
func (c *Config) Dir(def string) string {
	if c.BaseDir != "" {
		return c.BaseDir
	}
	return def
}

// HashMailConfig is Aperture's hashmail section: a mailbox relay for LNC
// on serve's own listener, so that an operator can run their own mailbox.
// Zero values take the relay's defaults (docs/lnc.md).
type HashMailConfig struct {
	Enabled bool `yaml:"enabled"`

	// MessageRate is the average time between two messages of one
	// stream, and MessageBurstAllowance how many may pass at once.
	MessageRate           time.Duration `yaml:"messagerate"`
	MessageBurstAllowance int           `yaml:"messageburstallowance"`

	// StaleTimeout deletes a stream nobody has used for that long; a
	// negative one (Aperture's -1s) never does.
	StaleTimeout time.Duration `yaml:"staletimeout"`
}

// PrometheusConfig is Aperture's metrics exporter.
type PrometheusConfig struct {
	Enabled    bool   `yaml:"enabled"`
	ListenAddr string `yaml:"listenaddr"`
}

// ChallengeLimitConfig is the per-client-IP budget of challenges.
type ChallengeLimitConfig struct {
	Disable  bool          `yaml:"disable"`
	Requests int           `yaml:"requests"`
	Per      time.Duration `yaml:"per"`
	Burst    int           `yaml:"burst"`
}

// Default challenge limit per client IP.
const (
	DefaultChallengeRequests = 60
	DefaultChallengePer      = time.Minute
)

// rule returns the limit as a rate-limit rule, defaults filled in.
func (c ChallengeLimitConfig) rule() RateLimitConfig {
	r := RateLimitConfig{Requests: c.Requests, Per: c.Per, Burst: c.Burst}
	if r.Requests == 0 {
		r.Requests = DefaultChallengeRequests
	}
	if r.Per == 0 {
		r.Per = DefaultChallengePer
	}
	return r
}

// SQLiteConfig is the embedded database. Aperture's code reads
// databasefilename while its docs say dbfile: both are accepted.
type SQLiteConfig struct {
	DatabaseFileName string `yaml:"databasefilename"`
	DBFile           string `yaml:"dbfile"`

	// SkipMigrations opens the database without bringing its schema up
	// to date; a schema older than serve needs is refused.
	SkipMigrations bool `yaml:"skipmigrations"`
}

// Path returns the database file, whichever key named it.
func (s SQLiteConfig) Path() string {
	if s.DatabaseFileName != "" {
		return s.DatabaseFileName
	}
	return s.DBFile
}

// PostgresConfig is the shared database for several replicas.
type PostgresConfig struct {
	Host           string `yaml:"host"`
	Port           int    `yaml:"port"`
	User           string `yaml:"user"`
	Password       string `yaml:"password"`
	DBName         string `yaml:"dbname"`
	MaxConnections int    `yaml:"maxconnections"`

	// RequireSSL connects over TLS only (sslmode=require). Aperture's
	// code reads requiressl and its sample writes requireSSL: either
	// spelling set to true requires TLS.
	RequireSSL       bool `yaml:"requiressl"`
	RequireSSLSample bool `yaml:"requireSSL"`

	// SkipMigrations opens the database without bringing its schema up
	// to date (no DDL: the user may lack the right to create tables); a
	// schema older than serve needs is refused.
	SkipMigrations bool `yaml:"skipmigrations"`
}

// requireSSL reports whether either spelling asks for TLS.
func (p PostgresConfig) requireSSL() bool {
	return p.RequireSSL || p.RequireSSLSample
}

// AuthenticatorConfig is the node that issues invoices: lnd over gRPC
// (lndhost, tlspath, macdir) or through Lightning Node Connect
// (passphrase, mailboxaddress, devserver).
type AuthenticatorConfig struct {
	Network string `yaml:"network"`
	LndHost string `yaml:"lndhost"`
	TLSPath string `yaml:"tlspath"`
	MacDir  string `yaml:"macdir"`
	Disable bool   `yaml:"disable"`

	// MPP is the Payment scheme's keys (config_mpp.go).
	MPP MPPConfig `yaml:",inline"`

	// Passphrase is the LNC pairing phrase, as Aperture reads it.
	// PassphraseFile (ours) names a 0600 file holding it instead; with
	// neither, $L402_LNC_PHRASE is read.
	Passphrase     string `yaml:"passphrase"`
	PassphraseFile string `yaml:"passphrasefile"`
	MailboxAddress string `yaml:"mailboxaddress"`
	DevServer      bool   `yaml:"devserver"`

	// SessionFile (ours) keeps the LNC session's keys (default
	// lnc-serve.json in l402's directory).
	SessionFile string `yaml:"sessionfile"`

	// LNCTimeout bounds the connection to the node through the mailbox
	// (ours; default 30s).
	LNCTimeout time.Duration `yaml:"lnctimeout"`
}

// LNC reports whether the node is reached through Lightning Node
// Connect: a phrase or a phrase file is named, or a mailbox without
// lndhost (the phrase then comes from $L402_LNC_PHRASE). A mailbox beside
// lndhost is not read, as in Aperture, which fills in its public mailbox
// whatever the node.
func (a AuthenticatorConfig) LNC() bool {
	return a.Passphrase != "" || a.PassphraseFile != "" ||
		(a.MailboxAddress != "" && a.LndHost == "")
}

// MailboxAddr returns the LNC mailbox, Aperture's public one by default.
func (a AuthenticatorConfig) MailboxAddr() string {
	if a.MailboxAddress == "" {
		return lightning.DefaultMailboxAddr
	}
	return a.MailboxAddress
}

// ServiceConfig is one backend service.
type ServiceConfig struct {
	Name         string             `yaml:"name"`
	HostRegexp   Regexp             `yaml:"hostregexp"`
	PathRegexp   Regexp             `yaml:"pathregexp"`
	Address      string             `yaml:"address"`
	Protocol     string             `yaml:"protocol"`
	TLSCertPath  string             `yaml:"tlscertpath"`
	Price        int64              `yaml:"price" want:"a whole number of satoshis"`
	DynamicPrice DynamicPriceConfig `yaml:"dynamicprice"`

	// Meter is the built-in meter (ours, config_meter.go): the service
	// is sold in bundles of tokens, drawn down per request.
	Meter *MeterConfig `yaml:"meter"`

	// Capabilities are granted to every token of the service, comma
	// separated as in Aperture.
	Capabilities string `yaml:"capabilities"`

	// Timeout is the token's validity in seconds, as in Aperture.
	Timeout int64 `yaml:"timeout" want:"a whole number of seconds"`

	// Constraints are extra caveats, condition to value, that every
	// token of the service carries and the backend may read.
	Constraints map[string]string `yaml:"constraints"`

	AuthWhitelistPaths           []Regexp `yaml:"authwhitelistpaths"`
	AuthSkipInvoiceCreationPaths []Regexp `yaml:"authskipinvoicecreationpaths"`

	// Headers are set on requests to the backend. A value
	// "!file+hex:PATH" or "!file+base64:PATH" is the file's content,
	// encoded, read when the config is loaded.
	Headers    map[string]string `yaml:"headers"`
	RateLimits []RateLimitConfig `yaml:"ratelimits"`

	// Auth is Aperture's auth level: "on" (default), "off", or
	// "freebie N" (N free requests per client IP before a token is
	// needed).
	Auth AuthLevel `yaml:"auth"`

	// AuthScheme is Aperture's choice of schemes: l402, mpp or l402+mpp
	// (config_mpp.go).
	AuthScheme string `yaml:"authscheme"`

	// Rewrite.Prefix is prepended to the path sent to the backend.
	Rewrite RewriteConfig `yaml:"rewrite"`

	// CapabilityRules name the capabilities a request needs, by path
	// and method (ours; Aperture does not enforce capabilities).
	CapabilityRules []CapabilityRule `yaml:"capabilityrules"`

	// Mode is "live" (the default) or "shadow" (ours, shadow.go): in
	// shadow mode the challenge is priced, logged and counted but not
	// sent, and the request passes free.
	Mode string `yaml:"mode"`

	// StripCredential keeps the L402 credential from the backend (ours;
	// by default it is passed on in the Authorization header, as
	// Aperture does, so the backend can read the token's caveats).
	StripCredential bool `yaml:"stripcredential"`
}

// RewriteConfig rewrites requests before they reach the backend.
type RewriteConfig struct {
	Prefix string `yaml:"prefix"`
}

// CapabilityRule requires capabilities of the requests it matches.
type CapabilityRule struct {
	PathRegexp   Regexp   `yaml:"pathregexp"`
	Methods      []string `yaml:"methods"`
	Capabilities []string `yaml:"capabilities"`

	// CaseSensitive (ours) matches pathregexp as written. By default it
	// matches whatever the case, as case-insensitive backends (Express's
	// default, ASP.NET, IIS) route /api/Admin to /api/admin's handler:
	// a rule then guards more, never less.
	CaseSensitive bool `yaml:"casesensitive"`

	// folded is pathregexp matching any case, set by the config check.
	folded *regexp.Regexp
}

// matches reports whether the rule applies to the request.
func (c CapabilityRule) matches(method, path string) bool {
	re := c.PathRegexp.Regexp
	if c.folded != nil {
		re = c.folded
	}
	if re != nil && !re.MatchString(path) {
		return false
	}
	if len(c.Methods) == 0 {
		return true
	}
	for _, m := range c.Methods {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

// AuthLevel is "on", "off" or "freebie N".
type AuthLevel struct {
	Off      bool
	Freebies int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *AuthLevel) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	fields := strings.Fields(strings.ToLower(s))
	switch {
	case len(fields) == 0 || (len(fields) == 1 && (fields[0] == "on" ||
		fields[0] == "true")):
		*a = AuthLevel{}
	case len(fields) == 1 && (fields[0] == "off" || fields[0] == "false"):
		*a = AuthLevel{Off: true}
	case len(fields) == 2 && fields[0] == "freebie":
		count, err := strconv.Atoi(fields[1])
		if err != nil || count < 1 {
			return fmt.Errorf("line %d: auth %q: freebie needs a count "+
				"of at least 1", n.Line, s)
		}
		*a = AuthLevel{Freebies: count}
	default:
		return fmt.Errorf("line %d: auth %q is not on, off or freebie N",
			n.Line, s)
	}
	return nil
}

// DynamicPriceConfig points to a pricesrpc.Prices server.
type DynamicPriceConfig struct {
	Enabled     bool   `yaml:"enabled"`
	GRPCAddress string `yaml:"grpcaddress"`
	Insecure    bool   `yaml:"insecure"`
	TLSCertPath string `yaml:"tlscertpath"`

	// Metered is Aperture's metered mode: the price server sells bundles
	// and keeps their balances; it is told of every 402, asked before
	// every paid request, and told the usage of every response
	// (meter_pricer.go, docs/metering.md). UsageTailBytes is how much of
	// the end of a response the usage report carries (usageTailBytes).
	Metered        bool `yaml:"metered"`
	UsageTailBytes int  `yaml:"usagetailbytes"`
}

// RateLimitConfig is one token bucket rule.
type RateLimitConfig struct {
	PathRegexp Regexp        `yaml:"pathregexp"`
	Requests   int           `yaml:"requests"`
	Per        time.Duration `yaml:"per"`
	Burst      int           `yaml:"burst"`
}

// Regexp is a regular expression compiled as the config is read, so that
// a bad one is reported with its line.
type Regexp struct {
	*regexp.Regexp
	line int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return fmt.Errorf("line %d: bad regular expression %q: %v", n.Line,
			s, err)
	}
	r.Regexp, r.line = re, n.Line
	return nil
}

// LoadConfig reads and checks serve.yaml. What the file asks that serve
// does differently, and unknown keys in blocks that are off, are in the
// config's Warnings.
func LoadConfig(path string) (*Config, error) {
	cfg := &Config{}
	warnings, err := config.Load(path, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Warnings = warnings
	if err := cfg.check(); err != nil {
		return nil, config.ErrBad.Mark(fmt.Errorf("config %s: %w", path,
			err))
	}
	return cfg, nil
}

// check validates what the types alone do not, and expands "~" in paths.
// Every problem is reported, not only the first.
func (c *Config) check() error {
	var errs []error
	errs = append(errs, c.checkServer()...)
	errs = append(errs, c.checkDatabase()...)
	notices, apertureErrs := c.Aperture.check(c.DBBackend)
	c.Warnings = append(c.Warnings, notices...)
	errs = append(errs, apertureErrs...)
	errs = append(errs, c.CORS.check()...)
	errs = append(errs, c.Authenticator.check()...)
	if h := c.HashMail; h.MessageRate < 0 || h.MessageBurstAllowance < 0 {
		errs = append(errs, errors.New("hashmail.messagerate and "+
			"messageburstallowance cannot be negative (0 takes the "+
			"default)"))
	}
	errs = append(errs, c.expandPaths()...)

	if len(c.Services) == 0 {
		errs = append(errs, errors.New("services: at least one service "+
			"is required"))
	}
	seen := map[string]bool{}
	for i := range c.Services {
		errs = append(errs, c.Services[i].check(i, seen)...)
	}
	errs = append(errs, c.checkMPP()...)
	errs = append(errs, c.checkOperation()...)
	errs = append(errs, c.checkClients()...)
	errs = append(errs, c.Admin.check()...)
	return errors.Join(errs...)
}

// checkServer validates the listener: its address, TLS and log level.
func (c *Config) checkServer() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.ListenAddr == "" {
		bad("listenaddr is required (for example localhost:8081)")
	} else if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		bad("listenaddr %q is not host:port", c.ListenAddr)
	}
	if _, err := parseDebugLevel(c.DebugLevel); err != nil {
		errs = append(errs, err)
	}
	if c.AutoCert && c.ServerName == "" {
		bad("autocert needs servername")
	}
	if c.AutoCert && c.Insecure {
		bad("autocert and insecure cannot both be set")
	}
	for i, d := range []*time.Duration{c.IdleTimeout, c.ReadTimeout,
		c.WriteTimeout} {
		if d != nil && *d < 0 {
			bad("%s cannot be negative (0s: no bound)", []string{
				"idletimeout", "readtimeout", "writetimeout"}[i])
		}
	}
	if c.Profile != 0 && (c.Profile < 1024 || c.Profile > 65535) {
		bad("profile %d: use a port from 1024 to 65535 (0: no profile "+
			"server)", c.Profile)
	}
	switch {
	case c.WSPingInterval < 0 || c.WSPongWait < 0:
		bad("wspinginterval and wspongwait cannot be negative (0: no " +
			"pings)")
	case c.WSPingInterval > 0 && c.WSPongWait >= c.WSPingInterval:
		bad("wspongwait %s must be shorter than wspinginterval %s",
			c.WSPongWait, c.WSPingInterval)
	}
	return errs
}

// checkDatabase validates dbbackend and its section; SQLite is the
// default.
func (c *Config) checkDatabase() []error {
	switch c.DBBackend {
	case "", "sqlite":
		c.DBBackend = "sqlite"
		if c.SQLite.DatabaseFileName != "" && c.SQLite.DBFile != "" &&
			c.SQLite.DatabaseFileName != c.SQLite.DBFile {
			return []error{errors.New("sqlite.databasefilename and " +
				"sqlite.dbfile name different files: keep one")}
		}
	case "postgres":
		if c.Postgres.Host == "" || c.Postgres.DBName == "" {
			return []error{errors.New("dbbackend postgres needs " +
				"postgres.host and postgres.dbname")}
		}
	case "etcd":
		// Aperture's third backend: refused by name in Aperture.check.
	default:
		return []error{fmt.Errorf("dbbackend %q is not sqlite or postgres",
			c.DBBackend)}
	}
	return nil
}

// expandPaths expands "~" in the paths of the config.
func (c *Config) expandPaths() []error {
	var errs []error
	a := &c.Authenticator
	for _, p := range []*string{&a.TLSPath, &a.MacDir, &a.PassphraseFile,
		&a.SessionFile, &c.SQLite.DBFile, &c.SQLite.DatabaseFileName,
		&c.BaseDir, &c.Admin.MacaroonPath} {
		var err error
		if *p, err = config.ExpandHome(*p); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkOperation validates the metrics endpoint and the invoice expiry.
func (c *Config) checkOperation() []error {
	var errs []error
	if c.Prometheus.Enabled {
		if _, _, err := net.SplitHostPort(c.Prometheus.ListenAddr); err != nil {
			errs = append(errs, fmt.Errorf("prometheus.listenaddr %q is "+
				"not host:port (for example localhost:9000)",
				c.Prometheus.ListenAddr))
		}
	}
	if c.InvoiceExpiry < 0 || (c.InvoiceExpiry > 0 &&
		c.InvoiceExpiry < time.Minute) {
		errs = append(errs, fmt.Errorf("invoiceexpiry %s: use at least 1m",
			c.InvoiceExpiry))
	}
	return errs
}

// checkClients validates what is known about clients: the challenge
// limit, the trusted proxies and the blocklist.
func (c *Config) checkClients() []error {
	var errs []error
	if cl := c.ChallengeLimit; cl.Requests < 0 || cl.Per < 0 ||
		cl.Burst < 0 {
		errs = append(errs, errors.New("challengelimit: requests, per and "+
			"burst cannot be negative"))
	}
	for _, cidr := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			errs = append(errs, fmt.Errorf("trustedproxies: %q is not a "+
				"CIDR", cidr))
		}
	}
	for _, ip := range c.Blocklist {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("blocklist: %q is not an IP "+
				"address", ip))
		}
	}
	return errs
}

// check validates the authenticator: one way to reach the node, lnd's
// (lndhost) or LNC's (a phrase or a mailbox), unless disabled.
func (a *AuthenticatorConfig) check() []error {
	var errs []error
	bad := func(msg string) {
		errs = append(errs, errors.New("authenticator."+msg))
	}

	lnc := a.LNC()
	both := a.LndHost != "" && lnc
	switch {
	case a.Disable:
	case both:
		bad("lndhost (lnd over gRPC) and passphrase or passphrasefile " +
			"(Lightning Node Connect) exclude each other: keep one " +
			"way to reach the node")
	case a.LndHost == "" && !lnc:
		bad("lndhost is required (lnd over gRPC), or passphrasefile, " +
			"passphrase or mailboxaddress for Lightning Node Connect " +
			"(docs/lnc.md), or disable: true")
	}
	if a.Passphrase != "" && a.PassphraseFile != "" {
		bad("passphrase and passphrasefile are both set: keep the file")
	}
	if lnc && !a.Disable && !both && (a.TLSPath != "" || a.MacDir != "") {
		bad("tlspath and macdir are lnd's: over Lightning Node Connect " +
			"the node hands over the session's macaroon; remove them")
	}
	if !lnc && (a.DevServer || a.SessionFile != "") {
		bad("devserver and sessionfile apply to Lightning Node Connect " +
			"only: set passphrasefile or mailboxaddress too, or remove " +
			"them")
	}
	if a.MailboxAddress != "" {
		if _, _, err := net.SplitHostPort(a.MailboxAddress); err != nil {
			bad(fmt.Sprintf("mailboxaddress %q is not host:port (the "+
				"public mailbox is %s)", a.MailboxAddress,
				lightning.DefaultMailboxAddr))
		}
	}
	return errs
}

// check validates one service; seen holds the names of the services
// before it.
func (s *ServiceConfig) check(i int, seen map[string]bool) []error {
	var errs []error
	where := fmt.Sprintf("services[%d]", i)
	if s.Name != "" {
		where = fmt.Sprintf("service %q", s.Name)
	}
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(where+": "+format, args...))
	}
	s.checkBackend(bad, seen)
	s.checkPrice(bad)
	s.checkMeter(bad)
	s.checkRequests(bad)
	s.checkCaveats(bad)
	s.checkMode(bad)
	return errs
}

// checkBackend validates the service's name, where its requests come
// from, and its backend.
func (s *ServiceConfig) checkBackend(bad func(string, ...any),
	seen map[string]bool) {

	switch {
	case s.Name == "":
		bad("name is required")
	case l402.ValidName(s.Name) != nil:
		bad("name may not contain ',', ':', '=', white space or control " +
			"characters (it goes into the token's caveats)")
	case seen[s.Name]:
		bad("name is used by another service")
	}
	seen[s.Name] = true

	if s.HostRegexp.Regexp == nil {
		bad("hostregexp is required (\".*\" matches every host)")
	}
	if s.Address == "" {
		bad("address (host:port of the backend) is required")
	}
	switch s.Protocol {
	case "", "http", "https":
	default:
		bad("protocol %q is not http or https", s.Protocol)
	}
}

// checkPrice validates what a token costs and how long it lasts, filling
// in Aperture's default price.
func (s *ServiceConfig) checkPrice(bad func(string, ...any)) {
	switch {
	case s.Price < 0:
		bad("price cannot be negative")
	case s.Price > MaxPriceSat:
		bad("price %d sat is above the most lnd invoices can ask (%d)",
			s.Price, MaxPriceSat)
	case s.Price != 0 && s.Meter != nil:
		bad("price and meter exclude each other: the meter prices the " +
			"bundles")
	case s.Price == 0 && !s.DynamicPrice.Enabled && s.Meter == nil:
		// Aperture's default.
		s.Price = DefaultPriceSat
	}
	if s.DynamicPrice.Enabled && s.DynamicPrice.GRPCAddress == "" {
		bad("dynamicprice.enabled needs dynamicprice.grpcaddress")
	}
	switch dp := s.DynamicPrice; {
	case dp.Metered && !dp.Enabled:
		bad("dynamicprice.metered needs dynamicprice.enabled and the " +
			"grpcaddress of a price server that speaks Aperture's " +
			"metered pricesrpc")
	case dp.Metered && s.shadow():
		bad("dynamicprice.metered and mode: shadow exclude each other: " +
			"a metered service has no price per request to report")
	}
	if s.Timeout < 0 {
		bad("timeout cannot be negative")
	}
}

// checkRequests validates what is done to requests: the rewrite, the
// headers (resolving file values) and the rate limits.
func (s *ServiceConfig) checkRequests(bad func(string, ...any)) {
	if p := s.Rewrite.Prefix; p != "" {
		u, err := url.Parse(p)
		if err != nil || u.Scheme != "" || u.Host != "" ||
			!strings.HasPrefix(u.Path, "/") || u.RawQuery != "" ||
			u.Fragment != "" {
			bad("rewrite.prefix %q is not an absolute path such as /v1", p)
		} else {
			s.Rewrite.Prefix = strings.TrimSuffix(u.Path, "/")
		}
	}
	for name, v := range s.Headers {
		value, err := headerValue(v)
		if err != nil {
			bad("headers.%s: %v", name, err)
			continue
		}
		s.Headers[name] = value
	}
	for j, r := range s.RateLimits {
		if r.Requests <= 0 || r.Per <= 0 {
			bad("ratelimits[%d] needs requests > 0 and per > 0", j)
		}
		if r.Burst < 0 {
			bad("ratelimits[%d]: burst cannot be negative", j)
		}
	}
}

// checkCaveats validates the caveats the service's tokens carry:
// constraints, capabilities and the rules that require them.
func (s *ServiceConfig) checkCaveats(bad func(string, ...any)) {
	for cond := range s.Constraints {
		if cond == "" || strings.ContainsAny(cond, "= \t\n") ||
			reservedCondition(cond) {
			bad("constraints: %q cannot be a caveat condition (no '=' or "+
				"space, and not services, preimage or one ending in "+
				"_capabilities or _valid_until)", cond)
		}
	}
	for j := range s.CapabilityRules {
		r := &s.CapabilityRules[j]
		if len(r.Capabilities) == 0 {
			bad("capabilityrules[%d] needs capabilities", j)
		}
		if r.PathRegexp.Regexp != nil && !r.CaseSensitive {
			r.folded = regexp.MustCompile("(?i)" + r.PathRegexp.String())
		}
	}
	for _, c := range s.CapabilityList() {
		if l402.ValidName(c) != nil {
			bad("capability %q is not a plain name", c)
		}
	}
}

// Prices: Aperture's default when a service sets none, and the most one
// lnd invoice may ask.
const (
	DefaultPriceSat = 1
	MaxPriceSat     = 21_000_000 * 100_000_000
)

// reservedCondition reports whether a caveat condition is one serve sets
// or checks itself, so that a constraint may not forge or shadow it.
func reservedCondition(cond string) bool {
	return cond == l402.CondServices || cond == l402.CondPreimage ||
		strings.HasSuffix(cond, l402.CondCapabilitiesSuffix) ||
		strings.HasSuffix(cond, l402.CondValidUntilSuffix)
}

// headerValue resolves Aperture's "!file+hex:PATH" and "!file+base64:PATH"
// header values; other values are returned as they are.
func headerValue(v string) (string, error) {
	prefix, path, ok := strings.Cut(v, ":")
	if !ok || !strings.HasPrefix(prefix, "!file") {
		return v, nil
	}
	var encode func([]byte) string
	switch prefix {
	case "!file+hex":
		encode = hex.EncodeToString
	case "!file+base64":
		encode = base64.StdEncoding.EncodeToString
	default:
		return "", fmt.Errorf("%q: use !file+hex:PATH or !file+base64:PATH",
			prefix)
	}
	path, err := config.ExpandHome(path)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return encode(b), nil
}

// CapabilityList returns the service's capabilities.
func (s *ServiceConfig) CapabilityList() []string {
	if strings.TrimSpace(s.Capabilities) == "" {
		return nil
	}
	parts := strings.Split(s.Capabilities, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
