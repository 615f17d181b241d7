package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lightning"
	"github.com/l402/l402/internal/lnddetect"
	"github.com/l402/l402/serve"
	"github.com/spf13/pflag"
)

// lndFlags say where lnd is and which macaroon to call it with; they are
// setup's flags, plus --macaroon.
type lndFlags struct {
	lndDir, network, host, tls, macDir string

	// macaroon is the macaroon file to call lnd with; empty means the
	// one lnddetect finds (admin, or readonly where that is enough).
	macaroon string
}

// add registers the flags.
func (f *lndFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.lndDir, "lnddir", "", "lnd's directory (default: "+
		"found, else the lnd of serve.yaml or fetch.yaml)")
	fs.StringVar(&f.network, "network", "", "mainnet, testnet, testnet4, "+
		"signet, regtest or simnet (default: found)")
	fs.StringVar(&f.host, "lnd-host", "", "lnd's gRPC host:port "+
		"(default: from lnd.conf, else localhost:10009)")
	fs.StringVar(&f.tls, "lnd-tls", "", "lnd's tls.cert")
	fs.StringVar(&f.macDir, "lnd-macdir", "", "lnd's macaroon directory")
	fs.StringVar(&f.macaroon, "macaroon", "", "the macaroon to call lnd "+
		"with; baking needs macaroon:generate (default: admin.macaroon "+
		"in the macaroon directory)")
}

// check validates the flags that can be checked without lnd.
func (f *lndFlags) check() error {
	if f.network == "" {
		return nil
	}
	n, err := lnddetect.NormalizeNetwork(f.network)
	if err != nil {
		return fmt.Errorf("--network: %w", err)
	}
	f.network = n
	return nil
}

// located reports whether a flag said where lnd is.
func (f *lndFlags) located() bool {
	return f.lndDir != "" || f.host != "" || f.tls != "" || f.macDir != ""
}

// bakeNode is the lnd bake found and connected to.
type bakeNode struct {
	res  *lnddetect.Result
	lnd  *lightning.Lnd
	info lightning.Info

	// macaroon is the file the connection calls lnd with.
	macaroon string
}

// connectLnd finds lnd as setup does, connects with the macaroon of the
// flags or the first usable of names, and checks the node with GetInfo.
// Every failure is exit 3 with lnddetect's cause as its code.
func connectLnd(ctx context.Context, f lndFlags,
	names ...string) (*bakeNode, error) {

	res, err := findLnd(f)
	if err != nil {
		return nil, lnddetect.ExplainFind(err)
	}
	cert, err := res.TLSCert()
	if err != nil {
		return nil, lnddetect.Explain(err)
	}
	mac, err := callMacaroon(res, f.macaroon, names)
	if err != nil && f.macaroon == "" {
		return nil, lnddetect.Explain(err, "or pass --macaroon with a macaroon "+
			"file that may do this")
	}
	if err != nil {
		return nil, lnddetect.Explain(err)
	}

	l, err := lightning.NewLnd(lightning.LndConfig{Name: res.RPCHost,
		Host: res.RPCHost, TLSCertPath: cert, MacaroonPath: mac})
	if err != nil {
		return nil, lnddetect.Explain(err)
	}
	info, err := l.Info(ctx)
	if err == nil && res.Network != "" {
		err = lnddetect.VerifyNetwork(res.Network, lnddetect.NodeInfo{
			Chain: "bitcoin", Network: info.Network})
	}
	if err != nil {
		l.Close()
		return nil, lnddetect.Explain(&lnddetect.VerifyError{
			Cause: lnddetect.Classify(err), Host: res.RPCHost, Err: err})
	}
	return &bakeNode{res: res, lnd: l, info: info, macaroon: mac}, nil
}

// findLnd runs lnddetect.Find with the flags. When no flag says where lnd
// is and none is found, it tries the lnd of the configs setup wrote.
func findLnd(f lndFlags) (*lnddetect.Result, error) {
	opts := lnddetect.Options{LndDir: f.lndDir, Network: f.network,
		LndHost: f.host, TLSCertPath: f.tls, MacaroonDir: f.macDir}
	if opts.MacaroonDir == "" && f.macaroon != "" && f.lndDir == "" {
		// --lnd-host, --lnd-tls and --macaroon say enough.
		opts.MacaroonDir = filepath.Dir(f.macaroon)
	}
	res, err := lnddetect.Find(opts)

	var nf *lnddetect.NotFoundError
	if !errors.As(err, &nf) || f.located() {
		return res, err
	}
	cfg, path := configuredLnd(f)
	if path == "" {
		return res, err
	}
	if res, err = lnddetect.Find(cfg); err != nil {
		return nil, fmt.Errorf("the lnd of %s: %w", path, err)
	}
	res.Source = path
	return res, nil
}

// configuredLnd returns where serve.yaml, else fetch.yaml, says lnd is,
// and the config's path; the path is empty when neither names an lnd.
func configuredLnd(f lndFlags) (lnddetect.Options, string) {
	dir, err := config.Home()
	if err != nil {
		return lnddetect.Options{}, ""
	}

	servePath := filepath.Join(dir, "serve.yaml")
	if cfg, err := serve.LoadConfig(servePath); err == nil &&
		!cfg.Authenticator.Disable && cfg.Authenticator.LndHost != "" {

		a := cfg.Authenticator
		network := f.network
		if network == "" {
			network = a.Network
		}
		return lnddetect.Options{Network: network, LndHost: a.LndHost,
			TLSCertPath: a.TLSPath, MacaroonDir: a.MacDir}, servePath
	}

	fetchPath, err := fetch.DefaultConfigPath()
	if err != nil {
		return lnddetect.Options{}, ""
	}
	cfg, err := fetch.LoadConfig(fetchPath, true)
	if err != nil || cfg.Lnd.Host == "" || cfg.Lnd.MacaroonPath == "" {
		return lnddetect.Options{}, ""
	}
	return lnddetect.Options{Network: f.network, LndHost: cfg.Lnd.Host,
		TLSCertPath: cfg.Lnd.TLSCertPath,
		MacaroonDir: filepath.Dir(cfg.Lnd.MacaroonPath)}, fetchPath
}

// callMacaroon returns the macaroon file to call lnd with: --macaroon, or
// the first of names that lnddetect found usable, or the first name's
// error.
func callMacaroon(res *lnddetect.Result, flag string,
	names []string) (string, error) {

	if flag == "" {
		for _, name := range names {
			if path, err := res.Macaroon(name); err == nil {
				return path, nil
			}
		}
		_, err := res.Macaroon(names[0])
		return "", err
	}

	path, err := config.ExpandHome(flag)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", &lnddetect.FileError{What: "macaroon", Path: path,
			Problem: "cannot be read", Fix: "pass --macaroon with a " +
				"macaroon file you may read, such as lnd's " +
				"admin.macaroon", Err: err}
	}
	f.Close()
	return path, nil
}

// nodeError gives a failed call to a connected lnd exit 3 when the cause
// is lnd's state, the connection or the macaroon, and exit 1 otherwise.
// The message is the call's own, which says what to do.
func nodeError(err error) error {
	cause := lnddetect.Classify(err)
	if cause == lnddetect.CauseUnknown {
		return err
	}
	return &lnddetect.Problem{Cause: cause, Msg: err.Error(), Err: err}
}
