#!/bin/sh
# A script written for lnget v1.1.0, as its README and SKILL.md use it:
# preview a paid URL, buy it within a cap, read the JSON lnget prints in
# a pipe, reuse the token, manage tokens, check the node. It names only
# lnget and its flags, fields and commands. Usage: lnget-buy.sh URL
set -eu
url="$1"

# Preview: --dry-run prints its JSON and exits 10.
status=0
lnget --dry-run --max-cost 100 "$url" > dry.json || status=$?
[ "$status" -eq 10 ] || { echo "dry-run exited $status" >&2; exit 1; }
jq -e '.dry_run and .requires_l402 and .within_budget and
  (.has_cached_token | not)' dry.json > /dev/null
price=$(jq -r .invoice_amount_sat dry.json)

# Buy: stdout is a pipe, so lnget prints JSON and saves the body to a
# file named after the URL.
lnget --max-cost 100 "$url" > paid.json
jq -e --argjson p "$price" '.l402_paid and .l402_amount_sat == $p and
  .status_code == 200 and .payment_scheme == "L402"' paid.json > /dev/null
file=$(jq -r .output_path paid.json)
[ -s "$file" ] || { echo "no body in $file" >&2; exit 1; }

# The token is reused: no second payment; -q prints the body itself.
lnget "$url" | jq -e '.l402_paid | not' > /dev/null
lnget -q "$url" > body.txt
cmp -s body.txt "$file" || { echo "-q printed another body" >&2; exit 1; }

# Tokens, by lnget's domain (host:port).
lnget tokens list | jq -e 'length == 1' > /dev/null
domain=$(lnget tokens list | jq -r '.[0].domain')
lnget tokens show "$domain" | jq -e --argjson p "$price" \
  '.amount_sat == $p and (.pending | not)' > /dev/null

# Without the token, a price above --max-cost is refused: exit 2.
lnget tokens remove "$domain" > /dev/null
status=0
lnget --max-cost 1 "$url" > /dev/null 2> refused.json || status=$?
[ "$status" -eq 2 ] || { echo "over --max-cost exited $status" >&2; exit 1; }
jq -e '.error and .exit_code == 2' refused.json > /dev/null

# The node lnget pays through.
lnget ln status | jq -e '.connected and .network == "regtest"' > /dev/null
echo "lnget script: ok (paid $price sat once)"
