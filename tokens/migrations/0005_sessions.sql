-- The Payment scheme's sessions (docs/mpp.md): at most one per origin,
-- opened by `l402 fetch --session`. session_id is the deposit's payment
-- hash and preimage its preimage (a secret: it spends the balance).
-- challenge is the latest session challenge of the origin (its JSON),
-- echoed by bearer and close credentials; balance_sat is the balance as
-- fetch reckons it from what it paid and what was served (the server's is
-- authoritative). state is 'opening' from the moment the deposit is paid
-- until the server accepts the open credential, then 'open'. A top-up
-- paid whose credential the server has not yet accepted is kept in the
-- topup_ columns, so that a run killed in between sends it instead of
-- paying again. A closed session's row is deleted; its refund is a
-- ledger row of kind 'refund'.
CREATE TABLE sessions (
	origin          TEXT PRIMARY KEY,
	session_id      BLOB NOT NULL,
	preimage        BLOB NOT NULL,
	realm           TEXT NOT NULL,
	service         TEXT NOT NULL,
	challenge       TEXT NOT NULL,
	return_invoice  TEXT NOT NULL,
	url             TEXT NOT NULL,
	price_sat       INTEGER NOT NULL,
	deposit_sat     INTEGER NOT NULL,
	balance_sat     INTEGER NOT NULL,
	state           TEXT NOT NULL,
	topup_hash      BLOB,
	topup_preimage  BLOB,
	topup_challenge TEXT NOT NULL DEFAULT '',
	topup_sat       INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);

-- A pending session open carries the return invoice its open credential
-- names (made on the buyer's node before the deposit is paid) and the URL
-- it was asked for (where `l402 tokens close` sends the close).
ALTER TABLE pending ADD COLUMN return_invoice TEXT NOT NULL DEFAULT '';
ALTER TABLE pending ADD COLUMN url TEXT NOT NULL DEFAULT '';
