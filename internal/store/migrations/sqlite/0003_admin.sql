-- The admin API's tables (docs/admin.md). The same schema as
-- migrations/postgres/0003_admin.sql, in SQLite types.

-- Every challenge minted, with its invoice's state as the node reports it
-- (pending, settled, canceled). id is Aperture's transaction id.
CREATE TABLE transactions (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	id_key       BLOB NOT NULL UNIQUE,
	token_id     BLOB NOT NULL,
	payment_hash BLOB NOT NULL,
	service      TEXT NOT NULL,
	price_sat    INTEGER NOT NULL,
	scheme       TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'settled',
		'canceled')),
	add_index    INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	settled_at   INTEGER,
	canceled_at  INTEGER,
	revoked_at   INTEGER
);
CREATE INDEX transactions_payment_hash ON transactions (payment_hash);
CREATE INDEX transactions_token_id ON transactions (token_id);
CREATE INDEX transactions_created_at ON transactions (created_at);
CREATE INDEX transactions_pending ON transactions (add_index)
	WHERE state = 'pending';

-- Services created or changed through the admin API. A row overlays the
-- config file's service of the same name field by field (NULL keeps the
-- file's value); a created row (created = 1) is a service of its own;
-- deleted = 1 hides the file's service of that name. seq orders created
-- services.
CREATE TABLE admin_services (
	name        TEXT PRIMARY KEY,
	seq         INTEGER NOT NULL,
	created     INTEGER NOT NULL DEFAULT 0,
	deleted     INTEGER NOT NULL DEFAULT 0,
	address     TEXT,
	protocol    TEXT,
	host_regexp TEXT,
	path_regexp TEXT,
	price       INTEGER,
	auth        TEXT,
	auth_scheme TEXT,
	updated_at  INTEGER NOT NULL
);

-- Revoked tokens, by token id; seq tells replicas which ones they have
-- not read yet.
CREATE TABLE revoked_tokens (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	token_id   BLOB NOT NULL UNIQUE,
	revoked_at INTEGER NOT NULL
);

-- Requests served with a paid token, by UTC day and service, added to by
-- every replica.
CREATE TABLE paid_requests (
	day     TEXT NOT NULL,
	service TEXT NOT NULL,
	count   INTEGER NOT NULL,
	PRIMARY KEY (day, service)
);

-- One row: the generation of admin_services (bumped by every change, so
-- that replicas see one) and the admin macaroon's root key.
CREATE TABLE admin_state (
	id             INTEGER PRIMARY KEY CHECK (id = 1),
	services_gen   INTEGER NOT NULL DEFAULT 0,
	admin_root_key BLOB
);
INSERT INTO admin_state (id) VALUES (1);
