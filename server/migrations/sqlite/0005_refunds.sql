-- v5: money back (issue 29). Refunds are cancels at Toss (POST /v1/payments/{paymentKey}/cancel),
-- exactly once like charges; Toss's webhooks are queued in an inbox and processed in the
-- background; the merchant can mark a period as used (청약철회 no longer refunds it whole); a
-- customer's card can be removed (the billing key erased). New tables and columns only: no CHECK
-- of an existing table changes, so this runs in sqlx's own transaction.

-- One refund of one charge. PENDING = recorded, not sent yet; UNKNOWN = sent, outcome unclear
-- (settled by GET /v1/payments/{paymentKey} and its cancels[] before anything is sent again);
-- DONE, FAILED final. Its Idempotency-Key is derived from its id (`rf-` + id), so two partial
-- refunds of one payment have two keys and a retry of one refund reuses its key. sends counts the
-- calls that may have reached Toss (written before each call). EXTERNAL refunds were made
-- elsewhere (Toss's console) and learned from a PAYMENT_STATUS_CHANGED webhook: recorded DONE.
-- transaction_key: the cancels[] entry of Toss's Payment that is this refund (unique per payment).
-- The balance of a charge is its amount minus its refunds that are not FAILED; it is checked in
-- the transaction that inserts a refund (store/refunds.rs).
CREATE TABLE refunds (
    id              TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    order_id        TEXT NOT NULL REFERENCES charges (order_id),
    payment_key     TEXT NOT NULL,
    customer_key    TEXT NOT NULL,
    subscription_id BIGINT REFERENCES subscriptions (id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    reason          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('OPERATOR', 'MID_TERM', 'WITHDRAWAL', 'EXTERNAL')),
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'UNKNOWN', 'DONE', 'FAILED')),
    requested_by    TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    sends           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    transaction_key TEXT,
    canceled_at     TEXT,
    result_code     TEXT,
    result_message  TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX refunds_transaction ON refunds (payment_key, transaction_key)
    WHERE transaction_key IS NOT NULL;
CREATE INDEX refunds_of_charge ON refunds (order_id, created_at);
CREATE INDEX refunds_of_payment ON refunds (payment_key);
CREATE INDEX refunds_due ON refunds (status, next_attempt_at);
CREATE INDEX refunds_of_subscription ON refunds (subscription_id, created_at)
    WHERE subscription_id IS NOT NULL;

-- A webhook names a payment by its paymentKey: find our charge by it.
CREATE INDEX charges_payment_key ON charges (payment_key) WHERE payment_key IS NOT NULL;

-- Every HTTP call made to Toss for a refund (CANCEL or LOOKUP), with what came back.
CREATE TABLE refund_calls (
    id          INTEGER PRIMARY KEY,
    refund_id   TEXT NOT NULL REFERENCES refunds (id),
    kind        TEXT NOT NULL CHECK (kind IN ('CANCEL', 'LOOKUP')),
    http_status BIGINT,
    outcome     TEXT NOT NULL,
    code        TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX refund_calls_of ON refund_calls (refund_id, id);

-- Toss's webhooks as received: one row per transmission id (Toss repeats it on every retry of an
-- event; deliveries counts them), answered 200 as soon as the row is written and processed by a
-- background loop under a lease. PROCESSED: acted on; IGNORED: nothing to do (another event type,
-- a payment or billing key that is not ours); FAILED: given up after repeated failures. outcome
-- says what was done, for the operator.
CREATE TABLE toss_webhooks (
    id              INTEGER PRIMARY KEY,
    transmission_id TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    retried_count   BIGINT,
    deliveries      BIGINT NOT NULL DEFAULT 1,
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'PROCESSED', 'IGNORED', 'FAILED')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    outcome         TEXT,
    received_at     BIGINT NOT NULL,
    processed_at    BIGINT
);
CREATE INDEX toss_webhooks_due ON toss_webhooks (status, next_attempt_at);

-- Periods the merchant's app marked as used (the service or digital content was supplied): a
-- withdrawal (청약철회) of such a period refunds the 중도해지 amount, not the whole charge
-- (전자상거래법 §17②, ⑥: only if the customer was told so beforehand).
CREATE TABLE used_periods (
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    period_no       BIGINT NOT NULL,
    marked_at       BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, period_no)
);

-- A card removed by its customer: the sealed key is overwritten with empty blobs (erased_at) and
-- deleted_at set (never charged again); deleted_reason says who deleted it (TOSS: the
-- BILLING_DELETED webhook; CUSTOMER: removed by its customer). remote_deleted_at /
-- remote_delete_code: the best-effort DELETE /v1/billing/{billingKey} at Toss.
ALTER TABLE billing_keys ADD COLUMN deleted_reason TEXT;
ALTER TABLE billing_keys ADD COLUMN erased_at BIGINT;
ALTER TABLE billing_keys ADD COLUMN remote_deleted_at BIGINT;
ALTER TABLE billing_keys ADD COLUMN remote_delete_code TEXT;
