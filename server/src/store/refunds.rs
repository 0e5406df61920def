//! Refunds of charges (`refunds`), one id and one Idempotency-Key each for ever, every call made to
//! Toss for them (`refund_calls`), and the periods a merchant marked as used (`used_periods`).
//!
//! Never more than the balance: a refund is inserted in a transaction that first holds the charge
//! (PostgreSQL: `SELECT … FOR UPDATE` on its row; SQLite: the transaction's first statement is a
//! write, which serializes it behind every other writer and lets it read afterwards without
//! `SQLITE_BUSY_SNAPSHOT`), then checks the sum of the charge's refunds that are not FAILED
//! against the charge's amount, and rolls back if it is exceeded. Two instances refunding one
//! charge at once therefore cannot overdraw it.

use sqlx::FromRow;

use super::subscriptions::{apply_subscription_update, insert_event, SubscriptionUpdate};
use super::{on_pool, Backend, Store, StoreResult};

/// Where a refund stands (`refund_status` on PostgreSQL, checked TEXT on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "refund_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundStatus {
    /// Recorded, not sent yet (or being sent for the first time).
    Pending,
    /// Sent, outcome unclear: settled by Toss's payment lookup before anything is sent again.
    Unknown,
    /// Refunded by Toss.
    Done,
    /// Refused by Toss: nothing was refunded (the amount counts toward the balance again).
    Failed,
}

impl RefundStatus {
    /// Whether nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(self, RefundStatus::Done | RefundStatus::Failed)
    }
}

/// Why a refund was made (`refund_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "refund_kind", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundKind {
    /// An operator's refund (all or part of a charge).
    Operator,
    /// 중도해지: the unused days of the current period, pro rata.
    MidTerm,
    /// 청약철회: the whole charge.
    Withdrawal,
    /// Made elsewhere (Toss's console), learned from a webhook and Toss's payment lookup.
    External,
}

/// Which Toss API a refund call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "refund_call_kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundCallKind {
    /// `POST /v1/payments/{paymentKey}/cancel`.
    Cancel,
    /// `GET /v1/payments/{paymentKey}`.
    Lookup,
}

/// A refund as stored.
#[derive(Debug, Clone, FromRow)]
pub struct RefundRow {
    /// Its id (the operator's, or derived).
    pub id: String,
    /// Sent with every cancel call of this refund: `rf-` + id.
    pub idempotency_key: String,
    /// The charge refunded.
    pub order_id: String,
    /// Its Toss payment.
    pub payment_key: String,
    /// The customer.
    pub customer_key: String,
    /// The subscription of the charge, if any.
    pub subscription_id: Option<i64>,
    /// KRW.
    pub amount: i64,
    /// Toss's `cancelReason`.
    pub reason: String,
    /// Why.
    pub kind: RefundKind,
    /// Where it stands.
    pub status: RefundStatus,
    /// Who asked (`operator`, `customer`, `toss`).
    pub requested_by: String,
    /// Calls that may have reached Toss.
    pub sends: i64,
    /// Until when a runner holds it (ms).
    pub lease_until: Option<i64>,
    /// Not looked at again before (ms).
    pub next_attempt_at: i64,
    /// The `cancels[]` entry of Toss's Payment that is this refund.
    pub transaction_key: Option<String>,
    /// Toss's `canceledAt`.
    pub canceled_at: Option<String>,
    /// Toss's code of a refusal, or why the outcome is unknown.
    pub result_code: Option<String>,
    /// Its message.
    pub result_message: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// The request that asked for it (`x-request-id`), if one did.
    pub request_id: Option<String>,
}

const COLUMNS: &str = "id, idempotency_key, order_id, payment_key, customer_key, subscription_id, \
                       amount, reason, kind, status, requested_by, sends, lease_until, next_attempt_at, \
                       transaction_key, canceled_at, result_code, result_message, created_at, updated_at, \
                       request_id";

/// The Idempotency-Key of a refund: derived from its id, so a retry of one refund reuses it and two
/// refunds of one payment never share one (Toss matches keys on key + URL + method, not the body).
pub fn refund_idempotency_key(id: &str) -> String {
    format!("rf-{id}")
}

