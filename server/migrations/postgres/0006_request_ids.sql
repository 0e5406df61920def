-- The request that caused a row (its x-request-id: a hand-off, an operator's charge, a customer's
-- or operator's action), so that the work it started and the events it emitted can be found from
-- the request's log lines, and the other way round, however much later they run. NULL for work
-- nobody asked for (the scheduler's renewals and retries).
ALTER TABLE exchanges ADD COLUMN request_id TEXT;
ALTER TABLE billing_keys ADD COLUMN request_id TEXT;
ALTER TABLE charges ADD COLUMN request_id TEXT;
ALTER TABLE subscription_events ADD COLUMN request_id TEXT;
