//! Plans, subscriptions, their charge attempts (rows of `charges`) and their events.

use sqlx::FromRow;

use super::changes::{insert_change, NewChange};
use super::charges::ChargeStatus;
use super::{on_pool, Backend, Store, StoreResult};
use crate::billing::lifecycle::ChangeStatus;

/// How often a plan charges (`plan_cycle` on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "plan_cycle", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanCycle {
    /// On the anchor day every month.
    Monthly,
    /// On the anchor date every year.
    Yearly,
    /// Every `interval_days` days.
    Days,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PlanRow {
    /// Its id, e.g. `premium-monthly`.
    pub id: String,
    /// What the customer sees.
    pub name: String,
    /// KRW per period, for new subscriptions (each subscription keeps the price its customer
    /// consented to: `SubscriptionRow::amount`).
    pub amount: i64,
    /// The cycle.
    pub cycle: PlanCycle,
    /// For `DAYS`.
    pub interval_days: Option<i64>,
    /// Free days before the first charge (one trial per customer per plan).
    pub trial_days: i64,
}

impl PlanRow {
    /// The cycle for period arithmetic.
    pub fn period_cycle(&self) -> crate::billing::period::Cycle {
        cycle_of(self.cycle, self.interval_days)
    }
}

/// The period arithmetic's cycle of a stored one.
pub fn cycle_of(cycle: PlanCycle, interval_days: Option<i64>) -> crate::billing::period::Cycle {
    use crate::billing::period::Cycle;
    match cycle {
        PlanCycle::Monthly => Cycle::Monthly,
        PlanCycle::Yearly => Cycle::Yearly,
        PlanCycle::Days => Cycle::Days(interval_days.unwrap_or(30).clamp(1, 3650) as u32),
    }
}

/// Where a subscription stands: the lifecycle's statuses (`billing::lifecycle`).
pub use crate::billing::lifecycle::Status as SubscriptionStatus;

/// A subscription as stored.
#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    /// Row id.
    pub id: i64,
    /// The customer.
    pub customer_key: String,
    /// The plan.
    pub plan_id: String,
    /// The card charged.
    pub billing_key_id: i64,
    /// Where it stands.
    pub status: SubscriptionStatus,
    /// Prefix of its orderIds (random, unique).
    pub order_prefix: String,
    /// Period `anchor_period_no`'s start (ms).
    pub anchor_at: i64,
    /// See `anchor_at`.
    pub anchor_period_no: i64,
    /// The current period (0 = the first).
    pub period_no: i64,
    /// Its start (ms).
    pub current_period_start: i64,
    /// Its end (ms).
    pub current_period_end: i64,
    /// Whether the current period is paid (or free: a trial).
    pub period_paid: bool,
    /// The consented price per period.
    pub amount: i64,
    /// When the scheduler looks again (ms; `None`: never).
    pub next_charge_at: Option<i64>,
    /// End at the current period's end (일반해지).
    pub cancel_at_period_end: bool,
    /// When it ended.
    pub canceled_at: Option<i64>,
    /// Why it ended.
    pub ended_reason: Option<String>,
    /// When the card last changed.
    pub card_changed_at: Option<i64>,
    /// The checkout session it started on.
    pub checkout_session: Option<String>,
    /// The cancellation terms' version shown at checkout.
    pub terms_version: Option<String>,
    /// When its trial ends.
    pub trial_ends_at: Option<i64>,
    /// When the trial's end notice was sent.
    pub trial_notice_at: Option<i64>,
    /// A first period never paid expires at.
    pub incomplete_expires_at: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
    /// The owner of the lapsed lease a claim replaced (`None`: it was free). Only claims return
    /// it.
    #[sqlx(default)]
    pub lease_taken_from: Option<String>,
}

pub(super) const COLUMNS: &str =
    "id, customer_key, plan_id, billing_key_id, status, order_prefix, anchor_at, \
                       anchor_period_no, period_no, current_period_start, current_period_end, \
                       period_paid, amount, next_charge_at, cancel_at_period_end, canceled_at, \
                       ended_reason, card_changed_at, checkout_session, terms_version, \
                       trial_ends_at, trial_notice_at, incomplete_expires_at, created_at";

const PLAN_COLUMNS: &str = "id, name, amount, cycle, interval_days, trial_days";

