-- The most a pending payment may cost in fees, so that budgets count it.
ALTER TABLE pending ADD COLUMN max_fee_msat INTEGER NOT NULL DEFAULT 0;
