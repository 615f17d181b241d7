package cli

import "github.com/l402/l402/internal/fault"

// Exit codes. 0, 1 and 2 mean the same in every command; 3 to 6 are named
// for what they mean in each command that uses them (docs/cli.md).
const (
	ExitOK      = 0
	ExitGeneral = 1
	ExitUsage   = 2

	// ExitPayment is fetch's failed payment; ExitLnd is the lnd of
	// setup, bake or serve that is not found or not usable. Both are 3.
	ExitPayment = 3
	ExitLnd     = 3

	// ExitNetwork is fetch's network error; ExitDiffers is setup's
	// config or LNC session file that differs. Both are 4.
	ExitNetwork = 4
	ExitDiffers = 4

	ExitUnauthorized = 5
	ExitRateLimited  = 6

	// ExitDryRun is lnget's 10: a --dry-run of the lnget personality
	// printed its preview (`l402 fetch --dry-run` exits 0).
	ExitDryRun = 10
)

// ErrUsage marks bad arguments: an unknown flag or command, a missing or
// extra argument, a bad value.
var ErrUsage = fault.New("bad_arguments", "bad arguments")

// Condition is one row of the table: a stable code, the exit code it ends
// a command with, the commands that can end in it, and what it means.
// docs/cli.md prints the same table (a test keeps them equal).
type Condition struct {
	Code     string
	Exit     int
	Commands string
	Meaning  string
}

