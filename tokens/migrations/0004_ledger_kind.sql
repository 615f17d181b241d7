-- What each payment was: a purchase, or with the Payment scheme's
-- sessions a top-up or a refund. Payments of an older store were all
-- purchases (their scheme is 0003's).
ALTER TABLE payments ADD COLUMN kind TEXT NOT NULL DEFAULT 'purchase';
ALTER TABLE pending ADD COLUMN kind TEXT NOT NULL DEFAULT 'purchase';
