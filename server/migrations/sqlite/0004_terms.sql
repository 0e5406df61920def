-- v4: subscriptions on the terms the customer agreed to (server/README.md, "The lifecycle"):
-- checkout sessions, the first charge's outcome (INCOMPLETE), free trials (TRIALING), scheduled
-- changes that need the customer's consent, and the consents themselves.
--
-- SQLite cannot change the CHECK constraint of `subscriptions.status` in place, so the table is
-- rebuilt, which needs foreign keys off (children keep referencing "subscriptions" by name): this
-- migration runs on its own connection with foreign keys off, in one transaction that also
-- records it as applied and checks every foreign key before committing (store/mod.rs,
-- `apply_sqlite_rebuild`).

-- A plan may start with a free trial (days); one trial per customer per plan (`trials`).
ALTER TABLE plans ADD COLUMN trial_days BIGINT NOT NULL DEFAULT 0 CHECK (trial_days >= 0);

-- period_paid: the current period [current_period_start, current_period_end) is paid (or free:
--   a trial); the scheduler opens the next one at its end. Before v4 a paid subscription moved to
--   its next period at once; such rows keep working (an unpaid period is charged at its start).
-- amount: the price per period the customer consented to; a charge never exceeds it. Raised only
--   by an accepted change (consents), lowered by a decrease.
-- anchor_at / anchor_period_no: period n is the (n - anchor_period_no)-th cycle from anchor_at
--   (a trial is period 0 and the first paid period starts at its end).
-- checkout_session: the checkout session (terms shown before the card) it was started on: one
--   subscription per session.
-- incomplete_expires_at: a first charge declined leaves the subscription INCOMPLETE until then;
--   another card on the same session may still pay it.
CREATE TABLE subscriptions_v4 (
    id                    INTEGER PRIMARY KEY,
    customer_key          TEXT NOT NULL,
    plan_id               TEXT NOT NULL REFERENCES plans (id),
    billing_key_id        BIGINT NOT NULL REFERENCES billing_keys (id),
    status                TEXT NOT NULL CHECK (status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE',
                                                          'CANCELED', 'UNPAID', 'INCOMPLETE_EXPIRED')),
    order_prefix          TEXT NOT NULL UNIQUE,
    anchor_at             BIGINT NOT NULL,
    anchor_period_no      BIGINT NOT NULL DEFAULT 0,
    period_no             BIGINT NOT NULL DEFAULT 0,
    current_period_start  BIGINT NOT NULL,
    current_period_end    BIGINT NOT NULL,
    period_paid           BOOLEAN NOT NULL DEFAULT FALSE,
    amount                BIGINT NOT NULL CHECK (amount >= 0),
    next_charge_at        BIGINT,
    cancel_at_period_end  BOOLEAN NOT NULL DEFAULT FALSE,
    canceled_at           BIGINT,
    ended_reason          TEXT,
    card_changed_at       BIGINT,
    checkout_session      TEXT UNIQUE,
    terms_version         TEXT,
    trial_ends_at         BIGINT,
    trial_notice_at       BIGINT,
    incomplete_expires_at BIGINT,
    lease_owner           TEXT,
    lease_until           BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
INSERT INTO subscriptions_v4 (id, customer_key, plan_id, billing_key_id, status, order_prefix, anchor_at,
    period_no, current_period_start, current_period_end, amount, next_charge_at, cancel_at_period_end,
    canceled_at, card_changed_at, lease_owner, lease_until, created_at, updated_at)
SELECT s.id, s.customer_key, s.plan_id, s.billing_key_id, s.status, s.order_prefix, s.anchor_at,
    s.period_no, s.current_period_start, s.current_period_end, p.amount, s.next_charge_at,
    s.cancel_at_period_end, s.canceled_at, s.card_changed_at, s.lease_owner, s.lease_until,
    s.created_at, s.updated_at
FROM subscriptions s JOIN plans p ON p.id = s.plan_id;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_v4 RENAME TO subscriptions;
-- One live subscription per customer.
CREATE UNIQUE INDEX subscriptions_live_customer ON subscriptions (customer_key)
    WHERE status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE');
CREATE INDEX subscriptions_due ON subscriptions (next_charge_at) WHERE next_charge_at IS NOT NULL;

-- A charge is a period's charge or a proration (a customer's upgrade mid-period); attempts are
-- unique per purpose. What Toss's Payment says for the customer's records: the receipt (card
-- sales slip) and the approval number.
ALTER TABLE charges ADD COLUMN purpose TEXT NOT NULL DEFAULT 'PERIOD' CHECK (purpose IN ('PERIOD', 'PRORATION'));
ALTER TABLE charges ADD COLUMN receipt_url TEXT;
ALTER TABLE charges ADD COLUMN approve_no TEXT;
DROP INDEX charges_subscription_attempt;
CREATE UNIQUE INDEX charges_subscription_attempt ON charges (subscription_id, period_no, purpose, attempt_no)
    WHERE subscription_id IS NOT NULL;

