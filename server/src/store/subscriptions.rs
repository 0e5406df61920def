//! Plans, subscriptions, their charge attempts (rows of `charges`) and their events.

use sqlx::FromRow;

use super::charges::ChargeStatus;
use super::{on_pool, Backend, Store, StoreResult};

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
    /// KRW per period.
    pub amount: i64,
    /// The cycle.
    pub cycle: PlanCycle,
    /// For `DAYS`.
    pub interval_days: Option<i64>,
}

impl PlanRow {
    /// The cycle for period arithmetic.
    pub fn period_cycle(&self) -> crate::billing::period::Cycle {
        use crate::billing::period::Cycle;
        match self.cycle {
            PlanCycle::Monthly => Cycle::Monthly,
            PlanCycle::Yearly => Cycle::Yearly,
            PlanCycle::Days => Cycle::Days(self.interval_days.unwrap_or(30).clamp(1, 3650) as u32),
        }
    }
}

/// Where a subscription stands (`subscription_status` on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "subscription_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    /// Paid up.
    Active,
    /// The current period's charge failed; retrying (or waiting for a new card).
    PastDue,
    /// Ended: by the customer, the operator, or retries that ran out.
    Canceled,
    /// Retries ran out; kept, charged no more.
    Unpaid,
}

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
    /// Period 0's start (ms).
    pub anchor_at: i64,
    /// The current period (0 = the first).
    pub period_no: i64,
    /// Its start (ms).
    pub current_period_start: i64,
    /// Its end (ms).
    pub current_period_end: i64,
    /// When the scheduler looks again (ms; `None`: never).
    pub next_charge_at: Option<i64>,
    /// End at the current period's end.
    pub cancel_at_period_end: bool,
    /// When it ended.
    pub canceled_at: Option<i64>,
    /// When the card last changed.
    pub card_changed_at: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, customer_key, plan_id, billing_key_id, status, order_prefix, anchor_at, \
                       period_no, current_period_start, current_period_end, next_charge_at, \
                       cancel_at_period_end, canceled_at, card_changed_at, created_at";

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
}

/// A change to a subscription, with the events it emits, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionUpdate {
    /// New status.
    pub status: Option<SubscriptionStatus>,
    /// Move to this period: (number, start, end).
    pub period: Option<(i64, i64, i64)>,
    /// Next look (`Some(None)`: never).
    pub next_charge_at: Option<Option<i64>>,
    /// Cancel at period end.
    pub cancel_at_period_end: Option<bool>,
    /// Ended at.
    pub canceled_at: Option<i64>,
    /// Events to record: (kind, JSON detail).
    pub events: Vec<(String, String)>,
}

/// A subscription created by a new billing key.
pub struct NewSubscription<'a> {
    /// Customer.
    pub customer_key: &'a str,
    /// Plan.
    pub plan_id: &'a str,
    /// Card.
    pub billing_key_id: i64,
    /// Order prefix.
    pub order_prefix: &'a str,
    /// Period 0: (start, end).
    pub first_period: (i64, i64),
    /// First charge (ms).
    pub first_charge_at: i64,
    /// The created event's detail.
    pub event_detail: &'a str,
}

/// A billing key not yet applied to subscriptions.
#[derive(Debug, Clone, FromRow)]
pub struct UnappliedKey {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub customer_key: String,
    /// Created (ms).
    pub created_at: i64,
}

