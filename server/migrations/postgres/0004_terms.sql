-- v4 (PostgreSQL): subscriptions on the terms the customer agreed to. The meaning of every column
-- is written in server/migrations/sqlite/0004_terms.sql.

ALTER TABLE plans ADD COLUMN trial_days BIGINT NOT NULL DEFAULT 0 CHECK (trial_days >= 0);

ALTER TABLE subscriptions ADD COLUMN anchor_period_no BIGINT NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN period_paid BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE subscriptions ADD COLUMN amount BIGINT;
UPDATE subscriptions s SET amount = p.amount FROM plans p WHERE p.id = s.plan_id;
ALTER TABLE subscriptions ALTER COLUMN amount SET NOT NULL;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_amount_not_negative CHECK (amount >= 0);
ALTER TABLE subscriptions ADD COLUMN ended_reason TEXT;
ALTER TABLE subscriptions ADD COLUMN checkout_session TEXT UNIQUE;
ALTER TABLE subscriptions ADD COLUMN terms_version TEXT;
ALTER TABLE subscriptions ADD COLUMN trial_ends_at BIGINT;
ALTER TABLE subscriptions ADD COLUMN trial_notice_at BIGINT;
ALTER TABLE subscriptions ADD COLUMN incomplete_expires_at BIGINT;
DROP INDEX subscriptions_live_customer;
CREATE UNIQUE INDEX subscriptions_live_customer ON subscriptions (customer_key)
    WHERE status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE');

ALTER TABLE charges ADD COLUMN purpose charge_purpose NOT NULL DEFAULT 'PERIOD';
ALTER TABLE charges ADD COLUMN receipt_url TEXT;
ALTER TABLE charges ADD COLUMN approve_no TEXT;
DROP INDEX charges_subscription_attempt;
CREATE UNIQUE INDEX charges_subscription_attempt ON charges (subscription_id, period_no, purpose, attempt_no)
    WHERE subscription_id IS NOT NULL;

ALTER TABLE exchanges ADD COLUMN checkout_terms TEXT;
ALTER TABLE billing_keys ADD COLUMN checkout_terms TEXT;
ALTER TABLE billing_keys ADD COLUMN subscription_id BIGINT REFERENCES subscriptions (id);
-- A card deleted (at Toss: BILLING_DELETED, or by its customer) is never charged again.
ALTER TABLE billing_keys ADD COLUMN deleted_at BIGINT;
-- Why a card registered on a checkout session started no subscription (e.g. TRIAL_ALREADY_USED).
ALTER TABLE billing_keys ADD COLUMN not_started_code TEXT;

CREATE TABLE price_changes (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id      TEXT NOT NULL REFERENCES plans (id),
    from_amount  BIGINT NOT NULL,
    to_amount    BIGINT NOT NULL CHECK (to_amount > 0),
    announced_at BIGINT NOT NULL,
    effective_at BIGINT NOT NULL,
    status       price_change_status NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX price_changes_due ON price_changes (status, effective_at);

CREATE TABLE subscription_changes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  BIGINT NOT NULL REFERENCES subscriptions (id),
    kind             change_kind NOT NULL,
    price_change_id  BIGINT REFERENCES price_changes (id),
    from_plan_id     TEXT NOT NULL,
    to_plan_id       TEXT NOT NULL,
    from_amount      BIGINT NOT NULL,
    to_amount        BIGINT NOT NULL,
    effective_at     BIGINT NOT NULL,
    consent_opens_at BIGINT,
    status           change_status NOT NULL,
    order_id         TEXT,
    requested_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscription_changes_outstanding ON subscription_changes (subscription_id)
    WHERE status IN ('PENDING', 'ACCEPTED', 'DECLINED');
CREATE INDEX subscription_changes_of ON subscription_changes (subscription_id, id);

CREATE TABLE consents (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    change_id       BIGINT NOT NULL REFERENCES subscription_changes (id),
    customer_key    TEXT NOT NULL,
    decision        consent_decision NOT NULL,
    channel         TEXT NOT NULL,
    terms           TEXT NOT NULL,
    text_version    TEXT NOT NULL,
    client          TEXT,
    decided_at      BIGINT NOT NULL
);
CREATE INDEX consents_of ON consents (subscription_id, id);
CREATE FUNCTION consents_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consents are immutable';
END;
$$;
CREATE TRIGGER consents_never_changed BEFORE UPDATE OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION consents_are_immutable();

CREATE TABLE trials (
    customer_key    TEXT NOT NULL,
    plan_id         TEXT NOT NULL,
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    started_at      BIGINT NOT NULL,
    PRIMARY KEY (customer_key, plan_id)
);
