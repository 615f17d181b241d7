-- The Payment scheme (MPP): the secret that binds challenge ids, the
-- single-use claims of paid invoices, and prepaid sessions. Times are unix
-- seconds, amounts sats. The same schema as
-- migrations/sqlite/0003_mpp.sql.

-- One row per secret, made once by whichever replica asks first.
CREATE TABLE mpp_secrets (
	name       TEXT PRIMARY KEY,
	secret     BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);

-- A payment hash that bought something (a charge's request, a session's
-- deposit): the primary key makes the claim atomic. A claim is needed only
-- while its challenge can be presented, until expires_at.
CREATE TABLE mpp_claims (
	payment_hash BYTEA PRIMARY KEY,
	challenge_id TEXT NOT NULL,
	expires_at   BIGINT NOT NULL,
	claimed_at   BIGINT NOT NULL
);
CREATE INDEX mpp_claims_expiry ON mpp_claims (expires_at);

-- A session, under its id (the payment hash of the deposit that opened
-- it), for one service. balance_sat is what is left to spend; a close
-- moves it to refund_sat.
CREATE TABLE mpp_sessions (
	session_id     BYTEA PRIMARY KEY,
	service        TEXT NOT NULL,
	return_invoice TEXT NOT NULL,
	balance_sat    BIGINT NOT NULL CHECK (balance_sat >= 0),
	deposited_sat  BIGINT NOT NULL,
	spent_sat      BIGINT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('open', 'closed')),
	created_at     BIGINT NOT NULL,
	last_used_at   BIGINT NOT NULL,
	closed_at      BIGINT,
	refund_sat     BIGINT,
	refund_status  TEXT
);
-- The pruner finds the open sessions by status; last_used_at, which every
-- request of a session writes, is in no index, so that a draw writes the
-- row alone.
CREATE INDEX mpp_sessions_status ON mpp_sessions (status);
