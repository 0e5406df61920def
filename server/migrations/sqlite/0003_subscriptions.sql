-- Subscriptions: the recurring charges Toss leaves to the merchant (server/README.md,
-- "Subscriptions").

-- A plan: what a subscription charges, and on which cycle. MONTHLY keeps the anchor day (the
-- 31st clamps to the month's last day), YEARLY the anchor date, DAYS every interval_days days.
CREATE TABLE plans (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    cycle         TEXT NOT NULL CHECK (cycle IN ('MONTHLY', 'YEARLY', 'DAYS')),
    interval_days BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- A customer's subscription. period_no counts the periods begun; the current period is
-- [current_period_start, current_period_end). next_charge_at is when the scheduler looks at it
-- next (NULL: never again). A lease (lease_owner/lease_until) lets any number of instances run the
-- scheduler: one of them works on a subscription at a time.
CREATE TABLE subscriptions (
    id                   INTEGER PRIMARY KEY,
    customer_key         TEXT NOT NULL,
    plan_id              TEXT NOT NULL REFERENCES plans (id),
    billing_key_id       BIGINT NOT NULL REFERENCES billing_keys (id),
    status               TEXT NOT NULL CHECK (status IN ('ACTIVE', 'PAST_DUE', 'CANCELED', 'UNPAID')),
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
-- One live subscription per customer.
CREATE UNIQUE INDEX subscriptions_live_customer ON subscriptions (customer_key)
    WHERE status IN ('ACTIVE', 'PAST_DUE');
CREATE INDEX subscriptions_due ON subscriptions (next_charge_at) WHERE next_charge_at IS NOT NULL;

-- Charges made for a subscription: one row per attempt (its own orderId and Idempotency-Key).
ALTER TABLE charges ADD COLUMN subscription_id BIGINT REFERENCES subscriptions (id);
ALTER TABLE charges ADD COLUMN period_no BIGINT;
ALTER TABLE charges ADD COLUMN attempt_no BIGINT;
CREATE UNIQUE INDEX charges_subscription_attempt ON charges (subscription_id, period_no, attempt_no)
    WHERE subscription_id IS NOT NULL;

-- Every transition of a subscription, and the notices a merchant sends its customers, as events
-- (an outbox: delivered to WEBHOOK_URL, signed, until delivered_at is set).
CREATE TABLE subscription_events (
    id                INTEGER PRIMARY KEY,
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

-- A billing key is applied to subscriptions once (a new subscription, or the card of a live one):
-- applied_at is set in the same transaction. Keys from before subscriptions count as applied.
ALTER TABLE billing_keys ADD COLUMN applied_at BIGINT;
UPDATE billing_keys SET applied_at = created_at;
CREATE INDEX billing_keys_unapplied ON billing_keys (id) WHERE applied_at IS NULL;