/// A charge attempt of a subscription.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    /// Its orderId.
    pub order_id: String,
    /// The period.
    pub period_no: i64,
    /// 1, 2, …
    pub attempt_no: i64,
    /// Where it stands.
    pub status: ChargeStatus,
    /// KRW.
    pub amount: i64,
    /// Toss's code of a decline, or why unknown.
    pub result_code: Option<String>,
    /// Toss's payment key.
    pub payment_key: Option<String>,
    /// The card charged.
    pub billing_key_id: i64,
    /// Made (ms).
    pub created_at: i64,
}

/// An event (transition or customer notice).
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    /// Row id.
    pub id: i64,
    /// The subscription.
    pub subscription_id: i64,
    /// e.g. `invoice.paid`.
    pub kind: String,
    /// JSON.
    pub detail: String,
    /// When (ms).
    pub created_at: i64,
    /// When delivered to the webhook (ms), if yet.
    pub delivered_at: Option<i64>,
    /// Deliveries tried.
    pub delivery_attempts: i64,
    /// The request that emitted it (its `x-request-id`), if a request did.
    pub request_id: Option<String>,
}

/// A change to a subscription, with the events it emits, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionUpdate {
    /// New status.
    pub status: Option<SubscriptionStatus>,
    /// Move to this period: (number, start, end); it starts unpaid.
    pub period: Option<(i64, i64, i64)>,
    /// Mark the current period paid.
    pub period_paid: Option<bool>,
    /// The consented price from now on.
    pub amount: Option<i64>,
    /// The plan from now on.
    pub plan_id: Option<String>,
    /// A new anchor: (anchor_at, anchor_period_no).
    pub anchor: Option<(i64, i64)>,
    /// Next look (`Some(None)`: never).
    pub next_charge_at: Option<Option<i64>>,
    /// Cancel at period end.
    pub cancel_at_period_end: Option<bool>,
    /// Ended at.
    pub canceled_at: Option<i64>,
    /// Why it ended.
    pub ended_reason: Option<&'static str>,
    /// The trial's end notice was sent at.
    pub trial_notice_at: Option<i64>,
    /// A change moves to this status.
    pub change: Option<(i64, ChangeStatus)>,
    /// A change's consent request was sent at.
    pub change_requested_at: Option<(i64, i64)>,
    /// Events to record: (kind, JSON detail).
    pub events: Vec<(String, String)>,
}

/// A subscription started by a card registered on a checkout session.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// Customer.
    pub customer_key: String,
    /// Plan.
    pub plan_id: String,
    /// Its initial status (`TRIALING` or `INCOMPLETE`).
    pub status: SubscriptionStatus,
    /// Order prefix.
    pub order_prefix: String,
    /// Period 0: (start, end).
    pub first_period: (i64, i64),
    /// Period 0 is paid already (a free trial).
    pub first_period_paid: bool,
    /// The anchor of the paid periods: (anchor_at, anchor_period_no).
    pub anchor: (i64, i64),
    /// The consented price per period.
    pub amount: i64,
    /// The first look.
    pub next_charge_at: i64,
    /// The checkout session.
    pub checkout_session: String,
    /// The terms' version.
    pub terms_version: String,
    /// Trial end, if any.
    pub trial_ends_at: Option<i64>,
    /// An unpaid first period expires at.
    pub incomplete_expires_at: Option<i64>,
    /// The trial's conversion (needs consent), if it has a trial.
    pub conversion: Option<NewChange>,
    /// The created event's detail.
    pub event_detail: String,
}

/// A billing key not yet applied to subscriptions.
#[derive(Debug, Clone, FromRow)]
pub struct UnappliedKey {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub customer_key: String,
    /// The checkout terms it was registered on (JSON), if any.
    pub checkout_terms: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// The hand-off request that registered it (its `x-request-id`).
    pub request_id: Option<String>,
}

/// What applying a billing key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Someone else applied it meanwhile.
    AlreadyApplied,
    /// It started this subscription.
    Created(i64),
    /// It is the new card of this live subscription.
    CardChanged(i64),
    /// It started nothing: why (`TRIAL_ALREADY_USED`, `CHECKOUT_SESSION_USED`).
    NotStarted(&'static str),
    /// No session and no live subscription: the card is only stored.
    Stored,
}

