package lnddetect

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMissing marks a macaroon or certificate that is not where lnd would
// put it.
var ErrMissing = errors.New("file not found")

// ErrBadFile marks a file that is there and readable but is not what it
// should be: empty, not a macaroon, not a PEM certificate.
var ErrBadFile = errors.New("file is damaged")

// NotFoundError says that no lnd was found and where Find looked.
type NotFoundError struct {
	Looked []string
}

// Error implements error.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no lnd directory found (looked in %s): pass "+
		"--lnddir with lnd's directory, or --lnd-host, --lnd-tls and "+
		"--lnd-macdir for an lnd elsewhere",
		strings.Join(e.Looked, ", "))
}

// AmbiguousNetworkError says that lnd's directory holds macaroons for
// several networks and nothing chose one.
type AmbiguousNetworkError struct {
	// Networks are the networks with macaroons, in Networks' order.
	Networks []string

	// ChainDir is the directory holding one directory per network.
	ChainDir string
}

// Error implements error.
func (e *AmbiguousNetworkError) Error() string {
	return fmt.Sprintf("lnd has macaroons for several networks (%s) in "+
		"%s: pass --network with one of them",
		strings.Join(e.Networks, ", "), e.ChainDir)
}

// NoNetworkError says that nothing told which network lnd runs on: no
// --network, no network flag in its config file, and no macaroons.
type NoNetworkError struct {
	// ChainDir is where the per-network macaroon directories would be.
	ChainDir string

	// Denied is set when that directory could not be read.
	Denied bool
}

// Error implements error.
func (e *NoNetworkError) Error() string {
	if e.Denied {
		return fmt.Sprintf("cannot look into %s (permission denied): "+
			"run as the user that owns lnd's directory (or one in "+
			"its group), or pass --network and --lnd-macdir",
			e.ChainDir)
	}
	return fmt.Sprintf("no macaroons in %s/<network>/: lnd writes them "+
		"when its wallet is created or unlocked (run `lncli create` "+
		"or `lncli unlock`); if lnd keeps them elsewhere, pass "+
		"--network and --lnd-macdir", e.ChainDir)
}

// Problem is a failure to find or use lnd: its cause is its stable code,
// its message says what to do, and the failure it explains stays in the
// chain.
type Problem struct {
	Cause Cause
	Msg   string
	Err   error
}

// Error implements error.
func (p *Problem) Error() string { return p.Msg }

// Unwrap returns the failure explained.
func (p *Problem) Unwrap() error { return p.Err }

// Code returns the cause, the JSON code commands report.
func (p *Problem) Code() string { return string(p.Cause) }

// Explain turns a failure to use lnd into a Problem with its cause and a
// message that says what to do; hints are added to the message.
func Explain(err error, hints ...string) error {
	msg := Diagnose(err)
	var ve *VerifyError
	if errors.As(err, &ve) {
		msg = ve.Error()
	}
	for _, h := range hints {
		msg += "; " + h
	}
	return &Problem{Cause: Classify(err), Msg: msg, Err: err}
}

// ExplainFind turns a failure of Find into a Problem. Find's errors say
// what to do already; those Classify does not know (a bad --lnddir) are
// CauseNotFound, with Find's own message.
func ExplainFind(err error) error {
	if Classify(err) == CauseUnknown {
		return &Problem{Cause: CauseNotFound, Msg: err.Error(), Err: err}
	}
	return Explain(err)
}
