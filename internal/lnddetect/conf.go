package lnddetect

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"
)

// DefaultRPCPort is lnd's default gRPC port.
const DefaultRPCPort = "10009"

// confEntry is one key=value line of an lnd.conf or a lit.conf.
type confEntry struct {
	Key   string // lower case, with its namespace: "bitcoin.mainnet"
	Value string
	Line  int
}

// parseConf reads an INI file as lnd's parser (go-flags' IniParser) does:
// lines are trimmed; a line starting with ';' or '#' is a comment (there
// are no comments after a value); "[Section]" lines only group options,
// since every key carries its namespace ("bitcoin.mainnet" under
// [Bitcoin]); a key and its value are split at the first '='; a value in
// double quotes is unquoted as Go would. Keys are matched case-blind.
//
// A bad line is returned as a problem, not an error: lnd itself refuses to
// start with such a file, which the verify step reports in its own words.
func parseConf(data []byte) (entries []confEntry, problems []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		entry, problem, ok := parseConfLine(sc.Text(), n)
		if problem != "" {
			problems = append(problems, problem)
		}
		if ok {
			entries = append(entries, entry)
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, "cannot read on: "+err.Error())
	}
	return entries, problems
}

// parseConfLine parses line n; ok says whether it held an option.
func parseConfLine(line string, n int) (e confEntry, problem string,
	ok bool) {

	line = strings.TrimSpace(line)
	switch {
	case line == "", line[0] == ';', line[0] == '#':
		return e, "", false

	case line[0] == '[':
		if len(line) < 2 || line[len(line)-1] != ']' {
			return e, sprintf("line %d: malformed section "+
				"header %q", n, line), false
		}
		if strings.TrimSpace(line[1:len(line)-1]) == "" {
			return e, sprintf("line %d: empty section name", n),
				false
		}
		return e, "", false
	}

	key, value, found := strings.Cut(line, "=")
	if !found {
		return e, sprintf("line %d: %q is not key=value", n, line),
			false
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, `"`) {
		unquoted, err := strconv.Unquote(value)
		if err != nil {
			return e, sprintf("line %d: bad quoted value %s", n,
				value), false
		}
		value = unquoted
	}
	return confEntry{
		Key:   strings.ToLower(strings.TrimSpace(key)),
		Value: value,
		Line:  n,
	}, "", true
}

// lndConf is what an lnd.conf (or lit.conf's "lnd." options) says about
// where lnd's files are and how to reach it. Paths are as written, not
// yet expanded.
type lndConf struct {
	rpcListen   string // the first rpclisten
	tlsCertPath string
	tlsKeyPath  string
	dataDir     string
	lndDir      string

	// macPaths holds adminmacaroonpath, readonlymacaroonpath and
	// invoicemacaroonpath by the name of the macaroon.
	macPaths map[string]string

	// networks are the networks whose bitcoin.<network> flag is on.
	networks []string
}

// macaroonPathKeys maps lnd's macaroon path options to macaroon names.
var macaroonPathKeys = map[string]string{
	"adminmacaroonpath":    "admin",
	"readonlymacaroonpath": "readonly",
	"invoicemacaroonpath":  "invoice",
}

// networkFlags maps lnd's network flags to network names (lncfg.Chain:
// "testnet" is testnet3, whose directory is "testnet").
var networkFlags = map[string]string{
	"bitcoin.mainnet":  "mainnet",
	"bitcoin.testnet":  "testnet",
	"bitcoin.testnet4": "testnet4",
	"bitcoin.signet":   "signet",
	"bitcoin.regtest":  "regtest",
	"bitcoin.simnet":   "simnet",
}

// lndSettings picks lnd's settings out of entries whose keys start with
// prefix ("" for lnd.conf, "lnd." for lit.conf). A later line wins, as in
// lnd, except for rpclisten where lnd listens on all and l402 dials the
// first.
func lndSettings(entries []confEntry, prefix string) (c lndConf,
	problems []string) {

	c.macPaths = map[string]string{}
	flags := map[string]bool{}
	for _, e := range entries {
		key, ok := strings.CutPrefix(e.Key, prefix)
		if !ok {
			continue
		}
		if p := c.set(key, e.Value, flags); p != "" {
			problems = append(problems, sprintf("line %d: %s",
				e.Line, p))
		}
	}
	for _, n := range Networks {
		if flags[n] {
			c.networks = append(c.networks, n)
		}
	}
	return c, problems
}

