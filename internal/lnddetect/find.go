package lnddetect

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// candidate is one place lnd may be.
type candidate struct {
	dir    string // lnd's directory; "" for flags or remote-mode litd
	source string

	// explicit is set for --lnddir, which is used as given.
	explicit bool

	// conf is lnd's configuration, nil when none was read.
	conf *lndConf

	// network is the network the source itself decides (litd's
	// "network" option), or "".
	network string

	// remote is set for litd in remote mode: its remote.lnd.* options
	// say where the lnd is.
	remote *litConf
}

// Find finds the local lnd, reading files only. It returns an
// *AmbiguousNetworkError when lnd has macaroons for several networks and
// nothing chose one, a *NotFoundError when no lnd was found, and an error
// naming the flag when a flag is wrong.
func Find(opts Options) (*Result, error) {
	e := newEnv(opts)
	if opts.Network != "" {
		network, err := NormalizeNetwork(opts.Network)
		if err != nil {
			return nil, fmt.Errorf("--network: %w", err)
		}
		e.Network = network
	}

	c, err := e.choose()
	if err != nil {
		return nil, err
	}
	return e.resolve(c)
}

// choose returns the candidate to use: --lnddir when given, else the first
// directory that looks like lnd's, else the flags alone when they say
// enough.
func (e *env) choose() (*candidate, error) {
	if e.LndDir != "" {
		return e.explicitDir()
	}

	var chosen *candidate
	var looked []string
	for _, c := range e.candidates() {
		looked = append(looked, c.describe())
		if !e.usable(c) {
			continue
		}
		if chosen == nil {
			chosen = c
			continue
		}
		e.note("also found lnd at %s (%s); pass --lnddir to use it",
			c.describe(), c.source)
	}
	switch {
	case chosen != nil:
		return chosen, nil
	case e.LndHost != "" && e.TLSCertPath != "" && e.MacaroonDir != "":
		return &candidate{source: "flags"}, nil
	}
	return nil, &NotFoundError{Looked: looked}
}

// explicitDir returns the --lnddir candidate, which must be a directory.
func (e *env) explicitDir() (*candidate, error) {
	dir := e.expand(e.LndDir)
	fi, err := e.FS.Stat(dir)
	switch {
	case err != nil:
		return nil, fmt.Errorf("--lnddir %s %s: pass lnd's directory "+
			"(the one holding tls.cert and data/)", dir,
			describe(err))
	case !fi.IsDir():
		return nil, fmt.Errorf("--lnddir %s is not a directory: pass "+
			"lnd's directory (the one holding tls.cert and data/)",
			dir)
	}
	c := &candidate{dir: dir, source: "--lnddir", explicit: true}
	e.loadConf(c, e.litd())
	return c, nil
}

// describe names a candidate's place for humans.
func (c *candidate) describe() string {
	if c.dir != "" {
		return c.dir
	}
	return c.source
}

// candidates lists the places lnd may be, in the order they are tried,
// each once, with their configuration loaded. --lnddir, when given, is
// the only place (see explicitDir).
//
// The layouts, and where each was confirmed:
//
//   - $LND_DIR.
//   - lnd's own default, btcutil.AppDataDir("lnd"): ~/.lnd, on macOS
//     ~/Library/Application Support/Lnd, on Windows %LOCALAPPDATA%\Lnd
//     (lnd config.go DefaultLndDir; btcutil appdata.go).
//   - litd (lightning-terminal config.go): lit.conf in
//     btcutil.AppDataDir("lit") (~/.lit), without section headers, lnd's
//     options prefixed "lnd.", the network in the top-level "network"
//     option. In integrated mode lnd's directory is lnd.lnddir, by default
//     lnd's own default (~/.lnd, not a directory under ~/.lit). In remote
//     mode remote.lnd.rpcserver, remote.lnd.tlscertpath and
//     remote.lnd.macaroonpath say where the lnd is.
//   - Umbrel: <umbrel>/app-data/lightning/data/lnd mounted as lnd's
//     /data/.lnd (getumbrel/umbrel-apps lightning/exports.sh and
//     docker-compose.yml), and <umbrel>/lnd before umbrelOS 0.5.
//   - RaspiBlitz: /mnt/hdd/app-data/lnd, earlier /mnt/hdd/lnd (raspiblitz
//     config scripts symlink ~/.lnd to it).
//   - RaspiBolt and MiniBolt: /data/lnd (their guides symlink
//     /home/admin/.lnd to it).
//   - myNode: /mnt/hdd/mynode/lnd (mynode_config.sh).
//
// The first that holds tls.cert, lnd.conf or data/ is used (see usable);
// the others found are noted.
func (e *env) candidates() []*candidate {
	lit := e.litd()
	var list []*candidate
	seen := map[string]bool{}
	add := func(dir, source string) {
		if dir == "" || seen[dir] {
			return
		}
		seen[dir] = true
		c := &candidate{dir: dir, source: source}
		e.loadConf(c, lit)
		list = append(list, c)
	}

	if dir := e.Getenv("LND_DIR"); dir != "" {
		dir = e.expand(dir)
		if !e.isDir(dir) {
			e.note("$LND_DIR is %s, which is not a directory; "+
				"ignored", dir)
		}
		add(dir, "$LND_DIR")
	}
	add(e.inHome(".lnd"), "~/.lnd")
	add(e.appDataDir("lnd"), e.platformSource())

	switch {
	case lit != nil && lit.conf.mode == "integrated":
		add(lit.lndDir, "litd "+lit.source)
	case lit != nil && lit.conf.remoteMacaroon != "":
		list = append(list, &candidate{
			source: "litd " + lit.source + " (remote mode)",
			remote: &lit.conf, network: lit.conf.network,
		})
	}

	for _, a := range e.appliances() {
		add(a.dir, a.source)
	}
	return list
}