// Table is every known condition, in the order docs/cli.md lists them.
var Table = []Condition{
	{"bad_arguments", ExitUsage, "all", "an unknown flag or command, a missing or extra argument, a bad flag value"},
	{"bad_config", ExitGeneral, "all", "a config file that cannot be read or has a bad key or value (the message names the file, key and line)"},
	{"config_not_found", ExitGeneral, "fetch, serve", "the config file named with --config does not exist"},

	{"over_budget", ExitUsage, "fetch", "the price, or the 24-hour spending so far plus the price, is above a cap (--max-cost, --max-total, maxperorigin)"},
	{"invalid_challenge", ExitUsage, "fetch", "the 402 carries no L402 or Payment charge challenge fetch can read, or the Payment challenge is refused (expired, another method, intent or currency)"},
	{"invalid_invoice", ExitUsage, "fetch", "the invoice is refused: no amount, another network, expired, payable for longer than --max-invoice-expiry, a payment hash other than the macaroon's, a Payment request's hash, amount or network other than the invoice's, no payment secret, an unknown even feature bit or a high-S signature (BOLT 11)"},
	{"redirected_challenge", ExitUsage, "fetch", "a redirect led to a 402: fetch never pays an origin it was redirected to"},
	{"payment_failed", ExitPayment, "fetch", "the payment failed, or its outcome is not known yet (it stays pending and the next run resumes it)"},
	{"no_node", ExitGeneral, "fetch", "a payment is needed and fetch.yaml names no node to pay with"},
	{"network_error", ExitNetwork, "fetch", "the request did not reach the server, or the body was cut"},
	{"unauthorized", ExitUnauthorized, "fetch", "401: the server refused the credential"},
	{"rate_limited", ExitRateLimited, "fetch", "429: rate limited beyond what --timeout allows waiting"},
	{"http_error", ExitGeneral, "fetch", "a final HTTP status >= 400 (unless --allow-http-error)"},
	{"token_refused", ExitGeneral, "fetch", "the server refused the token it had just sold, or the Payment charge it was just paid (the charge is not sent again)"},
	{"x402_paywall", ExitUsage, "fetch", "the 402 carries no L402 or Payment challenge but x402's terms (a PAYMENT-REQUIRED header, or a JSON body with x402Version and accepts): l402 pays Lightning only, and does not speak x402"},
	{"offers_paywall", ExitUsage, "fetch", "the 402 carries no L402 or Payment challenge but a body of offers to buy through a payment request URL (the Fewsats style), which l402 does not buy through"},
	{"bad_range", ExitGeneral, "fetch", "--continue: the server answered a range other than the one asked for"},
	{"dry_run_passed", ExitDryRun, "lnget", "lnget --dry-run (the lnget link): the preview is printed, nothing was paid or written"},
	{"too_many_redirects", ExitGeneral, "fetch", "the server redirected more times than --max-redirects follows"},

	{"payment_malformed", ExitUsage, "serve, fetch", "Payment scheme: a credential, or a challenge's request, that is not base64url of an I-JSON object with the required fields"},
	{"payment_unsupported", ExitUsage, "serve, fetch", "Payment scheme: a method, intent or currency other than lightning charge or session in sat"},
	{"payment_expired", ExitUsage, "serve, fetch", "Payment scheme: the challenge has expired"},
	{"payment_wrong_realm", ExitGeneral, "serve", "Payment scheme: a credential for a challenge of another realm"},
	{"payment_tampered", ExitGeneral, "serve", "Payment scheme: the echoed challenge is not one this server made (its id is not the HMAC of its fields)"},
	{"payment_bad_preimage", ExitGeneral, "serve", "Payment scheme: the preimage does not hash to the payment hash"},
	{"payment_reused", ExitGeneral, "serve", "Payment scheme: the charge already bought a request"},
	{"payment_wrong_resource", ExitGeneral, "serve", "Payment scheme: a credential for a challenge made for another service or path"},
	{"payment_insufficient", ExitGeneral, "serve", "Payment scheme: the session's balance is below the price of the request"},
	{"payment_session_unknown", ExitGeneral, "serve", "Payment scheme: a session id the server does not know"},
	{"payment_session_closed", ExitGeneral, "serve", "Payment scheme: the session was closed or expired idle"},
	{"payment_bad_return_invoice", ExitGeneral, "serve", "Payment scheme: a session open whose return invoice cannot take the refund (not amountless, another network, expired)"},
	{"payment_no_challenge", ExitUsage, "fetch", "Payment scheme: the 402 carries no usable Payment challenge"},
	{"payment_hash_mismatch", ExitUsage, "fetch", "Payment scheme: the invoice's payment hash is not the one the request names"},
	{"payment_request_mismatch", ExitUsage, "fetch", "Payment scheme: the invoice's amount or network is not the request's"},
	{"payment_over_budget", ExitUsage, "fetch", "Payment scheme: the request's amount is above the cap"},

	{"no_manifest", ExitGeneral, "discover, mcp", "the origin publishes no free /.well-known/l402.json: 404 or 410, or 401, 402 or 403 (a manifest is free), or a redirect to another origin"},
	{"invalid_discovery", ExitGeneral, "discover, mcp", "the origin's /.well-known/l402.json is not a discovery manifest: not a JSON object, over 1 MiB, a member the spec requires missing or of the wrong type"},

	{"node_unusable", ExitLnd, "status", "the paying node cannot pay: none configured, not reachable, its macaroon may not pay or has expired, or no channel can send (the report says why)"},

	{"payment_pending", ExitPayment, "tokens", "tokens forget: the node says the payment is still in flight, or cannot be asked; it stays pending; tokens close: a deposit of the origin is pending"},
	{"not_found", ExitGeneral, "tokens, mcp, admin", "no token for that origin, or no pending payment with that hash; admin: no service or token of that name or id"},
	{"store_damaged", ExitGeneral, "fetch, tokens", "tokens.db exists but is empty, not SQLite or without its schema: it is not re-created empty (that would reset the budgets); restore it or move it aside (the message names the file)"},

	{"config_exists", ExitDiffers, "setup", "a config file exists with other content (the diff is shown); --force replaces it"},
	{"lnc_session_exists", ExitDiffers, "setup", "the LNC session file holds another pairing"},
	{"lnc_bad_phrase", ExitUsage, "setup", "the LNC pairing phrase is not ten words of the word list"},
	{"lnc_unreachable", ExitLnd, "setup, serve", "the LNC mailbox or the node behind it cannot be reached with this phrase"},

	{"file_exists", ExitGeneral, "bake", "the file to write exists; --force or another path"},
	{"file_not_writable", ExitGeneral, "bake", "the file to write cannot be created (permission denied)"},
	{"unknown_method", ExitUsage, "bake", "--custom names a method the node does not serve"},

	{"lnd_not_found", ExitLnd, "setup, bake, serve", "no lnd directory found, or the lnd a flag or config names is not there"},
	{"ambiguous_network", ExitLnd, "setup, bake, serve", "lnd has macaroons for several networks; --network chooses"},
	{"wrong_network", ExitLnd, "setup, bake, serve", "lnd runs on another network than the one asked for"},
	{"file_missing", ExitLnd, "setup, bake, serve, fetch", "a macaroon or certificate is not where lnd would put it"},
	{"file_permission_denied", ExitLnd, "setup, bake, serve, fetch", "a macaroon or certificate of lnd's cannot be read"},
	{"bad_file", ExitLnd, "setup, bake, serve, fetch", "a macaroon or certificate is damaged"},
	{"lnd_unreachable", ExitLnd, "setup, bake, serve", "nothing answers at lnd's address"},
	{"lnd_timeout", ExitLnd, "setup, bake, serve", "lnd did not answer in time"},
	{"not_lnd_grpc", ExitLnd, "setup, bake, serve", "something other than lnd's gRPC answers at the address"},
	{"tls_name_mismatch", ExitLnd, "setup, bake, serve", "lnd's certificate is not valid for the address dialed"},
	{"tls_wrong_cert", ExitLnd, "setup, bake, serve", "lnd presents another certificate than the tls.cert given"},
	{"tls_expired", ExitLnd, "setup, bake, serve", "lnd's certificate has expired"},
	{"wrong_macaroon", ExitLnd, "setup, bake, serve", "the macaroon is not one of this lnd's"},
	{"macaroon_expired", ExitLnd, "setup, bake, serve", "the macaroon has expired"},
	{"macaroon_permission", ExitLnd, "setup, bake, serve", "the macaroon may not make the call"},
	{"no_macaroon_sent", ExitLnd, "setup, bake, serve", "lnd got no macaroon"},
	{"wallet_locked", ExitLnd, "setup, bake, serve", "lnd's wallet is locked (lncli unlock)"},
	{"wallet_not_created", ExitLnd, "setup, bake, serve", "lnd has no wallet yet (lncli create)"},
	{"lnd_starting", ExitLnd, "setup, bake, serve", "lnd is still starting"},
	{"unknown", ExitLnd, "setup, bake, serve", "lnd failed for a reason l402 does not recognise (the message has lnd's words)"},

	{"admin_unreachable", ExitNetwork, "admin", "serve's admin API does not answer at the address (--host), in time, or with a certificate --tls-cert trusts"},
	{"admin_unauthorized", ExitUnauthorized, "admin", "the admin macaroon is missing, unreadable or not this serve's"},
	{"admin_refused", ExitUsage, "admin", "the admin API refused the request's values (a name taken, a bad regexp, a negative price, an unknown state)"},

	{"no_return_invoice", ExitPayment, "fetch", "--session: the paying node cannot make the amountless invoice a session's refund is paid to (a pay-only macaroon); nothing was paid"},
	{"meter_request", ExitGeneral, "serve", "metering: the request cannot be metered (a model the service's meter does not price); answered 400"},
	{"refund_hash", ExitUsage, "fetch", "the invoice's payment hash is that of a session refund the ledger received (the server that paid it knows its preimage); nothing was paid"},

	{"error", ExitGeneral, "all", "anything else: the message says what happened"},
}

// exits is Table by code.
var exits = func() map[string]int {
	m := make(map[string]int, len(Table))
	for _, c := range Table {
		m[c.Code] = c.Exit
	}
	return m
}()

// Code returns the stable code of err's condition, "error" when it is not
// a known one.
func Code(err error) string {
	if c := fault.Code(err); c != "" {
		return c
	}
	return "error"
}

// ExitCode returns the exit code for err: its condition's, else 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if e, ok := exits[Code(err)]; ok {
		return e
	}
	return ExitGeneral
}

// Usage marks err as bad arguments (exit 2).
func Usage(err error) error { return ErrUsage.Mark(err) }