-- The checkout terms a hand-off was started with (the verified session, JSON), kept with the
-- exchange and then its billing key: whoever finishes the exchange (the request, or the
-- reconciler after a crash) starts the subscription on exactly these terms.
ALTER TABLE exchanges ADD COLUMN checkout_terms TEXT;
ALTER TABLE billing_keys ADD COLUMN checkout_terms TEXT;
-- The subscription a billing key was applied to (a new one, or a live one's new card).
ALTER TABLE billing_keys ADD COLUMN subscription_id BIGINT REFERENCES subscriptions (id);
-- A card deleted (at Toss: BILLING_DELETED, or by its customer) is never charged again.
ALTER TABLE billing_keys ADD COLUMN deleted_at BIGINT;
-- Why a card registered on a checkout session started no subscription (e.g. TRIAL_ALREADY_USED).
ALTER TABLE billing_keys ADD COLUMN not_started_code TEXT;

-- A scheduled change of price or plan, announced by the operator (price_changes) and attached to
-- each subscription it reaches (subscription_changes).
CREATE TABLE price_changes (
    id           INTEGER PRIMARY KEY,
    plan_id      TEXT NOT NULL REFERENCES plans (id),
    from_amount  BIGINT NOT NULL,
    to_amount    BIGINT NOT NULL CHECK (to_amount > 0),
    announced_at BIGINT NOT NULL,
    effective_at BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('SCHEDULED', 'WITHDRAWN', 'APPLIED')),
    updated_at   BIGINT NOT NULL
);
CREATE INDEX price_changes_due ON price_changes (status, effective_at);

-- What will change for one subscription, from which period on, and whether it needs (and has)
-- the customer's consent. At most one outstanding change per subscription (pending, accepted, or
-- declined: a declined one still ends the subscription at its date).
-- kind: TRIAL_CONVERSION and PRICE_INCREASE need consent (전자상거래법 §13⑥); PRICE_DECREASE and
-- DOWNGRADE (the customer's own, at the period's end) do not; UPGRADE is the customer's own,
-- now, with a proration charge (order_id).
-- status: PENDING (waiting: for consent, or for its period), ACCEPTED, DECLINED, LAPSED (no
-- consent by its date), WITHDRAWN (by the operator, or superseded), APPLIED; FAILED (an UPGRADE
-- whose proration charge was declined: nothing switched).
CREATE TABLE subscription_changes (
    id               INTEGER PRIMARY KEY,
    subscription_id  BIGINT NOT NULL REFERENCES subscriptions (id),
    kind             TEXT NOT NULL CHECK (kind IN ('TRIAL_CONVERSION', 'PRICE_INCREASE', 'PRICE_DECREASE', 'DOWNGRADE', 'UPGRADE')),
    price_change_id  BIGINT REFERENCES price_changes (id),
    from_plan_id     TEXT NOT NULL,
    to_plan_id       TEXT NOT NULL,
    from_amount      BIGINT NOT NULL,
    to_amount        BIGINT NOT NULL,
    effective_at     BIGINT NOT NULL,
    consent_opens_at BIGINT,
    status           TEXT NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'DECLINED', 'LAPSED', 'WITHDRAWN', 'APPLIED', 'FAILED')),
    order_id         TEXT,
    requested_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscription_changes_outstanding ON subscription_changes (subscription_id)
    WHERE status IN ('PENDING', 'ACCEPTED', 'DECLINED');
CREATE INDEX subscription_changes_of ON subscription_changes (subscription_id, id);

-- Every answer a customer gave to a change, as given: who, when, through what, the exact terms
-- and the text version shown. Never updated or deleted (the triggers refuse it).
CREATE TABLE consents (
    id              INTEGER PRIMARY KEY,
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    change_id       BIGINT NOT NULL REFERENCES subscription_changes (id),
    customer_key    TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('ACCEPT', 'DECLINE')),
    channel         TEXT NOT NULL,
    terms           TEXT NOT NULL,
    text_version    TEXT NOT NULL,
    client          TEXT,
    decided_at      BIGINT NOT NULL
);
CREATE INDEX consents_of ON consents (subscription_id, id);
CREATE TRIGGER consents_never_updated BEFORE UPDATE ON consents
BEGIN SELECT RAISE(ABORT, 'consents are immutable'); END;
CREATE TRIGGER consents_never_deleted BEFORE DELETE ON consents
BEGIN SELECT RAISE(ABORT, 'consents are immutable'); END;

-- One free trial per customer per plan.
CREATE TABLE trials (
    customer_key    TEXT NOT NULL,
    plan_id         TEXT NOT NULL,
    subscription_id BIGINT NOT NULL REFERENCES subscriptions (id),
    started_at      BIGINT NOT NULL,
    PRIMARY KEY (customer_key, plan_id)
);