// platformSource names the platform's default lnd directory for humans.
func (e *env) platformSource() string {
	switch e.GOOS {
	case "darwin":
		return "~/Library/Application Support/Lnd"
	case "windows":
		return `%LOCALAPPDATA%\Lnd`
	}
	return "lnd's default directory"
}

// place is a directory and its name for humans.
type place struct {
	dir, source string
}

// appliances are the node distributions' lnd directories.
func (e *env) appliances() []place {
	return []place{
		{e.inHome("umbrel", "app-data", "lightning", "data", "lnd"),
			"Umbrel"},
		{e.system("/home/umbrel/umbrel/app-data/lightning/data/lnd"),
			"Umbrel"},
		{e.inHome("umbrel", "lnd"), "Umbrel (before 0.5)"},
		{e.system("/home/umbrel/umbrel/lnd"), "Umbrel (before 0.5)"},
		{e.system("/mnt/hdd/app-data/lnd"), "RaspiBlitz"},
		{e.system("/mnt/hdd/lnd"), "RaspiBlitz"},
		{e.system("/data/lnd"), "RaspiBolt"},
		{e.system("/mnt/hdd/mynode/lnd"), "myNode"},
	}
}

// usable says whether a candidate is lnd's: a directory holding tls.cert,
// lnd.conf or data/, or litd's remote-mode settings whose macaroon exists.
func (e *env) usable(c *candidate) bool {
	if c.remote != nil {
		return e.exists(e.expand(c.remote.remoteMacaroon))
	}
	if !e.isDir(c.dir) {
		return false
	}
	for _, name := range []string{"tls.cert", "lnd.conf", "data"} {
		if e.exists(filepath.Join(c.dir, name)) {
			return true
		}
	}
	e.note("%s exists but holds no tls.cert, lnd.conf or data/; "+
		"skipped", c.dir)
	return false
}

// loadConf reads the candidate's lnd.conf. When litd runs lnd in this
// directory (integrated mode), lit.conf is lnd's configuration instead:
// litd does not read lnd.conf.
func (e *env) loadConf(c *candidate, lit *litInfo) {
	path := filepath.Join(c.dir, "lnd.conf")
	if lit != nil && lit.conf.mode == "integrated" && lit.lndDir == c.dir {
		if e.exists(path) {
			e.note("%s is not read: litd (%s) runs this lnd and "+
				"reads lit.conf", path, lit.source)
		}
		conf := lit.conf.lnd
		c.conf, c.network = &conf, lit.conf.network
		c.source = "litd " + lit.source
		return
	}
	if !e.exists(path) {
		return
	}
	entries := e.readConf(path)
	conf, problems := lndSettings(entries, "")
	e.noteProblems(path, problems)
	c.conf = &conf
}

// readConf reads and parses a config file, noting what goes wrong.
func (e *env) readConf(path string) []confEntry {
	data, err := e.FS.ReadFile(path)
	if err != nil {
		e.note("%s %s; its settings are not used (run as the user "+
			"that owns lnd's directory to use them)", path,
			describe(err))
		return nil
	}
	entries, problems := parseConf(data)
	e.noteProblems(path, problems)
	return entries
}

// noteProblems notes the bad lines of a config file.
func (e *env) noteProblems(path string, problems []string) {
	for _, p := range problems {
		e.note("%s: %s", path, p)
	}
}

// litInfo is a lit.conf found and read.
type litInfo struct {
	conf   litConf
	source string // "~/.lit" or litd's directory
	lndDir string // lnd's directory in integrated mode
}

