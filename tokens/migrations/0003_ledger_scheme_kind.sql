-- The scheme each payment was made under (l402, or payment: the IETF
-- Payment scheme) and what it was: a purchase, or with sessions a top-up
-- or a refund. Payments of an older store were all L402 purchases.
ALTER TABLE payments ADD COLUMN scheme TEXT NOT NULL DEFAULT 'l402';
ALTER TABLE payments ADD COLUMN kind TEXT NOT NULL DEFAULT 'purchase';
ALTER TABLE pending ADD COLUMN scheme TEXT NOT NULL DEFAULT 'l402';
ALTER TABLE pending ADD COLUMN kind TEXT NOT NULL DEFAULT 'purchase';
