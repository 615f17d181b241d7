-- What pruning needs: the invoice's payment hash and expiry, and whether
-- the invoice was seen settled (a settled token is never pruned). Rows
-- from before this migration have no hash and are kept.
ALTER TABLE root_keys ADD COLUMN payment_hash BLOB;
ALTER TABLE root_keys ADD COLUMN invoice_expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE root_keys ADD COLUMN settled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX root_keys_unsettled ON root_keys (invoice_expires_at)
	WHERE settled = 0 AND payment_hash IS NOT NULL;
