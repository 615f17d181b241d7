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
	Lnd LndConfig `yaml:"lnd"`

	// MaxCostSat and MaxFeeSat are pointers so that an explicit 0 (pay
	// nothing, or only fee-free routes) is kept, not taken as unset.
	MaxCostSat     *int64        `yaml:"maxcost"`
	MaxFeeSat      *int64        `yaml:"maxfee"`
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

	if cfg.MaxCostSat == nil {
		v := int64(DefaultMaxCostSat)
		cfg.MaxCostSat = &v
	}
	if cfg.MaxFeeSat == nil {
		v := int64(DefaultMaxFeeSat)
		cfg.MaxFeeSat = &v
	}
	if cfg.PaymentTimeout == 0 {
		cfg.PaymentTimeout = DefaultPaymentTimeout
	}
	if err := CheckAmounts(*cfg.MaxCostSat, *cfg.MaxFeeSat, cfg.MaxTotalSat,
		cfg.MaxPerOriginSat); err != nil || cfg.PaymentTimeout < 0 {
		return cfg, fmt.Errorf("config %s: maxcost, maxfee, maxtotal and "+
			"maxperorigin must be sats from 0 to %d, paymenttimeout "+
			"positive", path, MaxSats)
	}

	// Paths are relative to the config file, so that every process
	// reading it finds the same store and the same locks.
	for _, p := range []*string{&cfg.Lnd.TLSCertPath, &cfg.Lnd.MacaroonPath,
		&cfg.TokenStore} {
		if *p, err = config.ExpandHome(*p); err != nil {
			return cfg, err
		}
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(path), *p)
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
