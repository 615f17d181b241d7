package lnddetect

import (
	"errors"
	"io/fs"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Cause is why a call to lnd failed, as a stable code for --json output.
type Cause string

// The causes Classify tells apart.
const (
	CauseUnreachable     Cause = "lnd_unreachable"
	CauseTimeout         Cause = "lnd_timeout"
	CauseNotGRPC         Cause = "not_lnd_grpc"
	CauseTLSNameMismatch Cause = "tls_name_mismatch"
	CauseTLSWrongCert    Cause = "tls_wrong_cert"
	CauseTLSExpired      Cause = "tls_expired"
	CauseWrongMacaroon   Cause = "wrong_macaroon"
	CauseMacaroonExpired Cause = "macaroon_expired"
	CauseMacaroonDenied  Cause = "macaroon_permission"
	CauseNoMacaroon      Cause = "no_macaroon_sent"
	CauseWalletLocked    Cause = "wallet_locked"
	CauseNoWallet        Cause = "wallet_not_created"
	CauseStarting        Cause = "lnd_starting"
	CauseFilePermission  Cause = "file_permission_denied"
	CauseFileMissing     Cause = "file_missing"
	CauseBadFile         Cause = "bad_file"
	CauseWrongNetwork    Cause = "wrong_network"
	CauseNotFound        Cause = "lnd_not_found"
	CauseAmbiguous       Cause = "ambiguous_network"
	CauseUnknown         Cause = "unknown"
)

// Causes lists every cause, for the tests that check each has an exit
// code and a fix.
var Causes = []Cause{CauseUnreachable, CauseTimeout, CauseNotGRPC,
	CauseTLSNameMismatch, CauseTLSWrongCert, CauseTLSExpired,
	CauseWrongMacaroon, CauseMacaroonExpired, CauseMacaroonDenied,
	CauseNoMacaroon, CauseWalletLocked, CauseNoWallet, CauseStarting,
	CauseFilePermission, CauseFileMissing, CauseBadFile, CauseWrongNetwork,
	CauseNotFound, CauseAmbiguous, CauseUnknown}

// textRule maps words found in an error's text to a cause.
type textRule struct {
	cause Cause
	words []string
}

// textRules are tried in order on the lower-cased text of an error. The
// words are lnd's, its libraries' and Go's own (see diagnose_test.go for
// where each comes from).
var textRules = []textRule{
	{CauseWalletLocked, []string{"wallet locked",
		"unknown service lnrpc.lightning"}},
	{CauseNoWallet, []string{"wallet not created"}},
	{CauseStarting, []string{"in the process of starting up",
		"waiting to start, rpc services not available"}},
	{CauseWrongMacaroon, []string{
		"signature mismatch after caveat verification",
		"root key with id", "cannot get macaroon",
		"macaroon not found in storage", "unknown macaroon version"}},
	{CauseMacaroonExpired, []string{"macaroon has expired"}},
	{CauseNoMacaroon, []string{"expected 1 macaroon"}},
	{CauseTLSNameMismatch, []string{"certificate is valid for",
		"doesn't contain any ip sans",
		"certificate is not valid for any names",
		"legacy common name field"}},
	{CauseTLSWrongCert, []string{"certificate signed by unknown authority"}},
	{CauseTLSExpired, []string{"certificate has expired"}},
	{CauseNotGRPC, []string{"first record does not look like a tls",
		"missing selected alpn property",
		"error reading server preface", "http2: frame too large"}},
	{CauseUnreachable, []string{"connection refused", "no such host",
		"no route to host", "network is unreachable",
		"connection reset by peer", "host is down"}},
	{CauseTimeout, []string{"i/o timeout", "context deadline exceeded"}},
	{CauseUnreachable, []string{"dial tcp", "dial unix",
		"error while dialing"}},
}

// Classify says why a call to lnd, or the reading of lnd's files, failed.
func Classify(err error) Cause {
	if err == nil {
		return ""
	}
	if c := classifyTyped(err); c != "" {
		return c
	}
	text := strings.ToLower(err.Error())
	for _, rule := range textRules {
		for _, w := range rule.words {
			if strings.Contains(text, w) {
				return rule.cause
			}
		}
	}
	return classifyLast(err, text)
}

// classifyTyped classifies the errors whose type says it all.
func classifyTyped(err error) Cause {
	if c := classifyFind(err); c != "" {
		return c
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return CauseFilePermission
	case errors.Is(err, ErrMissing), errors.Is(err, fs.ErrNotExist):
		return CauseFileMissing
	case errors.Is(err, ErrBadFile):
		return CauseBadFile
	}
	return ""
}

// classifyFind classifies the errors of Find and VerifyNetwork.
func classifyFind(err error) Cause {
	var (
		ne  *NetworkError
		nf  *NotFoundError
		amb *AmbiguousNetworkError
		nn  *NoNetworkError
	)
	switch {
	case errors.As(err, &ne):
		return CauseWrongNetwork
	case errors.As(err, &nf):
		return CauseNotFound
	case errors.As(err, &amb):
		return CauseAmbiguous
	case errors.As(err, &nn) && nn.Denied:
		return CauseFilePermission
	case errors.As(err, &nn):
		return CauseFileMissing
	}
	return ""
}

// classifyLast classifies what the text rules left: the file errors that
// lost their type, lnd's "permission denied" (the macaroon lacks a
// permission), and the gRPC codes.
func classifyLast(err error, text string) Cause {
	switch {
	case strings.Contains(text, "open ") &&
		strings.Contains(text, "permission denied"):
		return CauseFilePermission
	case strings.Contains(text, "open ") &&
		strings.Contains(text, "no such file or directory"):
		return CauseFileMissing
	case strings.Contains(text, "permission denied"):
		return CauseMacaroonDenied
	}

	switch grpcCode(err) {
	case codes.Unimplemented:
		return CauseWalletLocked
	case codes.Unavailable:
		return CauseUnreachable
	case codes.DeadlineExceeded:
		return CauseTimeout
	}
	return CauseUnknown
}

// grpcCode returns the gRPC code of err or of an error it wraps.
func grpcCode(err error) codes.Code {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	return codes.Unknown
}

// Diagnose says what went wrong in a call to lnd, or in reading lnd's
// files, and what to run about it.
func Diagnose(err error) string {
	return diagnose(err, "")
}

// diagnose is Diagnose for a call to host ("" when unknown).
func diagnose(err error, host string) string {
	if err == nil {
		return ""
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return fe.Error()
	}
	if classifyFind(err) != "" {
		// Find's errors already say what to do.
		return err.Error()
	}

	if host == "" {
		host = dialedHost(err.Error())
	}
	cause := Classify(err)
	problem, fix := explain(cause, host)
	return problem + " (" + detail(err) + "): " + fix
}

// explain returns the problem and the fix for a cause.
func explain(cause Cause, host string) (string, string) {
	at := "at " + host
	if host == "" {
		at = "at the address l402 dialled"
	}
	switch cause {
	case CauseUnreachable:
		return "lnd is not running or not listening " + at,
			"start lnd, or pass --lnd-host with the address of " +
				"lnd.conf's rpclisten (default localhost:10009)"
	case CauseTimeout:
		return "lnd did not answer in time " + at,
			"check that lnd is running and not blocked by a " +
				"firewall, or pass --lnd-host"
	case CauseNotGRPC:
		return "what answers " + at + " is not lnd's gRPC server",
			"pass --lnd-host with lnd's rpclisten port (10009 by " +
				"default; 8080 is its REST port)"
	}
	if p, f := explainTLS(cause); p != "" {
		return p, f
	}
	if p, f := explainMacaroon(cause); p != "" {
		return p, f
	}
	return explainState(cause)
}

// explainTLS returns the problem and fix for the TLS causes.
func explainTLS(cause Cause) (string, string) {
	switch cause {
	case CauseTLSNameMismatch:
		return "TLS name mismatch: lnd's certificate does not name the " +
				"host l402 dialled",
			"dial a name the certificate holds (localhost, " +
				"127.0.0.1) with --lnd-host, check that --lnd-tls " +
				"is this node's tls.cert, or add the name to " +
				"lnd.conf with tlsextradomain= or tlsextraip=, " +
				"delete tls.cert and tls.key, and restart lnd"
	case CauseTLSWrongCert:
		return "wrong tls.cert: lnd answers with a certificate other " +
				"than the one given",
			"pass --lnd-tls with this node's tls.cert (lnd makes a " +
				"new one when tls.cert and tls.key are deleted; " +
				"copy it again)"
	case CauseTLSExpired:
		return "lnd's TLS certificate has expired",
			"delete tls.cert and tls.key in lnd's directory and " +
				"restart lnd (tlsautorefresh=1 in lnd.conf renews " +
				"it by itself)"
	}
	return "", ""
}

// explainMacaroon returns the problem and fix for the macaroon causes.
func explainMacaroon(cause Cause) (string, string) {
	switch cause {
	case CauseWrongMacaroon:
		return "wrong macaroon: this lnd did not make it",
			"use a macaroon from this node's " +
				"data/chain/bitcoin/<network>/ (check --lnddir, " +
				"--network and --lnd-macdir), or bake one with " +
				"`l402 setup --bake`"
	case CauseMacaroonExpired:
		return "the macaroon has expired",
			"bake a new one with `l402 setup --bake`"
	case CauseMacaroonDenied:
		return "the macaroon does not allow this call",
			"use one with the permission (GetInfo needs info:read, " +
				"which readonly.macaroon and admin.macaroon have " +
				"and invoice.macaroon has not), or bake one with " +
				"`l402 setup --bake`"
	case CauseNoMacaroon:
		return "no macaroon reached lnd",
			"pass --lnd-macdir with lnd's macaroons"
	case CauseFilePermission:
		return "permission denied reading lnd's file",
			"run as the user that owns lnd's directory, or copy the " +
				"macaroon to a directory of yours with mode 0600 " +
				"and pass it with --lnd-macdir"
	case CauseFileMissing:
		return "one of lnd's files is missing",
			"check --lnddir, --lnd-tls and --lnd-macdir"
	case CauseBadFile:
		return "one of lnd's files is damaged",
			"copy it again from lnd's directory"
	}
	return "", ""
}

// explainState returns the problem and fix for lnd's wallet states.
func explainState(cause Cause) (string, string) {
	switch cause {
	case CauseWalletLocked:
		return "lnd's wallet is locked",
			"run `lncli unlock` (with the --lnddir and --network " +
				"lnd uses), then try again"
	case CauseNoWallet:
		return "lnd has no wallet yet",
			"run `lncli create`, then try again"
	case CauseStarting:
		return "lnd is still starting up",
			"wait until `lncli state` says SERVER_ACTIVE, then " +
				"try again"
	}
	return "unexpected error from lnd",
		"check lnd's log (logs/bitcoin/<network>/lnd.log in its " +
			"directory)"
}

// detail shortens an error's text to its last, most precise part: gRPC
// wraps the cause in "rpc error: code = ... desc = ..." and transport
// prefixes.
func detail(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "desc = "); i >= 0 {
		s = s[i+len("desc = "):]
	}
	s = strings.Trim(s, `"`)
	for _, prefix := range []string{"transport: ",
		"authentication handshake failed: ", "Error while dialing: ",
		"tls: failed to verify certificate: "} {

		s = strings.TrimPrefix(s, prefix)
	}
	return s
}

// dialedHost finds the address in a dial error ("dial tcp HOST: ..."), or
// returns "".
func dialedHost(text string) string {
	for _, marker := range []string{"dial tcp ", "dial tcp4 ",
		"dial tcp6 ", "dial unix "} {

		i := strings.Index(text, marker)
		if i < 0 {
			continue
		}
		rest := text[i+len(marker):]
		if j := strings.Index(rest, ": "); j > 0 {
			return rest[:j]
		}
	}
	return ""
}