// set applies one option; it returns a problem for a bad value.
func (c *lndConf) set(key, value string, flags map[string]bool) string {
	switch key {
	case "rpclisten":
		if c.rpcListen == "" {
			c.rpcListen = value
		}
	case "tlscertpath":
		c.tlsCertPath = value
	case "tlskeypath":
		c.tlsKeyPath = value
	case "datadir":
		c.dataDir = value
	case "lnddir":
		c.lndDir = value
	}
	if name, ok := macaroonPathKeys[key]; ok {
		c.macPaths[name] = value
	}
	if network, ok := networkFlags[key]; ok {
		on, err := parseFlag(value)
		if err != nil {
			return sprintf("%s=%s is not a boolean", key, value)
		}
		flags[network] = on
	}
	return ""
}

// parseFlag reads a boolean option as go-flags does: empty means true.
func parseFlag(value string) (bool, error) {
	if value == "" {
		return true, nil
	}
	return strconv.ParseBool(value)
}

// litConf is what a lit.conf says beyond lnd's own options.
type litConf struct {
	lnd     lndConf
	network string // the top-level "network"
	mode    string // "lnd-mode": "integrated", or "remote" (the default)

	remoteHost     string // remote.lnd.rpcserver
	remoteTLS      string // remote.lnd.tlscertpath
	remoteMacaroon string // remote.lnd.macaroonpath
}

// litSettings picks litd's settings out of a lit.conf.
func litSettings(entries []confEntry) (c litConf, problems []string) {
	c.lnd, problems = lndSettings(entries, "lnd.")
	c.mode = "remote"
	for _, e := range entries {
		switch e.Key {
		case "network":
			c.network = e.Value
		case "lnd-mode":
			c.mode = strings.ToLower(e.Value)
		case "remote.lnd.rpcserver":
			c.remoteHost = e.Value
		case "remote.lnd.tlscertpath":
			c.remoteTLS = e.Value
		case "remote.lnd.macaroonpath":
			c.remoteMacaroon = e.Value
		}
	}
	return c, problems
}

// RPCHost turns one of lnd's rpclisten values into an address l402 can
// dial, as lnd's lncfg.ParseAddressString reads it: "tcp://" and "tcp:"
// prefixes are dropped; a bare port means localhost; a missing port is
// 10009; the unspecified addresses 0.0.0.0, :: and "" become 127.0.0.1
// and ::1 (as litd does in lndConnectParams), which lnd's certificate
// always names; "unix:" sockets become gRPC's unix:// targets. An empty
// value is lnd's default, localhost:10009.
func RPCHost(listen string) string {
	listen = strings.TrimSpace(listen)
	if listen == "" {
		return net.JoinHostPort("localhost", DefaultRPCPort)
	}
	if target, ok := unixTarget(listen); ok {
		return target
	}
	listen = stripTCPScheme(listen)

	host, port, err := net.SplitHostPort(withPort(listen))
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// unixTarget turns "unix:path" or "unix://path" (also unixpacket) into a
// gRPC target.
func unixTarget(listen string) (string, bool) {
	for _, scheme := range []string{"unixpacket", "unix"} {
		rest, ok := strings.CutPrefix(listen, scheme+":")
		if !ok {
			continue
		}
		path := strings.TrimPrefix(rest, "//")
		if strings.HasPrefix(path, "/") {
			return "unix://" + path, true
		}
		return "unix:" + path, true
	}
	return "", false
}

// stripTCPScheme drops a "tcp://", "tcp4:", ... prefix.
func stripTCPScheme(listen string) string {
	for _, scheme := range []string{"tcp4", "tcp6", "tcp"} {
		if rest, ok := strings.CutPrefix(listen, scheme+"://"); ok {
			return rest
		}
		if rest, ok := strings.CutPrefix(listen, scheme+":"); ok {
			return rest
		}
	}
	return listen
}

// withPort adds lnd's default port as lncfg's verifyPort does: a bare
// number is a port on localhost, anything else without a port gets 10009.
func withPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	if _, err := strconv.Atoi(addr); err == nil {
		return net.JoinHostPort("localhost", addr)
	}
	if strings.HasPrefix(addr, "[") {
		return addr + ":" + DefaultRPCPort
	}
	return net.JoinHostPort(addr, DefaultRPCPort)
}
