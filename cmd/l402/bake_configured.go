package main

import (
	"path/filepath"

	"github.com/l402/l402/fetch"
	"github.com/l402/l402/internal/config"
	"github.com/l402/l402/internal/lnddetect"
	"github.com/l402/l402/serve"
)

// configuredLnd returns where serve.yaml, else fetch.yaml, says lnd is,
// and the config's path; the path is empty when neither names an lnd.
// bake falls back to it when no flag says where lnd is and none is
// found; it lives here because bake may not import serve or fetch.
func configuredLnd() (lnddetect.Options, string) {
	dir, err := config.Home()
	if err != nil {
		return lnddetect.Options{}, ""
	}

	servePath := filepath.Join(dir, "serve.yaml")
	if cfg, err := serve.LoadConfig(servePath); err == nil &&
		!cfg.Authenticator.Disable && cfg.Authenticator.LndHost != "" {

		a := cfg.Authenticator
		return lnddetect.Options{Network: a.Network, LndHost: a.LndHost,
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
	return lnddetect.Options{LndHost: cfg.Lnd.Host,
		TLSCertPath: cfg.Lnd.TLSCertPath,
		MacaroonDir: filepath.Dir(cfg.Lnd.MacaroonPath)}, fetchPath
}
