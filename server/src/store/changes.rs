//! Scheduled changes: the operator's price changes (`price_changes`), each subscription's
//! outstanding change (`subscription_changes`), the customers' answers to them (`consents`,
//! never updated or deleted) and the trials used (`trials`).

use sqlx::FromRow;

use super::subscriptions::{insert_event, SubscriptionRow};
use super::{on_pool, Backend, Store, StoreResult};
use crate::billing::lifecycle::{ChangeKind, ChangeStatus};

/// Where an operator's price change stands (`price_change_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "price_change_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PriceChangeStatus {
    /// Announced; the plan's price for new subscriptions changes at its date.
    Scheduled,
    /// Withdrawn by the operator: nothing changes.
    Withdrawn,
    /// Its date came: new subscriptions start at the new price.
    Applied,
}

/// A price change of a plan.
#[derive(Debug, Clone, FromRow)]
pub struct PriceChangeRow {
    /// Row id.
    pub id: i64,
    /// The plan.
    pub plan_id: String,
    /// KRW before.
    pub from_amount: i64,
    /// KRW after.
    pub to_amount: i64,
    /// When announced (ms).
    pub announced_at: i64,
    /// When it takes effect (ms): each subscription's first period starting on or after it.
    pub effective_at: i64,
    /// Where it stands.
    pub status: PriceChangeStatus,
}

/// A change of one subscription.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ChangeRow {
    /// Row id.
    pub id: i64,
    /// The subscription.
    pub subscription_id: i64,
    /// What it does.
    pub kind: ChangeKind,
    /// The operator's price change it comes from.
    pub price_change_id: Option<i64>,
    /// The plan before.
    pub from_plan_id: String,
    /// The plan after.
    pub to_plan_id: String,
    /// KRW per period before.
    pub from_amount: i64,
    /// KRW per period after.
    pub to_amount: i64,
    /// The start of the first period it applies to (ms).
    pub effective_at: i64,
    /// When its consent window opens (ms), for changes that need consent.
    pub consent_opens_at: Option<i64>,
    /// Where it stands.
    pub status: ChangeStatus,
    /// An upgrade's proration charge.
    pub order_id: Option<String>,
    /// When the consent request was sent.
    pub requested_at: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
}

const CHANGE_COLUMNS: &str = "id, subscription_id, kind, price_change_id, from_plan_id, \
                              to_plan_id, from_amount, to_amount, effective_at, consent_opens_at, \
                              status, order_id, requested_at, created_at";

/// A change to attach to a subscription.
#[derive(Debug, Clone)]
pub struct NewChange {
    /// What it does.
    pub kind: ChangeKind,
    /// The operator's price change it comes from.
    pub price_change_id: Option<i64>,
    /// The plan before.
    pub from_plan_id: String,
    /// The plan after.
    pub to_plan_id: String,
    /// KRW before.
    pub from_amount: i64,
    /// KRW after.
    pub to_amount: i64,
    /// The first period it applies to starts at (ms).
    pub effective_at: i64,
    /// Its consent window opens at (ms).
    pub consent_opens_at: Option<i64>,
    /// Its initial status.
    pub status: ChangeStatus,
    /// An upgrade's proration charge.
    pub order_id: Option<String>,
}

/// A customer's answer to a change, as given.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRow {
    /// Row id.
    pub id: i64,
    /// The subscription.
    pub subscription_id: i64,
    /// The change.
    pub change_id: i64,
    /// Who.
    pub customer_key: String,
    /// `ACCEPT` or `DECLINE`.
    pub decision: ConsentDecision,
    /// Through what (`customer_api`, `portal`, `upgrade`, `downgrade`).
    pub channel: String,
    /// The exact terms answered (JSON: date, prices before and after, payment method, how to
    /// cancel).
    pub terms: String,
    /// The version of the text shown.
    pub text_version: String,
    /// The client (user agent), if known.
    pub client: Option<String>,
    /// When (ms).
    pub decided_at: i64,
}

