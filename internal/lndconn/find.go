package lndconn

import (
	"errors"
	"fmt"

	"github.com/l402/l402/internal/lnddetect"
)

// Hooks are what a command adds to the search when lnddetect.Find alone
// does not find one lnd; nil hooks are skipped.
type Hooks struct {
	// Network chooses one of the networks lnd has macaroons for when
	// nothing chose one (setup --interactive asks).
	Network func(networks []string) (string, error)

	// LndDir names lnd's directory when none was found (setup
	// --interactive asks).
	LndDir func() (string, error)

	// Fallback returns where a config names lnd, and the config's path
	// ("" when none does); it is tried when no flag said where lnd is
	// and none was found (bake: serve.yaml, else fetch.yaml). A network
	// given in Options wins over the config's.
	Fallback func() (lnddetect.Options, string)
}

// Find finds lnd with the options and the hooks. Its errors are
// *lnddetect.Problem: lnd_not_found, ambiguous_network, or a file's.
func Find(o Options, h Hooks) (*lnddetect.Result, error) {
	opts := o.detect()
	res, err := lnddetect.Find(opts)

	var amb *lnddetect.AmbiguousNetworkError
	if errors.As(err, &amb) && h.Network != nil {
		if opts.Network, err = h.Network(amb.Networks); err == nil {
			res, err = lnddetect.Find(opts)
		}
	}
	var nf *lnddetect.NotFoundError
	if errors.As(err, &nf) && h.LndDir != nil {
		if opts.LndDir, err = h.LndDir(); err == nil {
			res, err = lnddetect.Find(opts)
		}
	}
	if errors.As(err, &nf) && h.Fallback != nil && !o.Located() {
		res, err = o.fallback(h.Fallback, res, err)
	}
	if err != nil {
		return nil, lnddetect.ExplainFind(err)
	}
	return res, nil
}

// fallback finds the lnd the hook's config names; with none, it returns
// the search's own result and error.
func (o Options) fallback(hook func() (lnddetect.Options, string),
	res *lnddetect.Result, err error) (*lnddetect.Result, error) {

	cfg, path := hook()
	if path == "" {
		return res, err
	}
	if o.Network != "" {
		cfg.Network = o.Network
	}
	cfg.Home, cfg.Getenv = o.Home, o.Getenv
	if res, err = lnddetect.Find(cfg); err != nil {
		return nil, fmt.Errorf("the lnd of %s: %w", path, err)
	}
	res.Source = path
	return res, nil
}