impl Store {
    /// Creates or replaces a plan (an increase of an existing plan's price goes through
    /// `price_changes` instead: `crate::subscription::Subscriptions::reprice`).
    pub async fn upsert_plan(&self, plan: &PlanRow, now: i64) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO plans (id, name, amount, cycle, interval_days, trial_days, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, amount = excluded.amount, \
             cycle = excluded.cycle, interval_days = excluded.interval_days, \
             trial_days = excluded.trial_days, updated_at = excluded.updated_at",
        )
        .bind(&plan.id)
        .bind(&plan.name)
        .bind(plan.amount)
        .bind(plan.cycle)
        .bind(plan.interval_days)
        .bind(plan.trial_days)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Creates a plan unless one with its id exists.
    pub async fn insert_plan_if_absent(&self, plan: &PlanRow, now: i64) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO plans (id, name, amount, cycle, interval_days, trial_days, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&plan.id)
        .bind(&plan.name)
        .bind(plan.amount)
        .bind(plan.cycle)
        .bind(plan.interval_days)
        .bind(plan.trial_days)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A plan.
    pub async fn plan(&self, id: &str) -> StoreResult<Option<PlanRow>> {
        let sql = format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PlanRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every plan.
    pub async fn plans(&self) -> StoreResult<Vec<PlanRow>> {
        let sql = format!("SELECT {PLAN_COLUMNS} FROM plans ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PlanRow>(&sql)
        .fetch_all(pool)
        .await)?)
    }