/// `consent_decision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "consent_decision", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentDecision {
    /// Agreed.
    Accept,
    /// Said no.
    Decline,
}

/// A consent to record.
#[derive(Debug, Clone)]
pub struct NewConsent<'a> {
    /// The subscription.
    pub subscription_id: i64,
    /// The change.
    pub change_id: i64,
    /// Who.
    pub customer_key: &'a str,
    /// The answer.
    pub decision: ConsentDecision,
    /// Through what.
    pub channel: &'a str,
    /// The exact terms (JSON).
    pub terms: &'a str,
    /// The text version.
    pub text_version: &'a str,
    /// The client.
    pub client: Option<&'a str>,
}

/// Inserts a change inside a transaction (see `insert_event`: a macro so either database's
/// transaction works without losing `Send`).
macro_rules! insert_change {
    ($tx:expr, $subscription_id:expr, $change:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO subscription_changes (subscription_id, kind, price_change_id, from_plan_id, \
             to_plan_id, from_amount, to_amount, effective_at, consent_opens_at, status, order_id, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind($subscription_id)
        .bind($change.kind)
        .bind($change.price_change_id)
        .bind(&$change.from_plan_id)
        .bind(&$change.to_plan_id)
        .bind($change.from_amount)
        .bind($change.to_amount)
        .bind($change.effective_at)
        .bind($change.consent_opens_at)
        .bind($change.status)
        .bind($change.order_id.as_deref())
        .bind($now)
        .execute(&mut *$tx)
        .await
        .map(|_| ())
    };
}
pub(crate) use insert_change;

/// Has the scheduler look at a live subscription now: a new change may bring a notice (a consent
/// request) before its next charge.
macro_rules! wake {
    ($tx:expr, $subscription_id:expr, $now:expr) => {
        sqlx::query(
            "UPDATE subscriptions SET next_charge_at = $1 \
             WHERE id = $2 AND next_charge_at IS NOT NULL AND next_charge_at > $1",
        )
        .bind($now)
        .bind($subscription_id)
        .execute(&mut *$tx)
        .await
        .map(|_| ())
    };
}

impl Store {
    /// Records an operator's price change and attaches it to the given subscriptions (each with
    /// its own effective period and event), in one transaction. Returns its id.
    pub async fn insert_price_change(
        &self,
        plan_id: &str,
        from_amount: i64,
        to_amount: i64,
        effective_at: i64,
        attach: &[(i64, NewChange, String)],
        now: i64,
    ) -> StoreResult<i64> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO price_changes (plan_id, from_amount, to_amount, announced_at, effective_at, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'SCHEDULED', $4) RETURNING id",
            )
            .bind(plan_id)
            .bind(from_amount)
            .bind(to_amount)
            .bind(now)
            .bind(effective_at)
            .fetch_one(&mut *tx)
            .await?;
            for (subscription_id, change, event) in attach {
                let change = NewChange { price_change_id: Some(id), ..change.clone() };
                insert_change!(tx, *subscription_id, change, now)?;
                insert_event!(tx, *subscription_id, "subscription.change_scheduled", event.as_str(), now)?;
                wake!(tx, *subscription_id, now)?;
            }
            tx.commit().await?;
            Ok(id)
        })
    }

    /// One price change.
    pub async fn price_change(&self, id: i64) -> StoreResult<Option<PriceChangeRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PriceChangeRow>(
            "SELECT id, plan_id, from_amount, to_amount, announced_at, effective_at, status FROM price_changes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every price change, newest first (or one plan's).
    pub async fn price_changes(&self, plan_id: Option<&str>) -> StoreResult<Vec<PriceChangeRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PriceChangeRow>(
            "SELECT id, plan_id, from_amount, to_amount, announced_at, effective_at, status FROM price_changes \
             WHERE $1 IS NULL OR plan_id = $1 ORDER BY id DESC",
        )
        .bind(plan_id)
        .fetch_all(pool)
        .await)?)
    }

    /// The scheduled price changes of a plan not yet in effect for every subscription (to attach
    /// to a subscription that starts or frees its change slot after they were announced).
    pub async fn scheduled_price_changes(&self, plan_id: &str) -> StoreResult<Vec<PriceChangeRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PriceChangeRow>(
            "SELECT id, plan_id, from_amount, to_amount, announced_at, effective_at, status FROM price_changes \
             WHERE plan_id = $1 AND status IN ('SCHEDULED', 'APPLIED') ORDER BY effective_at, id",
        )
        .bind(plan_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Withdraws a scheduled price change and every outstanding subscription change from it,
    /// each with an event. Returns how many subscriptions were told; `None` if it was not
    /// scheduled.
    pub async fn withdraw_price_change(&self, id: i64, now: i64) -> StoreResult<Option<u64>> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let withdrawn = sqlx::query(
                "UPDATE price_changes SET status = 'WITHDRAWN', updated_at = $1 WHERE id = $2 AND status = 'SCHEDULED'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if withdrawn == 0 {
                return Ok(None);
            }
            let affected: Vec<(i64, i64)> = sqlx::query_as(
                "UPDATE subscription_changes SET status = 'WITHDRAWN', updated_at = $1 \
                 WHERE price_change_id = $2 AND status IN ('PENDING', 'ACCEPTED', 'DECLINED') \
                 RETURNING id, subscription_id",
            )
            .bind(now)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            for (change_id, subscription_id) in &affected {
                let detail = serde_json::json!({ "changeId": change_id, "priceChangeId": id }).to_string();
                insert_event!(tx, *subscription_id, "subscription.change_withdrawn", detail.as_str(), now)?;
            }
            tx.commit().await?;
            Ok(Some(affected.len() as u64))
        })
    }

    /// Scheduled price changes whose date has come.
    pub async fn due_price_changes(&self, now: i64) -> StoreResult<Vec<PriceChangeRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PriceChangeRow>(
            "SELECT id, plan_id, from_amount, to_amount, announced_at, effective_at, status FROM price_changes \
             WHERE status = 'SCHEDULED' AND effective_at <= $1 ORDER BY effective_at",
        )
        .bind(now)
        .fetch_all(pool)
        .await)?)
    }

    /// A price change took effect: new subscriptions start at its price.
    pub async fn apply_price_change(&self, change: &PriceChangeRow, now: i64) -> StoreResult<bool> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE price_changes SET status = 'APPLIED', updated_at = $1 WHERE id = $2 AND status = 'SCHEDULED'")
                .bind(now)
                .bind(change.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                sqlx::query("UPDATE plans SET amount = $1, updated_at = $2 WHERE id = $3")
                    .bind(change.to_amount)
                    .bind(now)
                    .bind(&change.plan_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// The live subscriptions of a plan.
    pub async fn live_subscriptions_of_plan(
        &self,
        plan_id: &str,
    ) -> StoreResult<Vec<SubscriptionRow>> {
        let sql = format!(
            "SELECT {} FROM subscriptions WHERE plan_id = $1 \
             AND status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE') ORDER BY id",
            super::subscriptions::COLUMNS
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, SubscriptionRow>(&sql)
            .bind(plan_id)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// The subscription's outstanding change (pending, accepted or declined), if any.
    pub async fn outstanding_change(&self, subscription_id: i64) -> StoreResult<Option<ChangeRow>> {
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM subscription_changes WHERE subscription_id = $1 \
             AND status IN ('PENDING', 'ACCEPTED', 'DECLINED') ORDER BY id DESC LIMIT 1"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChangeRow>(&sql)
            .bind(subscription_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// One change.
    pub async fn change(&self, id: i64) -> StoreResult<Option<ChangeRow>> {
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM subscription_changes WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChangeRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Every change of a subscription, oldest first.
    pub async fn changes_of(&self, subscription_id: i64) -> StoreResult<Vec<ChangeRow>> {
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM subscription_changes WHERE subscription_id = $1 ORDER BY id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChangeRow>(&sql)
            .bind(subscription_id)
            .fetch_all(pool)
            .await)?)
    }

    /// Attaches a change to a subscription with its event, superseding (withdrawing) the
    /// outstanding one if `supersede`; fails with a unique violation if one is outstanding and
    /// not superseded. Returns the new change's id.
    pub async fn attach_change(
        &self,
        subscription_id: i64,
        change: &NewChange,
        supersede: bool,
        event: (&str, &str),
        now: i64,
    ) -> StoreResult<i64> {
        // PostgreSQL: lock the subscription's row first. SQLite: no read may come before the first
        // write of a deferred transaction (another writer's commit in between would fail it with
        // SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out); its writers are serialized.
        let lock_sql = match self.backend() {
            Backend::Postgres => Some("SELECT id FROM subscriptions WHERE id = $1 FOR UPDATE"),
            Backend::Sqlite => None,
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(sql) = lock_sql {
                sqlx::query(sql).bind(subscription_id).execute(&mut *tx).await?;
            }
            if supersede {
                sqlx::query(
                    "UPDATE subscription_changes SET status = 'WITHDRAWN', updated_at = $1 \
                     WHERE subscription_id = $2 AND status IN ('PENDING', 'ACCEPTED', 'DECLINED')",
                )
                .bind(now)
                .bind(subscription_id)
                .execute(&mut *tx)
                .await?;
            }
            insert_change!(tx, subscription_id, change, now)?;
            wake!(tx, subscription_id, now)?;
            let (id,): (i64,) = sqlx::query_as(
                "SELECT id FROM subscription_changes WHERE subscription_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(subscription_id)
            .fetch_one(&mut *tx)
            .await?;
            insert_event!(tx, subscription_id, event.0, event.1, now)?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Records a customer's answer and moves the change to `status`, with its event, in one
    /// transaction — only if the change is still outstanding (`false` otherwise).
    pub async fn record_consent(
        &self,
        consent: &NewConsent<'_>,
        status: ChangeStatus,
        event: (&str, &str),
        now: i64,
    ) -> StoreResult<bool> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let moved = sqlx::query(
                "UPDATE subscription_changes SET status = $1, updated_at = $2 \
                 WHERE id = $3 AND subscription_id = $4 AND status IN ('PENDING', 'ACCEPTED', 'DECLINED')",
            )
            .bind(status)
            .bind(now)
            .bind(consent.change_id)
            .bind(consent.subscription_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO consents (subscription_id, change_id, customer_key, decision, channel, terms, \
                 text_version, client, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(consent.subscription_id)
            .bind(consent.change_id)
            .bind(consent.customer_key)
            .bind(consent.decision)
            .bind(consent.channel)
            .bind(consent.terms)
            .bind(consent.text_version)
            .bind(consent.client)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_event!(tx, consent.subscription_id, event.0, event.1, now)?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// A subscription's consents, oldest first.
    pub async fn consents_of(&self, subscription_id: i64) -> StoreResult<Vec<ConsentRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ConsentRow>(
            "SELECT id, subscription_id, change_id, customer_key, decision, channel, terms, text_version, \
             client, decided_at FROM consents WHERE subscription_id = $1 ORDER BY id",
        )
        .bind(subscription_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Whether the customer already had this plan's trial.
    pub async fn had_trial(&self, customer_key: &str, plan_id: &str) -> StoreResult<bool> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM trials WHERE customer_key = $1 AND plan_id = $2",
        )
        .bind(customer_key)
        .bind(plan_id)
        .fetch_one(pool)
        .await)?;
        Ok(n > 0)
    }
}
