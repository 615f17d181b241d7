-- Tokens bought, one per origin (scheme://host:port).
CREATE TABLE tokens (
	origin       TEXT PRIMARY KEY,
	macaroon     BLOB NOT NULL,
	preimage     BLOB NOT NULL,
	payment_hash BLOB NOT NULL,
	amount_msat  INTEGER NOT NULL,
	fee_msat     INTEGER NOT NULL,
	created_at   INTEGER NOT NULL
);

-- Payments recorded before they are made, so that a run killed mid-payment
-- resumes them instead of paying again.
CREATE TABLE pending (
	payment_hash BLOB PRIMARY KEY,
	origin       TEXT NOT NULL,
	macaroon     BLOB NOT NULL,
	invoice      TEXT NOT NULL,
	amount_msat  INTEGER NOT NULL,
	created_at   INTEGER NOT NULL
);
CREATE INDEX pending_origin ON pending (origin);

-- The ledger: every payment that succeeded.
CREATE TABLE payments (
	payment_hash BLOB PRIMARY KEY,
	origin       TEXT NOT NULL,
	amount_msat  INTEGER NOT NULL,
	fee_msat     INTEGER NOT NULL,
	paid_at      INTEGER NOT NULL
);
CREATE INDEX payments_origin_paid_at ON payments (origin, paid_at);