    /// Sets the price new subscriptions of a plan start at (a price change that took effect).
    pub async fn set_plan_amount(&self, id: &str, amount: i64, now: i64) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query("UPDATE plans SET amount = $1, updated_at = $2 WHERE id = $3")
            .bind(amount)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Billing keys not yet applied to subscriptions, oldest first.
    pub async fn unapplied_billing_keys(&self, limit: i64) -> StoreResult<Vec<UnappliedKey>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, UnappliedKey>(
            "SELECT id, customer_key, checkout_terms, created_at, request_id FROM billing_keys \
             WHERE applied_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// One unapplied billing key (a hand-off applies its own at once).
    pub async fn unapplied_billing_key(&self, id: i64) -> StoreResult<Option<UnappliedKey>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, UnappliedKey>(
            "SELECT id, customer_key, checkout_terms, created_at, request_id FROM billing_keys \
             WHERE id = $1 AND applied_at IS NULL",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Applies a new billing key, in one transaction, and records what it did on the key:
    /// - a live subscription of the customer whose first charge was never paid, started on
    ///   another checkout session, is superseded by `create` (it ends, nothing was charged);
    /// - otherwise a live subscription charges the new card from now on (a past-due or
    ///   incomplete one at once);
    /// - otherwise `create` (the key's checkout terms) starts a subscription, unless its session
    ///   was used already or it promises a trial this customer had;
    /// - otherwise the card is only stored.
    ///
    /// A key applied by someone else meanwhile is left alone.
    pub async fn apply_billing_key(
        &self,
        key: &UnappliedKey,
        create: Option<&NewSubscription>,
        card_changed_event: &str,
        now: i64,
    ) -> StoreResult<Applied> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE",
            Backend::Sqlite => "",
        };
        let live_sql = format!(
            "SELECT id, status, checkout_session FROM subscriptions WHERE customer_key = $1 \
             AND status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE') {lock}"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query("UPDATE billing_keys SET applied_at = $1 WHERE id = $2 AND applied_at IS NULL")
                .bind(now)
                .bind(key.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed == 0 {
                return Ok(Applied::AlreadyApplied);
            }
            let live: Option<(i64, SubscriptionStatus, Option<String>)> = sqlx::query_as(&live_sql)
                .bind(&key.customer_key)
                .fetch_optional(&mut *tx)
                .await?;
            let superseded = match (&live, create) {
                (Some((id, SubscriptionStatus::Incomplete, session)), Some(new))
                    if session.as_deref() != Some(new.checkout_session.as_str()) => Some(*id),
                _ => None,
            };
            if let Some(old) = superseded {
                sqlx::query(
                    "UPDATE subscriptions SET status = 'INCOMPLETE_EXPIRED', ended_reason = 'superseded', \
                     canceled_at = $1, next_charge_at = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(old)
                .execute(&mut *tx)
                .await?;
                insert_event!(tx, old, "subscription.incomplete_expired", r#"{"reason":"superseded"}"#, now)?;
            }
            let live = live.filter(|(id, _, _)| Some(*id) != superseded);
            let applied = match (live, create) {
                (Some((id, _, _)), _) => {
                    sqlx::query(
                        "UPDATE subscriptions SET billing_key_id = $1, card_changed_at = $2, updated_at = $2, \
                         next_charge_at = CASE WHEN status IN ('PAST_DUE', 'INCOMPLETE') THEN $2 ELSE next_charge_at END \
                         WHERE id = $3",
                    )
                    .bind(key.id)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    insert_event!(tx, id, "subscription.card_changed", card_changed_event, now)?;
                    Applied::CardChanged(id)
                }
                (None, Some(new)) => {
                    let (used,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM subscriptions WHERE checkout_session = $1")
                        .bind(&new.checkout_session)
                        .fetch_one(&mut *tx)
                        .await?;
                    let (trialed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM trials WHERE customer_key = $1 AND plan_id = $2")
                        .bind(&new.customer_key)
                        .bind(&new.plan_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if used > 0 {
                        Applied::NotStarted("CHECKOUT_SESSION_USED")
                    } else if new.trial_ends_at.is_some() && trialed > 0 {
                        Applied::NotStarted("TRIAL_ALREADY_USED")
                    } else {
                        let (id,): (i64,) = sqlx::query_as(
                            "INSERT INTO subscriptions (customer_key, plan_id, billing_key_id, status, order_prefix, \
                             anchor_at, anchor_period_no, period_no, current_period_start, current_period_end, \
                             period_paid, amount, next_charge_at, checkout_session, terms_version, trial_ends_at, \
                             incomplete_expires_at, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
                             RETURNING id",
                        )
                        .bind(&new.customer_key)
                        .bind(&new.plan_id)
                        .bind(key.id)
                        .bind(new.status)
                        .bind(&new.order_prefix)
                        .bind(new.anchor.0)
                        .bind(new.anchor.1)
                        .bind(new.first_period.0)
                        .bind(new.first_period.1)
                        .bind(new.first_period_paid)
                        .bind(new.amount)
                        .bind(new.next_charge_at)
                        .bind(&new.checkout_session)
                        .bind(&new.terms_version)
                        .bind(new.trial_ends_at)
                        .bind(new.incomplete_expires_at)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                        insert_event!(tx, id, "subscription.created", new.event_detail.as_str(), now)?;
                        if new.trial_ends_at.is_some() {
                            sqlx::query("INSERT INTO trials (customer_key, plan_id, subscription_id, started_at) VALUES ($1, $2, $3, $4)")
                                .bind(&new.customer_key)
                                .bind(&new.plan_id)
                                .bind(id)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                        if let Some(conversion) = &new.conversion {
                            insert_change!(tx, id, conversion, now)?;
                        }
                        Applied::Created(id)
                    }
                }
                (None, None) => Applied::Stored,
            };
            let (subscription_id, not_started) = match &applied {
                Applied::Created(id) | Applied::CardChanged(id) => (Some(*id), None),
                Applied::NotStarted(code) => (None, Some(*code)),
                _ => (None, None),
            };
            sqlx::query("UPDATE billing_keys SET subscription_id = $1, not_started_code = $2 WHERE id = $3")
                .bind(subscription_id)
                .bind(not_started)
                .bind(key.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(applied)
        })
    }

    /// Takes the leases of up to `limit` live subscriptions that are due. PostgreSQL skips rows
    /// another instance is claiming (`FOR UPDATE SKIP LOCKED`); on SQLite the single UPDATE is the
    /// claim.
    pub async fn claim_due_subscriptions(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        let skip_locked = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE subscriptions SET lease_taken_from = lease_owner, lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM subscriptions \
               WHERE next_charge_at <= $3 AND status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE') \
               AND (lease_until IS NULL OR lease_until < $3) \
               ORDER BY next_charge_at LIMIT $4 {skip_locked}) \
             AND (lease_until IS NULL OR lease_until < $3) RETURNING {COLUMNS}, lease_taken_from"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Takes the lease of one subscription (an operator's "retry now").
    pub async fn claim_subscription(
        &self,
        id: i64,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<SubscriptionRow>> {
        let sql = format!(
            "UPDATE subscriptions SET lease_taken_from = lease_owner, lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND (lease_until IS NULL OR lease_until < $4) \
             RETURNING {COLUMNS}, lease_taken_from"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(id)
            .bind(now)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Extends a held lease. False if it was lost.
    pub async fn renew_subscription_lease(
        &self,
        id: i64,
        owner: &str,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE subscriptions SET lease_until = $1 WHERE id = $2 AND lease_owner = $3",
        )
        .bind(lease_until)
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Applies `update` (and its events) to a subscription this runner holds, and releases the
    /// lease if `release`. False if the lease was lost (nothing written).
    pub async fn update_subscription(
        &self,
        id: i64,
        owner: Option<&str>,
        update: &SubscriptionUpdate,
        release: bool,
        now: i64,
    ) -> StoreResult<bool> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if !apply_subscription_update!(tx, id, owner, update, release, now)? {
                return Ok(false);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// A subscription.
    pub async fn subscription(&self, id: i64) -> StoreResult<Option<SubscriptionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE id = $1");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>(&sql).bind(id).fetch_optional(pool).await)?,
        )
    }

    /// The subscription started on a checkout session, if any.
    pub async fn subscription_by_session(
        &self,
        session_id: &str,
    ) -> StoreResult<Option<SubscriptionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE checkout_session = $1");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>(&sql).bind(session_id).fetch_optional(pool).await)?,
        )
    }

    /// The customer's most recent subscription.
    pub async fn subscription_of(
        &self,
        customer_key: &str,
    ) -> StoreResult<Option<SubscriptionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE customer_key = $1 ORDER BY id DESC LIMIT 1"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>(&sql).bind(customer_key).fetch_optional(pool).await)?,
        )
    }

    /// Subscriptions, newest first (operators).
    pub async fn list_subscriptions(
        &self,
        status: Option<SubscriptionStatus>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2 OFFSET $3"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>(&sql)
            .bind(status)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// The period charges' attempts of one period (or all), oldest first; prorations are not
    /// among them (`subscription_charges` has every charge).
    pub async fn attempts(
        &self,
        subscription_id: i64,
        period_no: Option<i64>,
    ) -> StoreResult<Vec<AttemptRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(
            "SELECT order_id, period_no, attempt_no, status, amount, result_code, payment_key, billing_key_id, created_at \
             FROM charges WHERE subscription_id = $1 AND ($2 IS NULL OR period_no = $2) AND purpose = 'PERIOD' \
             ORDER BY period_no, attempt_no",
        )
        .bind(subscription_id)
        .bind(period_no)
        .fetch_all(pool)
        .await)?)
    }

    /// A subscription's events, oldest first.
    pub async fn events(&self, subscription_id: i64) -> StoreResult<Vec<EventRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, EventRow>(
            "SELECT id, subscription_id, kind, detail, created_at, delivered_at, delivery_attempts, request_id \
             FROM subscription_events WHERE subscription_id = $1 ORDER BY id",
        )
        .bind(subscription_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Takes up to `limit` undelivered events that are due for delivery, for `lease_ms`.
    pub async fn claim_undelivered_events(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<EventRow>> {
        let skip_locked = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE subscription_events SET lease_until = $1, delivery_attempts = delivery_attempts + 1 \
             WHERE id IN (SELECT id FROM subscription_events WHERE delivered_at IS NULL \
               AND next_delivery_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
               ORDER BY id LIMIT $3 {skip_locked}) \
             AND delivered_at IS NULL \
             RETURNING id, subscription_id, kind, detail, created_at, delivered_at, delivery_attempts, request_id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, EventRow>(&sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Marks an event delivered, or schedules its next try.
    pub async fn event_delivery(
        &self,
        id: i64,
        delivered: bool,
        next_try_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE subscription_events SET lease_until = NULL, \
             delivered_at = CASE WHEN $1 THEN $2 ELSE NULL END, next_delivery_at = $3 WHERE id = $4",
        )
        .bind(delivered)
        .bind(now)
        .bind(next_try_at)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Subscriptions by status (benchmarks, tests).
    pub async fn count_subscriptions(&self, status: SubscriptionStatus) -> StoreResult<i64> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM subscriptions WHERE status = $1",
        )
        .bind(status)
        .fetch_one(pool)
        .await)?;
        Ok(n)
    }
}

/// Records an event inside a transaction (a macro rather than a generic function: the same SQL
/// on either database's transaction, without higher-ranked bounds that would make the callers'
/// futures lose `Send`).
macro_rules! insert_event {
    ($tx:expr, $subscription_id:expr, $kind:expr, $detail:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO subscription_events (subscription_id, kind, detail, created_at, next_delivery_at, request_id) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind($subscription_id)
        .bind($kind)
        .bind($detail)
        .bind($now)
        .bind($crate::request_id::current())
        .execute(&mut *$tx)
        .await
        .map(|_| ())
    };
}
pub(crate) use insert_event;

/// Applies a [`SubscriptionUpdate`] (and its events) inside a transaction: `Ok(false)` if the
/// subscription is not held by `owner` (nothing written). Its first statement is a write, so a
/// SQLite transaction that starts with it may read afterwards (store/changes.rs, `attach_change`).
macro_rules! apply_subscription_update {
    ($tx:expr, $id:expr, $owner:expr, $update:expr, $release:expr, $now:expr) => {
        async {
            let (id, owner, update, release, now): (i64, Option<&str>, &SubscriptionUpdate, bool, i64) =
                ($id, $owner, $update, $release, $now);
            let (period_no, period_start, period_end) = update.period.map_or((None, None, None), |(n, s, e)| (Some(n), Some(s), Some(e)));
            // A new period starts unpaid unless the update says otherwise.
            let period_paid = update.period_paid.or(update.period.map(|_| false));
            let n = sqlx::query(
                "UPDATE subscriptions SET \
                 status = COALESCE($1, status), \
                 period_no = COALESCE($2, period_no), \
                 current_period_start = COALESCE($3, current_period_start), \
                 current_period_end = COALESCE($4, current_period_end), \
                 next_charge_at = CASE WHEN $5 THEN $6 ELSE next_charge_at END, \
                 cancel_at_period_end = COALESCE($7, cancel_at_period_end), \
                 canceled_at = COALESCE($8, canceled_at), \
                 lease_owner = CASE WHEN $9 THEN NULL ELSE lease_owner END, \
                 lease_until = CASE WHEN $9 THEN NULL ELSE lease_until END, \
                 updated_at = $10, \
                 period_paid = COALESCE($13, period_paid), \
                 amount = COALESCE($14, amount), \
                 plan_id = COALESCE($15, plan_id), \
                 anchor_at = COALESCE($16, anchor_at), \
                 anchor_period_no = COALESCE($17, anchor_period_no), \
                 ended_reason = COALESCE($18, ended_reason), \
                 trial_notice_at = COALESCE($19, trial_notice_at) \
                 WHERE id = $11 AND ($12 IS NULL OR lease_owner = $12)",
            )
            .bind(update.status)
            .bind(period_no)
            .bind(period_start)
            .bind(period_end)
            .bind(update.next_charge_at.is_some())
            .bind(update.next_charge_at.flatten())
            .bind(update.cancel_at_period_end)
            .bind(update.canceled_at)
            .bind(release)
            .bind(now)
            .bind(id)
            .bind(owner)
            .bind(period_paid)
            .bind(update.amount)
            .bind(update.plan_id.as_deref())
            .bind(update.anchor.map(|a| a.0))
            .bind(update.anchor.map(|a| a.1))
            .bind(update.ended_reason)
            .bind(update.trial_notice_at)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok::<bool, sqlx::Error>(false);
            }
            if let Some((change_id, status)) = update.change {
                sqlx::query("UPDATE subscription_changes SET status = $1, updated_at = $2 WHERE id = $3 AND subscription_id = $4")
                    .bind(status)
                    .bind(now)
                    .bind(change_id)
                    .bind(id)
                    .execute(&mut *$tx)
                    .await?;
            }
            if let Some((change_id, at)) = update.change_requested_at {
                sqlx::query("UPDATE subscription_changes SET requested_at = $1, updated_at = $2 WHERE id = $3 AND subscription_id = $4")
                    .bind(at)
                    .bind(now)
                    .bind(change_id)
                    .bind(id)
                    .execute(&mut *$tx)
                    .await?;
            }
            for (kind, detail) in &update.events {
                insert_event!($tx, id, kind.as_str(), detail.as_str(), now)?;
            }
            Ok(true)
        }
        .await
    };
}
pub(crate) use apply_subscription_update;
