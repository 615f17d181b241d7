-- The Payment scheme (docs/mpp.md): a pending payment and a ledger entry
-- name the scheme they paid for. A pending Payment charge keeps the
-- challenge it answers (its JSON, echoed unchanged in the credential)
-- instead of a macaroon, so that a run that finds it settled can build
-- the credential from the preimage; a paid charge is a ledger row, never
-- a token (a charge buys one request).
ALTER TABLE pending ADD COLUMN scheme TEXT NOT NULL DEFAULT 'l402';
ALTER TABLE pending ADD COLUMN challenge TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN scheme TEXT NOT NULL DEFAULT 'l402';
