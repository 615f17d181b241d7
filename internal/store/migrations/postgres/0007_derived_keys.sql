-- Root keys are derived from the root key secret (mpp_secrets' 'root-key')
-- from this version on: a new token has no root_keys row, and serve takes
-- a token as issued here by its transaction (serve's checkIssued, which
-- reads a payment hash's transactions' id_key alone: this index holds
-- both, and replaces 0003's index of payment_hash). An older l402, which
-- would look for a stored key and refuse every new token, refuses this
-- schema version instead: upgrade every replica at once.
DROP INDEX transactions_payment_hash;
CREATE INDEX transactions_payment_hash_key ON transactions (payment_hash,
	id_key);
