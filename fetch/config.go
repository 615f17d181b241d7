package fetch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/tokens"
)

// Config is fetch.yaml: the node that pays and the default limits.
type Config struct {
	Lnd            LndConfig     `yaml:"lnd"`
	MaxCostSat     int64         `yaml:"maxcost"`
	MaxFeeSat      int64         `yaml:"maxfee"`
	PaymentTimeout time.Duration `yaml:"paymenttimeout"`
	TokenStore     string        `yaml:"tokenstore"`

	// MaxTotalSat and MaxPerOriginSat cap the spending of any 24 hours,
	// all origins together and per origin; 0 means no cap.
	MaxTotalSat     int64 `yaml:"maxtotal"`
	MaxPerOriginSat int64 `yaml:"maxperorigin"`
}

// LndConfig is the paying lnd. A pay-only macaroon is enough.
type LndConfig struct {
	Host         string `yaml:"host"`
	TLSCertPath  string `yaml:"tlscertpath"`
	MacaroonPath string `yaml:"macaroonpath"`
}

// DefaultConfigPath returns fetch.yaml in l402's directory.
func DefaultConfigPath() (string, error) {
	dir, err := tokens.DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "fetch.yaml"), nil
}

// LoadConfig reads fetch.yaml and fills in defaults. A missing file is not
// an error when it is the default one (explicit says it was named): fetch
// then works for free URLs and previews, and says what to do when asked
// to pay.
func LoadConfig(path string, explicit bool) (Config, error) {
	cfg := Config{}
	err := config.Load(path, &cfg)
	if err != nil && (explicit || !errors.Is(err, os.ErrNotExist)) {
		return cfg, err
	}

	if cfg.MaxCostSat == 0 {
		cfg.MaxCostSat = DefaultMaxCostSat
	}
	if cfg.MaxFeeSat == 0 {
		cfg.MaxFeeSat = DefaultMaxFeeSat
	}
	if cfg.PaymentTimeout == 0 {
		cfg.PaymentTimeout = DefaultPaymentTimeout
	}
	if cfg.MaxCostSat < 0 || cfg.MaxFeeSat < 0 || cfg.PaymentTimeout < 0 ||
		cfg.MaxTotalSat < 0 || cfg.MaxPerOriginSat < 0 {
		return cfg, fmt.Errorf("config %s: maxcost, maxfee, "+
			"paymenttimeout, maxtotal and maxperorigin cannot be negative",
			path)
	}
	for _, p := range []*string{&cfg.Lnd.TLSCertPath, &cfg.Lnd.MacaroonPath,
		&cfg.TokenStore} {
		if *p, err = config.ExpandHome(*p); err != nil {
			return cfg, err
		}
	}
	if cfg.TokenStore == "" {
		if cfg.TokenStore, err = tokens.DefaultPath(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// errNoNode is returned when a payment is needed and no node is set up.
var errNoNode = errors.New("no Lightning node is configured to pay with: " +
	"add an lnd section (host, tlscertpath, macaroonpath) to fetch.yaml")

// Node connects to the configured lnd, or returns nil when there is none.
func (c Config) Node() (lightning.Node, error) {
	if c.Lnd.Host == "" {
		return nil, nil
	}
	return lightning.NewLnd(lightning.LndConfig{
		Name:         c.Lnd.Host,
		Host:         c.Lnd.Host,
		TLSCertPath:  c.Lnd.TLSCertPath,
		MacaroonPath: c.Lnd.MacaroonPath,
	})
}
