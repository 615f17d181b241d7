-- What pruning needs: the invoice's payment hash and expiry, and whether
-- the invoice was seen settled (a settled token is never pruned). Rows
-- from before this migration have no hash and are kept. settled is 0 or 1,
-- as in SQLite, so that both backends share their queries.
ALTER TABLE root_keys ADD COLUMN payment_hash BYTEA;
ALTER TABLE root_keys ADD COLUMN invoice_expires_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE root_keys ADD COLUMN settled INTEGER NOT NULL DEFAULT 0
	CHECK (settled IN (0, 1));
CREATE INDEX root_keys_unsettled ON root_keys (invoice_expires_at)
	WHERE settled = 0 AND payment_hash IS NOT NULL;
