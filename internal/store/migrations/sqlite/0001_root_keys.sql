-- One random root key per token, stored under sha256(identifier).
CREATE TABLE root_keys (
	id_key     BLOB PRIMARY KEY,
	root_key   BLOB NOT NULL,
	service    TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
