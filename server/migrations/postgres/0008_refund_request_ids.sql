-- The request that asked for a refund (an operator's refund, a customer's 중도해지 or 청약철회),
-- so that its runs log with the request's id however much later they happen (as exchanges and
-- charges do). NULL for refunds nobody here asked for (learned from Toss's webhooks).
ALTER TABLE refunds ADD COLUMN request_id TEXT;