/// A refund to record.
#[derive(Debug, Clone)]
pub struct NewRefund {
    /// Its id (`[A-Za-z0-9_-]`, at most 80).
    pub id: String,
    /// The charge to refund (must be DONE).
    pub order_id: String,
    /// KRW; `None`: whatever is left of the charge.
    pub amount: Option<i64>,
    /// Toss's `cancelReason` (1–200 characters).
    pub reason: String,
    /// Why.
    pub kind: RefundKind,
    /// Who asked.
    pub requested_by: String,
}

/// What recording a refund did.
#[derive(Debug, Clone)]
pub enum Inserted {
    /// Recorded now.
    New(RefundRow),
    /// A refund with this id exists (the caller compares it with what was asked).
    Existing(RefundRow),
    /// It would take the charge below zero: nothing recorded. `balance` is what is left.
    OverBalance {
        /// The charge.
        order_id: String,
        /// What is left of it.
        balance: i64,
    },
    /// The charge does not exist or was never approved: nothing to refund.
    NotRefundable,
}

/// What ending a subscription together with its refunds did.
#[derive(Debug, Clone)]
pub enum Ended {
    /// Ended; these refunds were recorded (or existed already under their ids).
    Done(Vec<RefundRow>),
    /// The subscription's lease was lost: nothing written.
    LeaseLost,
    /// A refund would exceed its charge's balance (a refund raced this one): nothing written.
    OverBalance {
        /// The charge.
        order_id: String,
        /// What is left of it.
        balance: i64,
    },
}

/// The outcome of a call to store.
pub struct RefundOutcome<'a> {
    /// New status.
    pub status: RefundStatus,
    /// The cancel entry's transaction key.
    pub transaction_key: Option<&'a str>,
    /// Its time.
    pub canceled_at: Option<&'a str>,
    /// Code.
    pub code: Option<&'a str>,
    /// Message.
    pub message: Option<&'a str>,
    /// When to look again, if not final (ms).
    pub next_attempt_at: i64,
}

/// An external refund learned from Toss (recorded DONE).
#[derive(Debug, Clone)]
pub struct ExternalRefund {
    /// The cancel's transaction key.
    pub transaction_key: String,
    /// KRW.
    pub amount: i64,
    /// Its reason at Toss.
    pub reason: String,
    /// Its time at Toss.
    pub canceled_at: Option<String>,
}

/// Inserts one refund inside a transaction that already holds the charge (see the module's
/// comment): `Result<Inserted, sqlx::Error>`. A macro rather than a function, like
/// `insert_event!`: the same SQL on either database's transaction.
macro_rules! insert_refund {
    ($tx:expr, $new:expr, $now:expr) => {
        async {
            let (new, now): (&NewRefund, i64) = ($new, $now);
            let sql = format!(
                "INSERT INTO refunds (id, idempotency_key, order_id, payment_key, customer_key, \
                 subscription_id, amount, reason, kind, status, requested_by, next_attempt_at, \
                 created_at, updated_at, request_id) \
                 SELECT $1, $2, c.order_id, c.payment_key, c.customer_key, c.subscription_id, \
                   CAST(COALESCE($3, c.amount - COALESCE((SELECT SUM(r.amount) FROM refunds r \
                     WHERE r.order_id = c.order_id AND r.status <> 'FAILED'), 0)) AS BIGINT), \
                   $4, $5, $9, $6, $7, $7, $7, $10 \
                 FROM charges c WHERE c.order_id = $8 AND c.status = 'DONE' \
                   AND c.payment_key IS NOT NULL \
                   AND COALESCE($3, c.amount - COALESCE((SELECT SUM(r.amount) FROM refunds r \
                     WHERE r.order_id = c.order_id AND r.status <> 'FAILED'), 0)) > 0 \
                 ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
            );
            let inserted = sqlx::query_as::<_, RefundRow>(&sql)
                .bind(&new.id)
                .bind(refund_idempotency_key(&new.id))
                .bind(new.amount)
                .bind(&new.reason)
                .bind(new.kind)
                .bind(&new.requested_by)
                .bind(now)
                .bind(&new.order_id)
                // Bound, not written as literals: PostgreSQL reads a literal in an INSERT's
                // SELECT list as text, which an enum column refuses.
                .bind(RefundStatus::Pending)
                .bind(crate::request_id::current())
                .fetch_optional(&mut *$tx)
                .await?;
            // What the charge is worth, if it was approved (its amount never changes after).
            let charge: Option<(i64,)> = sqlx::query_as(
                "SELECT amount FROM charges WHERE order_id = $1 AND status = 'DONE' \
                 AND payment_key IS NOT NULL",
            )
            .bind(&new.order_id)
            .fetch_optional(&mut *$tx)
            .await?;
            let (refunded,): (i64,) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE order_id = $1 AND status <> 'FAILED'",
            )
            .bind(&new.order_id)
            .fetch_one(&mut *$tx)
            .await?;
            let Some(row) = inserted else {
                let existing = sqlx::query_as::<_, RefundRow>(&format!(
                    "SELECT {COLUMNS} FROM refunds WHERE id = $1"
                ))
                .bind(&new.id)
                .fetch_optional(&mut *$tx)
                .await?;
                return Ok::<Inserted, sqlx::Error>(match (existing, charge) {
                    (Some(row), _) => Inserted::Existing(row),
                    // "Whatever is left" of a charge with nothing left.
                    (None, Some((amount,))) => Inserted::OverBalance {
                        order_id: new.order_id.clone(),
                        balance: (amount - refunded).max(0),
                    },
                    (None, None) => Inserted::NotRefundable,
                });
            };
            let amount = charge.map_or(0, |c| c.0);
            if refunded > amount {
                return Ok(Inserted::OverBalance {
                    order_id: new.order_id.clone(),
                    balance: (amount - (refunded - row.amount)).max(0),
                });
            }
            Ok(Inserted::New(row))
        }
        .await
    };
}