impl Store {
    /// Creates or replaces a plan.
    pub async fn upsert_plan(&self, plan: &PlanRow, now: i64) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO plans (id, name, amount, cycle, interval_days, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, amount = excluded.amount, \
             cycle = excluded.cycle, interval_days = excluded.interval_days, updated_at = excluded.updated_at",
        )
        .bind(&plan.id)
        .bind(&plan.name)
        .bind(plan.amount)
        .bind(plan.cycle)
        .bind(plan.interval_days)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Creates a plan unless one with its id exists.
    pub async fn insert_plan_if_absent(&self, plan: &PlanRow, now: i64) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO plans (id, name, amount, cycle, interval_days, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&plan.id)
        .bind(&plan.name)
        .bind(plan.amount)
        .bind(plan.cycle)
        .bind(plan.interval_days)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A plan.
    pub async fn plan(&self, id: &str) -> StoreResult<Option<PlanRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PlanRow>(
            "SELECT id, name, amount, cycle, interval_days FROM plans WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every plan.
    pub async fn plans(&self) -> StoreResult<Vec<PlanRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PlanRow>(
            "SELECT id, name, amount, cycle, interval_days FROM plans ORDER BY id",
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Changes a plan's amount, recording `event` on each live subscription of it (the new amount
    /// applies from each one's next period). Returns how many subscriptions were told.
    pub async fn set_plan_amount(
        &self,
        id: &str,
        amount: i64,
        event: &str,
        now: i64,
    ) -> StoreResult<u64> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query("UPDATE plans SET amount = $1, updated_at = $2 WHERE id = $3")
                .bind(amount)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let told = if changed == 0 {
                0
            } else {
                sqlx::query(
                    "INSERT INTO subscription_events (subscription_id, kind, detail, created_at, next_delivery_at) \
                     SELECT id, 'subscription.amount_changed', $1, $2, $2 FROM subscriptions \
                     WHERE plan_id = $3 AND status IN ('ACTIVE', 'PAST_DUE')",
                )
                .bind(event)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            };
            tx.commit().await?;
            Ok(told)
        })
    }

    /// Billing keys not yet applied to subscriptions, oldest first.
    pub async fn unapplied_billing_keys(&self, limit: i64) -> StoreResult<Vec<UnappliedKey>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, UnappliedKey>(
            "SELECT id, customer_key, created_at FROM billing_keys WHERE applied_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Applies a new billing key: the customer's live subscription charges it from now on (a
    /// past-due one at once), or `create` starts a subscription; either way the key is marked
    /// applied, all in one transaction. Returns the subscription's id, if any. A key applied by
    /// someone else meanwhile is left alone.
    pub async fn apply_billing_key(
        &self,
        key: &UnappliedKey,
        create: Option<NewSubscription<'_>>,
        card_changed_event: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE",
            Backend::Sqlite => "",
        };
        let live_sql = format!(
            "SELECT id FROM subscriptions WHERE customer_key = $1 AND status IN ('ACTIVE', 'PAST_DUE') {lock}"
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
                return Ok(None);
            }
            let live: Option<(i64,)> = sqlx::query_as(&live_sql)
                .bind(&key.customer_key)
                .fetch_optional(&mut *tx)
                .await?;
            let id = match (live, create) {
                (Some((id,)), _) => {
                    sqlx::query(
                        "UPDATE subscriptions SET billing_key_id = $1, card_changed_at = $2, updated_at = $2, \
                         next_charge_at = CASE WHEN status = 'PAST_DUE' THEN $2 ELSE next_charge_at END \
                         WHERE id = $3",
                    )
                    .bind(key.id)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    insert_event!(tx, id, "subscription.card_changed", card_changed_event, now)?;
                    Some(id)
                }
                (None, Some(new)) => {
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO subscriptions (customer_key, plan_id, billing_key_id, status, order_prefix, \
                         anchor_at, period_no, current_period_start, current_period_end, next_charge_at, \
                         created_at, updated_at) \
                         VALUES ($1, $2, $3, 'ACTIVE', $4, $5, 0, $5, $6, $7, $8, $8) RETURNING id",
                    )
                    .bind(new.customer_key)
                    .bind(new.plan_id)
                    .bind(new.billing_key_id)
                    .bind(new.order_prefix)
                    .bind(new.first_period.0)
                    .bind(new.first_period.1)
                    .bind(new.first_charge_at)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    insert_event!(tx, id, "subscription.created", new.event_detail, now)?;
                    Some(id)
                }
                (None, None) => None,
            };
            tx.commit().await?;
            Ok(id)
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
            "UPDATE subscriptions SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM subscriptions \
               WHERE next_charge_at <= $3 AND status IN ('ACTIVE', 'PAST_DUE') \
               AND (lease_until IS NULL OR lease_until < $3) \
               ORDER BY next_charge_at LIMIT $4 {skip_locked}) \
             AND (lease_until IS NULL OR lease_until < $3) RETURNING {COLUMNS}"
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
            "UPDATE subscriptions SET lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND (lease_until IS NULL OR lease_until < $4) RETURNING {COLUMNS}"
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
            let (period_no, period_start, period_end) = update.period.map_or((None, None, None), |(n, s, e)| (Some(n), Some(s), Some(e)));
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
                 updated_at = $10 \
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
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            for (kind, detail) in &update.events {
                insert_event!(tx, id, kind.as_str(), detail.as_str(), now)?;
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

    /// The attempts of one period, oldest first.
    pub async fn attempts(
        &self,
        subscription_id: i64,
        period_no: Option<i64>,
    ) -> StoreResult<Vec<AttemptRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(
            "SELECT order_id, period_no, attempt_no, status, amount, result_code, payment_key, billing_key_id, created_at \
             FROM charges WHERE subscription_id = $1 AND ($2 IS NULL OR period_no = $2) \
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
            "SELECT id, subscription_id, kind, detail, created_at, delivered_at, delivery_attempts FROM subscription_events \
             WHERE subscription_id = $1 ORDER BY id",
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
             RETURNING id, subscription_id, kind, detail, created_at, delivered_at, delivery_attempts"
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
            "INSERT INTO subscription_events (subscription_id, kind, detail, created_at, next_delivery_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind($subscription_id)
        .bind($kind)
        .bind($detail)
        .bind($now)
        .execute(&mut *$tx)
        .await
        .map(|_| ())
    };
}
use insert_event;
