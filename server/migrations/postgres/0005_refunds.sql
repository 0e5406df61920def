-- v5 (PostgreSQL): refunds, Toss's webhook inbox, used periods, erased cards. The meaning of
-- every table and column is written in server/migrations/sqlite/0005_refunds.sql. Only new enum
-- types: no existing one gains a value, so this runs in one transaction.

CREATE TYPE refund_status AS ENUM ('PENDING', 'UNKNOWN', 'DONE', 'FAILED');
CREATE TYPE refund_kind AS ENUM ('OPERATOR', 'MID_TERM', 'WITHDRAWAL', 'EXTERNAL');
CREATE TYPE refund_call_kind AS ENUM ('CANCEL', 'LOOKUP');
CREATE TYPE toss_webhook_status AS ENUM ('PENDING', 'PROCESSED', 'IGNORED', 'FAILED');

CREATE TABLE refunds (
    id              TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    order_id        TEXT NOT NULL REFERENCES charges (order_id),
    payment_key     TEXT NOT NULL,
    customer_key    TEXT NOT NULL,
    subscription_id BIGINT REFERENCES subscriptions (id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    reason          TEXT NOT NULL,
    kind            refund_kind NOT NULL,
    status          refund_status NOT NULL,
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

CREATE INDEX charges_payment_key ON charges (payment_key) WHERE payment_key IS NOT NULL;

CREATE TABLE refund_calls (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    refund_id   TEXT NOT NULL REFERENCES refunds (id),
    kind        refund_call_kind NOT NULL,
    http_status BIGINT,
    outcome     TEXT NOT NULL,
    code        TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX refund_calls_of ON refund_calls (refund_id, id);

CREATE TABLE toss_webhooks (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transmission_id TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    retried_count   BIGINT,
    deliveries      BIGINT NOT NULL DEFAULT 1,
    status          toss_webhook_status NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    outcome         TEXT,
    received_at     BIGINT NOT NULL,
    processed_at    BIGINT
);
CREATE INDEX toss_webhooks_due ON toss_webhooks (status, next_attempt_at);

CREATE TABLE used_periods (
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    period_no       BIGINT NOT NULL,
    marked_at       BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, period_no)
);

ALTER TABLE billing_keys ADD COLUMN deleted_reason TEXT;
ALTER TABLE billing_keys ADD COLUMN erased_at BIGINT;
ALTER TABLE billing_keys ADD COLUMN remote_deleted_at BIGINT;
ALTER TABLE billing_keys ADD COLUMN remote_delete_code TEXT;
