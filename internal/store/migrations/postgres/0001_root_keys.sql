-- One random root key per token, stored under sha256(identifier). The
-- same schema as migrations/sqlite/0001_root_keys.sql, in Postgres types.
CREATE TABLE root_keys (
	id_key     BYTEA PRIMARY KEY,
	root_key   BYTEA NOT NULL,
	service    TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