// litd reads litd's lit.conf from its default directory, or returns nil.
func (e *env) litd() *litInfo {
	dir := e.appDataDir("lit")
	path := filepath.Join(dir, "lit.conf")
	if dir == "" || !e.exists(path) {
		return nil
	}
	conf, problems := litSettings(e.readConf(path))
	e.noteProblems(path, problems)

	info := &litInfo{conf: conf, source: dir}
	if home := e.inHome(); home != "" && strings.HasPrefix(dir, home) {
		info.source = "~" + strings.TrimPrefix(dir, home)
	}
	info.lndDir = e.appDataDir("lnd")
	if conf.lnd.lndDir != "" {
		info.lndDir = e.expand(conf.lnd.lndDir)
	}
	return info
}

// resolve turns the chosen candidate into a Result.
func (e *env) resolve(c *candidate) (*Result, error) {
	if c.remote != nil {
		return e.resolveRemote(c), nil
	}
	conf := lndConf{}
	if c.conf != nil {
		conf = *c.conf
	}

	r := &Result{Source: c.source, LndDir: c.dir}
	if conf.lndDir != "" && e.expand(conf.lndDir) != c.dir {
		r.LndDir = e.expand(conf.lndDir)
		e.note("the config file in %s sets lnddir=%s; using that",
			c.dir, r.LndDir)
	}

	dataDir, tlsPath := e.dataAndTLS(r.LndDir, conf)
	r.RPCHost = RPCHost(conf.rpcListen)
	r.TLSCertPath = tlsPath

	confNet := e.confNetwork(c, conf)
	network, err := e.network(r.LndDir, confNet, dataDir)
	if err != nil {
		return nil, err
	}
	r.Network = network

	macDir := ""
	if dataDir != "" && network != "" {
		macDir = filepath.Join(dataDir, "chain", "bitcoin", network)
	}
	macPaths := conf.macPaths
	if confNet != "" && network != confNet {
		// The config file's macaroon paths are for its own network.
		macPaths = nil
	}
	return e.finish(r, macDir, macPaths), nil
}

// resolveRemote turns litd's remote-mode settings into a Result.
func (e *env) resolveRemote(c *candidate) *Result {
	lit := c.remote
	r := &Result{Source: c.source}
	r.RPCHost = RPCHost(lit.remoteHost)
	r.TLSCertPath = e.expand(lit.remoteTLS)
	if r.TLSCertPath == "" {
		r.TLSCertPath = filepath.Join(e.appDataDir("lnd"), "tls.cert")
	}
	macPath := e.expand(lit.remoteMacaroon)
	macDir := filepath.Dir(macPath)

	network := e.Network
	if network == "" {
		network = e.normalizeConf(lit.network, "lit.conf's network")
	}
	if network == "" {
		network = networkOfDir(macDir)
	}
	r.Network = network
	name := strings.TrimSuffix(filepath.Base(macPath), ".macaroon")
	return e.finish(r, macDir, map[string]string{name: macPath})
}

// finish applies the flags that override what was found, checks the
// files, and collects the notes.
func (e *env) finish(r *Result, macDir string,
	macPaths map[string]string) *Result {

	if e.LndHost != "" {
		r.RPCHost = RPCHost(e.LndHost)
	}
	if e.TLSCertPath != "" {
		r.TLSCertPath = e.expand(e.TLSCertPath)
	}
	if e.MacaroonDir != "" {
		macDir, macPaths = e.expand(e.MacaroonDir), nil
	}
	r.MacaroonDir = macDir
	r.Macaroons = map[string]MacaroonFile{}
	if macDir != "" {
		r.Macaroons = e.macaroonFiles(macDir, macPaths)
	}
	r.TLSCertProblem, r.tlsErr = e.checkFile(r.TLSCertPath, kindCert)
	r.Notes = e.notes
	return r
}

// dataAndTLS returns lnd's data directory and TLS certificate.
func (e *env) dataAndTLS(lndDir string, c lndConf) (string, string) {
	if lndDir == "" {
		return "", ""
	}
	isDefault := lndDir == e.appDataDir("lnd")
	data := e.pickPath(isDefault, lndDir, "datadir",
		filepath.Join(lndDir, "data"), e.expand(c.dataDir))
	tls := e.pickPath(isDefault, lndDir, "tlscertpath",
		filepath.Join(lndDir, "tls.cert"), e.expand(c.tlsCertPath))
	return data, tls
}

