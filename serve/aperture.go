package serve

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// notServed is how a refusal names an Aperture feature that is switched
// on but that l402 does not serve.
const notServed = "an Aperture feature l402 does not serve yet"

// ApertureKeys are Aperture's keys for what l402 does not do (yet), read
// so that an aperture.yaml loads as it is (docs/serve-config.md lists
// them). A key that asks for nothing is accepted (servestatic: false, a
// tor block without v3, an etcd block while dbbackend is sqlite);
// one that switches such a feature on is
// refused by name.
type ApertureKeys struct {
	// StaticRoot and ServeStatic are Aperture's static file server.
	StaticRoot  string `yaml:"staticroot"`
	ServeStatic bool   `yaml:"servestatic"`

	// ConfigFile is read by Aperture from its command line only (l402
	// serve takes --configfile); in the file it changes nothing.
	ConfigFile string `yaml:"configfile"`

	// InvoiceBatchSize is how many invoices Aperture reads from lnd per
	// call when strictverify makes it read them all at start; l402 reads
	// none (strictverify looks a token's invoice up when it is first
	// seen).
	InvoiceBatchSize int `yaml:"invoicebatchsize"`

	Etcd    EtcdConfig    `yaml:"etcd"`
	Tor     TorConfig     `yaml:"tor"`
	Logging LoggingConfig `yaml:"logging"`
}

// EtcdConfig is Aperture's etcd database, read only with dbbackend: etcd.
type EtcdConfig struct {
	Host     string `yaml:"host"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// TorConfig is Aperture's onion service: on with v3 (v2 in older
// Aperture releases).
type TorConfig struct {
	Control     string `yaml:"control"`
	ListenPort  int    `yaml:"listenport"`
	VirtualPort int    `yaml:"virtualport"`
	V3          bool   `yaml:"v3"`
	V2          bool   `yaml:"v2"`
}

// on reports whether the block asks for an onion service.
func (t TorConfig) on() bool { return t.V3 || t.V2 }

// LoggingConfig is Aperture's logging block (lnd's): a console and a
// file logger. serve has one log, on stderr: the console's level,
// disable and notimestamps apply to it; there is no log file.
type LoggingConfig struct {
	Console      ConsoleLogConfig `yaml:"console"`
	File         *FileLogConfig   `yaml:"file"`
	NoCommitHash bool             `yaml:"nocommithash"`
}

// ConsoleLogConfig is the console logger: serve's stderr log. style and
// callsite are its presentation, which serve's log does not vary.
type ConsoleLogConfig struct {
	Disable      bool   `yaml:"disable"`
	NoTimestamps bool   `yaml:"notimestamps"`
	CallSite     string `yaml:"callsite"`
	Style        bool   `yaml:"style"`
	Level        string `yaml:"level"`
}

// FileLogConfig is Aperture's log file (aperture.log in basedir, rotated);
// l402 writes none: under systemd the journal keeps serve's stderr.
type FileLogConfig struct {
	Disable        bool   `yaml:"disable"`
	NoTimestamps   bool   `yaml:"notimestamps"`
	CallSite       string `yaml:"callsite"`
	Level          string `yaml:"level"`
	Compressor     string `yaml:"compressor"`
	MaxLogFiles    int    `yaml:"maxlogfiles"`
	MaxLogFileSize int    `yaml:"maxlogfilesize"`
}

// check refuses the Aperture features the config switches on, and returns
// notices for what it asks that l402 does differently.
func (a *ApertureKeys) check(dbBackend string) (notices []string,
	errs []error) {

	refuse := func(key, what, instead string) {
		errs = append(errs, fmt.Errorf("%s: %s are %s; %s", key, what,
			notServed, instead))
	}
	if a.ServeStatic {
		refuse("servestatic", "static files", "serve them from a "+
			"backend service, or set servestatic: false")
	}
	if a.Tor.on() {
		refuse("tor", "onion services", "point a HiddenServicePort of "+
			"Tor's own torrc at listenaddr, or set tor.v3: false")
	}
	if dbBackend == "etcd" {
		refuse("dbbackend etcd", "etcd databases", "use sqlite, or "+
			"postgres for several replicas")
	}
	if a.InvoiceBatchSize < 0 {
		errs = append(errs, errors.New("invoicebatchsize cannot be "+
			"negative"))
	}

	c := a.Logging.Console
	if c.Level != "" {
		if _, err := parseDebugLevel(c.Level); err != nil {
			errs = append(errs, fmt.Errorf("logging.console.level: %w",
				err))
		}
	}
	if f := a.Logging.File; f != nil && !f.Disable {
		notices = append(notices, "logging.file: l402 serve writes no "+
			"log file; its log goes to stderr (the journal under "+
			"systemd)")
	}
	return notices, errs
}

// Inert implements config.Inert: the blocks of a feature that is off (a
// database other than the one in use, tor without v3, admin, hashmail,
// prometheus or a service's dynamicprice without enabled) are not read,
// so an unknown key in one is a warning. A typo of the switch itself
// (Aperture's sample has dynamicprice.enbled) leaves the block off: the
// warning names the key it meant.
func (c *Config) Inert(path []string) bool {
	backend := strings.ToLower(c.DBBackend)
	switch {
	case len(path) == 1:
		switch path[0] {
		case "etcd":
			return backend != "etcd"
		case "postgres":
			return backend != "postgres"
		case "sqlite":
			return backend == "postgres" || backend == "etcd"
		case "tor":
			return !c.Aperture.Tor.on()
		case "admin":
			return !c.Admin.Enabled
		case "hashmail":
			return !c.HashMail.Enabled
		case "prometheus":
			return !c.Prometheus.Enabled
		}
	case len(path) == 3 && path[0] == "services" &&
		path[2] == "dynamicprice":
		i, err := strconv.Atoi(strings.Trim(path[1], "[]"))
		return err == nil && i >= 0 && i < len(c.Services) &&
			!c.Services[i].DynamicPrice.Enabled
	}
	return false
}
