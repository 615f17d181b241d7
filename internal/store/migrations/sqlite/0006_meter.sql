-- The built-in meter (docs/metering.md): prepaid bundles, drawn down per
-- request from the usage the backend reports, and the reservations of the
-- requests in flight. Times are unix seconds, amounts msat (prices sat).
-- The same schema as migrations/postgres/0006_meter.sql.

-- A bundle, under its key: "token:<hex>" (an L402 token's ID) or
-- "payment:<hex>" (a Payment charge's payment hash). It is booked when its
-- 402 is minted and activated by its first admitted request (which the
-- payment's preimage authenticated). balance_msat is what is left to
-- spend, reserved_msat what the requests in flight hold of it.
CREATE TABLE meter_bundles (
	bundle_key      TEXT PRIMARY KEY,
	service         TEXT NOT NULL,
	model           TEXT NOT NULL,
	price_sat       INTEGER NOT NULL,
	value_msat      INTEGER NOT NULL,
	balance_msat    INTEGER NOT NULL CHECK (balance_msat >= 0),
	reserved_msat   INTEGER NOT NULL DEFAULT 0 CHECK (reserved_msat >= 0),
	spent_msat      INTEGER NOT NULL DEFAULT 0,
	unbilled_msat   INTEGER NOT NULL DEFAULT 0,
	last_debit_msat INTEGER NOT NULL DEFAULT 0,
	uses            INTEGER NOT NULL DEFAULT 0,
	booked_at       INTEGER NOT NULL,
	book_expires_at INTEGER NOT NULL,
	activated_at    INTEGER,
	last_used_at    INTEGER
);
-- The pruner drops bookings never activated once their invoice expired.
CREATE INDEX meter_bundles_unactivated ON meter_bundles (book_expires_at)
	WHERE activated_at IS NULL;

-- A request in flight: what it holds of its bundle until it settles. A
-- row the pruner finds stale (its replica stopped mid-request) is
-- released.
CREATE TABLE meter_reservations (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	bundle_key TEXT NOT NULL,
	msat       INTEGER NOT NULL CHECK (msat >= 0),
	created_at INTEGER NOT NULL
);
CREATE INDEX meter_reservations_created ON meter_reservations (created_at);
