-- Shadow mode (docs/serve.md): the challenges a service in shadow mode
-- would have sent, and the satoshis they asked, by UTC day and service,
-- added to by every replica. The same table in both backends.
CREATE TABLE shadow_challenges (
	day       TEXT NOT NULL,
	service   TEXT NOT NULL,
	count     BIGINT NOT NULL,
	price_sat BIGINT NOT NULL,
	PRIMARY KEY (day, service)
);
