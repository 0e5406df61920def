-- Subscriptions (see server/migrations/sqlite/0003_subscriptions.sql for the meaning of each
-- column).

CREATE TYPE plan_cycle AS ENUM ('MONTHLY', 'YEARLY', 'DAYS');
CREATE TYPE subscription_status AS ENUM ('ACTIVE', 'PAST_DUE', 'CANCELED', 'UNPAID');

CREATE TABLE plans (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    cycle         plan_cycle NOT NULL,
    interval_days BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE subscriptions (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_key         TEXT NOT NULL,
    plan_id              TEXT NOT NULL REFERENCES plans (id),
    billing_key_id       BIGINT NOT NULL REFERENCES billing_keys (id),
    status               subscription_status NOT NULL,
    order_prefix         TEXT NOT NULL UNIQUE,
    anchor_at            BIGINT NOT NULL,
    period_no            BIGINT NOT NULL DEFAULT 0,
    current_period_start BIGINT NOT NULL,
    current_period_end   BIGINT NOT NULL,
    next_charge_at       BIGINT,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    canceled_at          BIGINT,
    card_changed_at      BIGINT,
    lease_owner          TEXT,
    lease_until          BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_live_customer ON subscriptions (customer_key)
    WHERE status IN ('ACTIVE', 'PAST_DUE');
CREATE INDEX subscriptions_due ON subscriptions (next_charge_at) WHERE next_charge_at IS NOT NULL;

ALTER TABLE charges ADD COLUMN subscription_id BIGINT REFERENCES subscriptions (id);
ALTER TABLE charges ADD COLUMN period_no BIGINT;
ALTER TABLE charges ADD COLUMN attempt_no BIGINT;
CREATE UNIQUE INDEX charges_subscription_attempt ON charges (subscription_id, period_no, attempt_no)
    WHERE subscription_id IS NOT NULL;

CREATE TABLE subscription_events (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id   BIGINT NOT NULL REFERENCES subscriptions (id),
    kind              TEXT NOT NULL,
    detail            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    delivered_at      BIGINT,
    delivery_attempts BIGINT NOT NULL DEFAULT 0,
    next_delivery_at  BIGINT NOT NULL,
    lease_until       BIGINT
);
CREATE INDEX subscription_events_of ON subscription_events (subscription_id, id);
CREATE INDEX subscription_events_undelivered ON subscription_events (next_delivery_at) WHERE delivered_at IS NULL;

ALTER TABLE billing_keys ADD COLUMN applied_at BIGINT;
UPDATE billing_keys SET applied_at = created_at;
CREATE INDEX billing_keys_unapplied ON billing_keys (id) WHERE applied_at IS NULL;