impl Store {
    /// The statement that holds a charge's row for the rest of the transaction (PostgreSQL), or
    /// nothing (SQLite: its transaction must start with a write instead).
    fn charge_lock_sql(&self) -> Option<&'static str> {
        match self.backend() {
            Backend::Postgres => {
                Some("SELECT order_id FROM charges WHERE order_id = $1 FOR UPDATE")
            }
            Backend::Sqlite => None,
        }
    }

    /// Records a refund unless its id exists, never beyond the charge's balance, in one
    /// transaction (see the module's comment).
    pub async fn insert_refund(&self, new: &NewRefund, now: i64) -> StoreResult<Inserted> {
        let lock = self.charge_lock_sql();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(sql) = lock {
                sqlx::query(sql).bind(&new.order_id).execute(&mut *tx).await?;
            }
            // SQLite: the INSERT is this transaction's first statement, a write.
            let inserted = insert_refund!(tx, new, now)?;
            match &inserted {
                Inserted::New(_) => tx.commit().await?,
                _ => tx.rollback().await?,
            }
            Ok(inserted)
        })
    }

    /// Ends (or otherwise updates) a subscription held by `owner` and records its refunds, in one
    /// transaction: the status change and the refunds happen together or not at all.
    pub async fn update_subscription_with_refunds(
        &self,
        id: i64,
        owner: &str,
        update: &SubscriptionUpdate,
        refunds: &[NewRefund],
        now: i64,
    ) -> StoreResult<Ended> {
        let lock = self.charge_lock_sql();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // The first statement is the subscription's UPDATE: a write (SQLite).
            if !apply_subscription_update!(tx, id, Some(owner), update, true, now)? {
                tx.rollback().await?;
                return Ok(Ended::LeaseLost);
            }
            let mut rows = Vec::new();
            for new in refunds {
                if let Some(sql) = lock {
                    sqlx::query(sql).bind(&new.order_id).execute(&mut *tx).await?;
                }
                match insert_refund!(tx, new, now)? {
                    Inserted::New(row) | Inserted::Existing(row) => rows.push(row),
                    Inserted::OverBalance { order_id, balance } => {
                        tx.rollback().await?;
                        return Ok(Ended::OverBalance { order_id, balance });
                    }
                    Inserted::NotRefundable => {
                        tx.rollback().await?;
                        return Ok(Ended::OverBalance { order_id: new.order_id.clone(), balance: 0 });
                    }
                }
            }
            tx.commit().await?;
            Ok(Ended::Done(rows))
        })
    }

    /// Records refunds Toss made that we did not (its console), DONE, each once per transaction
    /// key, with a `refund.succeeded` event for a subscription's charge. Returns those recorded now.
    pub async fn record_external_refunds(
        &self,
        order_id: &str,
        refunds: &[ExternalRefund],
        now: i64,
    ) -> StoreResult<Vec<RefundRow>> {
        let sql = format!(
            "INSERT INTO refunds (id, idempotency_key, order_id, payment_key, customer_key, \
             subscription_id, amount, reason, kind, status, requested_by, next_attempt_at, \
             transaction_key, canceled_at, created_at, updated_at) \
             SELECT $1, $2, c.order_id, c.payment_key, c.customer_key, c.subscription_id, $3, $4, \
               $9, $10, 'toss', $5, $6, $7, $5, $5 \
             FROM charges c WHERE c.order_id = $8 AND c.payment_key IS NOT NULL \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut recorded = Vec::new();
            for r in refunds {
                let id = format!(
                    "ext-{}",
                    &crate::ids::sha256_hex(format!("{order_id}:{}", r.transaction_key).as_bytes())[..32]
                );
                let row = sqlx::query_as::<_, RefundRow>(&sql)
                    .bind(&id)
                    .bind(refund_idempotency_key(&id))
                    .bind(r.amount)
                    .bind(r.reason.chars().take(200).collect::<String>())
                    .bind(now)
                    .bind(&r.transaction_key)
                    .bind(r.canceled_at.as_deref())
                    .bind(order_id)
                    .bind(RefundKind::External)
                    .bind(RefundStatus::Done)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = row {
                    if let Some(subscription_id) = row.subscription_id {
                        let detail = refund_event_detail(&row).to_string();
                        insert_event!(tx, subscription_id, "refund.succeeded", detail.as_str(), now)?;
                    }
                    recorded.push(row);
                }
            }
            tx.commit().await?;
            Ok(recorded)
        })
    }

    /// The refund with this id.
    pub async fn refund(&self, id: &str) -> StoreResult<Option<RefundRow>> {
        let sql = format!("SELECT {COLUMNS} FROM refunds WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// A charge's refunds, oldest first.
    pub async fn refunds_of_charge(&self, order_id: &str) -> StoreResult<Vec<RefundRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY created_at, id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&sql)
            .bind(order_id)
            .fetch_all(pool)
            .await)?)
    }

    /// Every refund of one Toss payment, oldest first.
    pub async fn refunds_of_payment(&self, payment_key: &str) -> StoreResult<Vec<RefundRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM refunds WHERE payment_key = $1 ORDER BY created_at, id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&sql)
            .bind(payment_key)
            .fetch_all(pool)
            .await)?)
    }

    /// Refunds, newest first, of one charge, one subscription, one customer, or all.
    pub async fn list_refunds(
        &self,
        order_id: Option<&str>,
        subscription_id: Option<i64>,
        customer_key: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<RefundRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM refunds WHERE ($1 IS NULL OR order_id = $1) \
             AND ($2 IS NULL OR subscription_id = $2) AND ($3 IS NULL OR customer_key = $3) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&sql)
            .bind(order_id)
            .bind(subscription_id)
            .bind(customer_key)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Takes the lease of one refund that is not final and due. `None`: another runner has it,
    /// or it is final.
    pub async fn claim_refund(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<RefundRow>> {
        let sql = format!(
            "UPDATE refunds SET lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE id = $4 AND status IN ('PENDING', 'UNKNOWN') AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Takes the leases of up to `limit` refunds that are not final and due (the reconciler).
    pub async fn claim_due_refunds(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<RefundRow>> {
        let skip_locked = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE refunds SET lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM refunds \
               WHERE status IN ('PENDING', 'UNKNOWN') AND next_attempt_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) \
               ORDER BY next_attempt_at LIMIT $4 {skip_locked}) \
             AND status IN ('PENDING', 'UNKNOWN') AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Extends a lease this runner holds (a slow Toss call). False if it was lost.
    pub async fn renew_refund_lease(
        &self,
        id: &str,
        owner: &str,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE refunds SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 \
             AND status IN ('PENDING', 'UNKNOWN')",
        )
        .bind(lease_until)
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Written before each cancel call: from now on the outcome is unknown until Toss says
    /// otherwise (a crash after this line leaves the refund for the reconciler's lookup).
    pub async fn mark_refund_sending(&self, id: &str, owner: &str, now: i64) -> StoreResult<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE refunds SET sends = sends + 1, status = 'UNKNOWN', updated_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND status IN ('PENDING', 'UNKNOWN')",
        )
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Stores what a call taught us and releases the lease; a final outcome of a subscription's
    /// refund records its event (`refund.succeeded`, `refund.failed`) in the same transaction.
    /// Returns the settled row; `None` if this runner no longer held the lease.
    pub async fn settle_refund(
        &self,
        id: &str,
        owner: &str,
        outcome: RefundOutcome<'_>,
        now: i64,
    ) -> StoreResult<Option<RefundRow>> {
        let sql = format!(
            "UPDATE refunds SET status = $1, transaction_key = COALESCE($2, transaction_key), \
             canceled_at = COALESCE($3, canceled_at), result_code = $4, result_message = $5, \
             next_attempt_at = $6, lease_owner = NULL, lease_until = NULL, updated_at = $7 \
             WHERE id = $8 AND lease_owner = $9 AND status IN ('PENDING', 'UNKNOWN') \
             RETURNING {COLUMNS}"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, RefundRow>(&sql)
                .bind(outcome.status)
                .bind(outcome.transaction_key)
                .bind(outcome.canceled_at)
                .bind(outcome.code)
                .bind(outcome.message)
                .bind(outcome.next_attempt_at)
                .bind(now)
                .bind(id)
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = &row {
                let kind = match row.status {
                    RefundStatus::Done => Some("refund.succeeded"),
                    RefundStatus::Failed => Some("refund.failed"),
                    _ => None,
                };
                if let (Some(kind), Some(subscription_id)) = (kind, row.subscription_id) {
                    let detail = refund_event_detail(row).to_string();
                    insert_event!(tx, subscription_id, kind, detail.as_str(), now)?;
                }
            }
            tx.commit().await?;
            Ok(row)
        })
    }

    /// Records one call made to Toss for a refund.
    pub async fn record_refund_call(
        &self,
        refund_id: &str,
        kind: RefundCallKind,
        http_status: Option<u16>,
        outcome: &str,
        code: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO refund_calls (refund_id, kind, http_status, outcome, code, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(refund_id)
        .bind(kind)
        .bind(http_status.map(i64::from))
        .bind(outcome)
        .bind(code)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The calls made for a refund, oldest first: (kind, HTTP status, outcome, code, at).
    pub async fn refund_calls(
        &self,
        refund_id: &str,
    ) -> StoreResult<Vec<(RefundCallKind, Option<i64>, String, Option<String>, i64)>> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT kind, http_status, outcome, code, created_at FROM refund_calls \
             WHERE refund_id = $1 ORDER BY id",
        )
        .bind(refund_id)
        .fetch_all(pool)
        .await)?)
    }

    /// Marks a period of a subscription as used (the service was supplied): idempotent. Returns
    /// when it was first marked.
    pub async fn mark_period_used(
        &self,
        subscription_id: i64,
        period_no: i64,
        event: (&str, &str),
        now: i64,
    ) -> StoreResult<i64> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO used_periods (subscription_id, period_no, marked_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (subscription_id, period_no) DO NOTHING",
            )
            .bind(subscription_id)
            .bind(period_no)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                insert_event!(tx, subscription_id, event.0, event.1, now)?;
            }
            let (at,): (i64,) = sqlx::query_as(
                "SELECT marked_at FROM used_periods WHERE subscription_id = $1 AND period_no = $2",
            )
            .bind(subscription_id)
            .bind(period_no)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(at)
        })
    }

    /// When a period was marked as used, if it was.
    pub async fn period_used_at(
        &self,
        subscription_id: i64,
        period_no: i64,
    ) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT marked_at FROM used_periods WHERE subscription_id = $1 AND period_no = $2",
        )
        .bind(subscription_id)
        .bind(period_no)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|r| r.0))
    }
}

/// The detail of a refund's event for the merchant (`refund.succeeded`, `refund.failed`).
pub fn refund_event_detail(row: &RefundRow) -> serde_json::Value {
    serde_json::json!({
        "refundId": row.id, "orderId": row.order_id, "amount": row.amount, "kind": row.kind,
        "status": row.status, "reason": row.reason, "code": row.result_code,
        "transactionKey": row.transaction_key, "canceledAt": row.canceled_at,
    })
}