// pickPath chooses between a path under lndDir and the one the config
// file sets with key. lnd uses the config file's only when lnddir is its
// default; otherwise it puts the file under lnddir (config.go
// ValidateConfig: lnddir "overwrites all other directory options"). lnd
// may have been started with --configfile alone, though, so the other
// path is taken when only it exists.
func (e *env) pickPath(isDefault bool, lndDir, key, inDir,
	fromConf string) string {

	switch {
	case fromConf == "" || fromConf == inDir:
		return inDir

	case isDefault && (e.exists(fromConf) || !e.exists(inDir)):
		return fromConf

	case isDefault:
		e.note("the config file's %s=%s does not exist; using %s", key,
			fromConf, inDir)
		return inDir

	case !e.exists(inDir) && e.exists(fromConf):
		e.note("lnd puts its %s under lnddir (%s) unless lnddir is "+
			"its default, but only %s exists; using it", key,
			lndDir, fromConf)
		return fromConf
	}
	e.note("the config file's %s=%s is not used: lnd ignores it "+
		"when lnddir (%s) is not its default directory (%s)", key,
		fromConf, lndDir, e.appDataDir("lnd"))
	return inDir
}

// network decides lnd's network: --network, then the config file, then
// the macaroon directories that exist.
func (e *env) network(lndDir, confNet, dataDir string) (string, error) {

	chainDir := ""
	var found []string
	denied := false
	if dataDir != "" {
		chainDir = filepath.Join(dataDir, "chain", "bitcoin")
		found, denied = e.macaroonNetworks(chainDir)
	}

	chosen, from := e.Network, "--network"
	if chosen == "" && e.MacaroonDir != "" {
		chosen, from = networkOfDir(e.expand(e.MacaroonDir)),
			"--lnd-macdir"
	}
	if chosen == "" {
		chosen, from = confNet, "the config file"
	}

	switch {
	case chosen != "":
		if len(found) > 0 && !slices.Contains(found, chosen) {
			e.note("%s says %s, but lnd has macaroons only for %s",
				from, chosen, strings.Join(found, ", "))
		}
		return chosen, nil
	case e.MacaroonDir != "":
		return "", nil
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return "", &AmbiguousNetworkError{Networks: found,
			ChainDir: chainDir}
	}
	if chainDir == "" {
		chainDir = filepath.Join(lndDir, "data", "chain", "bitcoin")
	}
	return "", &NoNetworkError{ChainDir: chainDir, Denied: denied}
}

// confNetwork is the network the candidate's configuration chooses, or "".
func (e *env) confNetwork(c *candidate, conf lndConf) string {
	if c.network != "" {
		return e.normalizeConf(c.network, "lit.conf's network")
	}
	switch len(conf.networks) {
	case 0:
		return ""
	case 1:
		return conf.networks[0]
	}
	e.note("the config file turns on several networks (%s), which lnd "+
		"refuses; looking at the macaroons instead",
		strings.Join(conf.networks, ", "))
	return ""
}

// normalizeConf normalizes a network name from a config file, noting an
// unknown one.
func (e *env) normalizeConf(name, what string) string {
	if name == "" {
		return ""
	}
	n, err := NormalizeNetwork(name)
	if err != nil {
		e.note("%s: %v; ignored", what, err)
	}
	return n
}

// macaroonNetworks returns the networks whose directory under chainDir
// holds one of lnd's macaroons, and whether a directory could not be
// looked into.
func (e *env) macaroonNetworks(chainDir string) (found []string,
	denied bool) {

	if _, err := e.FS.Stat(chainDir); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			e.note("cannot look into %s: permission denied",
				chainDir)
			return nil, true
		}
		return nil, false
	}
	for _, n := range Networks {
		dir := filepath.Join(chainDir, n)
		if !e.isDir(dir) {
			continue
		}
		has, err := e.hasMacaroon(dir)
		switch {
		case err != nil:
			e.note("cannot look into %s: %s", dir, describe(err))
			denied = true
		case has:
			found = append(found, n)
		default:
			e.note("%s holds no macaroons (lnd writes them when "+
				"its wallet is created or unlocked)", dir)
		}
	}
	return found, denied
}

// hasMacaroon says whether dir holds admin, invoice or readonly.macaroon.
func (e *env) hasMacaroon(dir string) (bool, error) {
	var denied error
	for _, name := range standardMacaroons {
		_, err := e.FS.Stat(filepath.Join(dir, name+".macaroon"))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, fs.ErrPermission):
			denied = err
		}
	}
	return false, denied
}

// networkOfDir returns the network a macaroon directory is named for
// (lnd's <datadir>/chain/bitcoin/<network>), or "".
func networkOfDir(dir string) string {
	base := filepath.Base(dir)
	if slices.Contains(Networks, base) {
		return base
	}
	return ""
}
