//! Charges of stored billing keys (`charges`), one orderId and one Idempotency-Key each for ever,
//! and every call made to Toss for them (`charge_calls`).

use sqlx::FromRow;

use super::{on_pool, Backend, Store, StoreResult};

/// Where a charge stands (`charge_status` on PostgreSQL, checked TEXT on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "charge_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeStatus {
    /// Recorded, not yet sent (or being sent for the first time).
    Pending,
    /// Sent, outcome unclear (timeout, 5xx, connection lost, `DUPLICATED_ORDER_ID`): reconciled
    /// with Toss's order lookup before anything new is sent.
    Unknown,
    /// Approved by Toss.
    Done,
    /// Refused by Toss; nothing was charged.
    Failed,
}

impl ChargeStatus {
    /// Whether nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(self, ChargeStatus::Done | ChargeStatus::Failed)
    }
}

/// What a subscription's charge pays for (`charge_purpose` on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "charge_purpose", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargePurpose {
    /// A billing period (also every charge that is not a subscription's).
    Period,
    /// The rest of a period after an upgrade, pro rata.
    Proration,
}

/// Which Toss API a charge call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "charge_call_kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeCallKind {
    /// `POST /v1/billing/{billingKey}`.
    Charge,
    /// `GET /v1/payments/orders/{orderId}`.
    Lookup,
}

/// A charge as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ChargeRow {
    /// Unique per charge, for ever.
    pub order_id: String,
    /// Sent with every call for this charge.
    pub idempotency_key: String,
    /// The customer charged.
    pub customer_key: String,
    /// The billing key charged.
    pub billing_key_id: i64,
    /// KRW.
    pub amount: i64,
    /// What the customer sees.
    pub order_name: String,
    /// Where it stands.
    pub status: ChargeStatus,
    /// Calls that may have reached Toss.
    pub sends: i64,
    /// Until when a runner holds it (ms).
    pub lease_until: Option<i64>,
    /// Not looked at again before (ms).
    pub next_attempt_at: i64,
    /// Toss's payment key, once approved.
    pub payment_key: Option<String>,
    /// Toss's approval time, once approved.
    pub approved_at: Option<String>,
    /// Toss's code of a refusal, or why the outcome is unknown.
    pub result_code: Option<String>,
    /// Its message.
    pub result_message: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// The card sales slip (Toss's `receipt.url`), once approved.
    pub receipt_url: Option<String>,
    /// The card approval number (`card.approveNo`), once approved.
    pub approve_no: Option<String>,
    /// The subscription it belongs to.
    pub subscription_id: Option<i64>,
    /// Its period.
    pub period_no: Option<i64>,
    /// What it pays for.
    pub purpose: ChargePurpose,
    /// The request that recorded it (its `x-request-id`), if a request did.
    pub request_id: Option<String>,
    /// The owner of the lapsed lease a claim replaced (`None`: the charge was free). Only claims
    /// return it.
    #[sqlx(default)]
    pub lease_taken_from: Option<String>,
}

/// A new charge.
pub struct NewCharge<'a> {
    /// Unique, 6–64 of `A-Z a-z 0-9 - _`.
    pub order_id: &'a str,
    /// Unique.
    pub idempotency_key: &'a str,
    /// Customer.
    pub customer_key: &'a str,
    /// Billing key row.
    pub billing_key_id: i64,
    /// KRW.
    pub amount: i64,
    /// ≤ 100 characters.
    pub order_name: &'a str,
    /// For a subscription: (subscription id, period number, attempt number), unique per purpose.
    pub subscription: Option<(i64, i64, i64)>,
    /// What it pays for.
    pub purpose: ChargePurpose,
    /// Now (ms).
    pub now: i64,
}

/// A final or intermediate outcome to store.
pub struct ChargeOutcome<'a> {
    /// New status.
    pub status: ChargeStatus,
    /// Payment key.
    pub payment_key: Option<&'a str>,
    /// Approval time.
    pub approved_at: Option<&'a str>,
    /// The receipt's URL.
    pub receipt_url: Option<&'a str>,
    /// The approval number.
    pub approve_no: Option<&'a str>,
    /// Code.
    pub code: Option<&'a str>,
    /// Message.
    pub message: Option<&'a str>,
    /// When to look again, if not final (ms).
    pub next_attempt_at: i64,
}

const COLUMNS: &str = "order_id, idempotency_key, customer_key, billing_key_id, amount, order_name, \
                       status, sends, lease_until, next_attempt_at, payment_key, approved_at, result_code, result_message, \
                       created_at, updated_at, receipt_url, approve_no, subscription_id, period_no, purpose, request_id";

impl Store {
    /// Records a new charge unless the orderId exists; either way returns the row (the caller
    /// compares it with what was asked).
    pub async fn insert_charge(&self, new: NewCharge<'_>) -> StoreResult<ChargeRow> {
        let order_id = new.order_id;
        if let Some(inserted) = self.insert_charge_row(new, None).await? {
            return Ok(inserted);
        }
        Ok(self
            .charge(order_id)
            .await?
            .expect("an orderId that conflicted is there"))
    }

    /// Records a new charge already leased to `owner` (the scheduler runs it in the same task).
    /// `None` if the orderId exists.
    pub async fn insert_charge_leased(
        &self,
        new: NewCharge<'_>,
        owner: &str,
        lease_until: i64,
    ) -> StoreResult<Option<ChargeRow>> {
        self.insert_charge_row(new, Some((owner, lease_until)))
            .await
    }

    /// The one INSERT of a charge, leased or not: the new row, or `None` if the orderId exists.
    async fn insert_charge_row(
        &self,
        new: NewCharge<'_>,
        lease: Option<(&str, i64)>,
    ) -> StoreResult<Option<ChargeRow>> {
        let sql = format!(
            "INSERT INTO charges (order_id, idempotency_key, customer_key, billing_key_id, amount, \
             order_name, status, next_attempt_at, created_at, updated_at, subscription_id, \
             period_no, attempt_no, lease_owner, lease_until, purpose, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $7, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (order_id) DO NOTHING RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
            .bind(new.order_id)
            .bind(new.idempotency_key)
            .bind(new.customer_key)
            .bind(new.billing_key_id)
            .bind(new.amount)
            .bind(new.order_name)
            .bind(new.now)
            .bind(new.subscription.map(|s| s.0))
            .bind(new.subscription.map(|s| s.1))
            .bind(new.subscription.map(|s| s.2))
            .bind(lease.map(|l| l.0))
            .bind(lease.map(|l| l.1))
            .bind(new.purpose)
            .bind(crate::request_id::current())
            .fetch_optional(pool)
            .await)?)
    }

    /// Extends a lease this runner holds (a slow Toss call). False if it was lost.
    pub async fn renew_charge_lease(
        &self,
        order_id: &str,
        owner: &str,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE charges SET lease_until = $1 WHERE order_id = $2 AND lease_owner = $3 \
             AND status IN ('PENDING', 'UNKNOWN')",
        )
        .bind(lease_until)
        .bind(order_id)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// The charge with this orderId.
    pub async fn charge(&self, order_id: &str) -> StoreResult<Option<ChargeRow>> {
        let sql = format!("SELECT {COLUMNS} FROM charges WHERE order_id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
            .bind(order_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Takes the lease of one charge that is not final and not leased. `None`: another runner has
    /// it, or it is final.
    pub async fn claim_charge(
        &self,
        order_id: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<ChargeRow>> {
        let sql = format!(
            "UPDATE charges SET lease_taken_from = lease_owner, lease_owner = $1, lease_until = $2, \
             updated_at = $3 \
             WHERE order_id = $4 AND status IN ('PENDING', 'UNKNOWN') AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) RETURNING {COLUMNS}, lease_taken_from"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(order_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Takes the leases of up to `limit` charges that are not final and due (the reconciler).
    pub async fn claim_due_charges(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ChargeRow>> {
        let skip_locked = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE charges SET lease_taken_from = lease_owner, lease_owner = $1, lease_until = $2, \
             updated_at = $3 \
             WHERE order_id IN (SELECT order_id FROM charges \
               WHERE status IN ('PENDING', 'UNKNOWN') AND next_attempt_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) \
               ORDER BY next_attempt_at LIMIT $4 {skip_locked}) \
             AND status IN ('PENDING', 'UNKNOWN') AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING {COLUMNS}, lease_taken_from"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Written before each call that may reach Toss: from now on the outcome is unknown until
    /// Toss says otherwise (a crash after this line leaves the charge for the reconciler's lookup).
    pub async fn mark_charge_sending(
        &self,
        order_id: &str,
        owner: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE charges SET sends = sends + 1, status = 'UNKNOWN', updated_at = $1 \
             WHERE order_id = $2 AND lease_owner = $3 AND status IN ('PENDING', 'UNKNOWN')",
        )
        .bind(now)
        .bind(order_id)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Stores what a call taught us and releases the lease. A final outcome is stored once.
    /// Returns the settled row; `None` if this runner no longer held the lease.
    pub async fn settle_charge(
        &self,
        order_id: &str,
        owner: &str,
        outcome: ChargeOutcome<'_>,
        now: i64,
    ) -> StoreResult<Option<ChargeRow>> {
        let sql = format!(
            "UPDATE charges SET status = $1, payment_key = COALESCE($2, payment_key), \
             approved_at = COALESCE($3, approved_at), result_code = $4, result_message = $5, \
             next_attempt_at = $6, lease_owner = NULL, lease_until = NULL, updated_at = $7, \
             receipt_url = COALESCE($10, receipt_url), approve_no = COALESCE($11, approve_no) \
             WHERE order_id = $8 AND lease_owner = $9 AND status IN ('PENDING', 'UNKNOWN') \
             RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
        .bind(outcome.status)
        .bind(outcome.payment_key)
        .bind(outcome.approved_at)
        .bind(outcome.code)
        .bind(outcome.message)
        .bind(outcome.next_attempt_at)
        .bind(now)
        .bind(order_id)
        .bind(owner)
        .bind(outcome.receipt_url)
        .bind(outcome.approve_no)
        .fetch_optional(pool)
        .await)?)
    }

    /// The charge Toss knows by this payment key, if it is ours.
    pub async fn charge_by_payment_key(&self, payment_key: &str) -> StoreResult<Option<ChargeRow>> {
        let sql = format!("SELECT {COLUMNS} FROM charges WHERE payment_key = $1 LIMIT 1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
            .bind(payment_key)
            .fetch_optional(pool)
            .await)?)
    }

    /// Every charge of a subscription (periods and prorations), oldest first: the customer's
    /// payment history with receipts.
    pub async fn subscription_charges(&self, subscription_id: i64) -> StoreResult<Vec<ChargeRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM charges WHERE subscription_id = $1 ORDER BY created_at, order_id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
            .bind(subscription_id)
            .fetch_all(pool)
            .await)?)
    }

    /// Every charge of a customer, newest first.
    pub async fn customer_charges(
        &self,
        customer_key: &str,
        limit: i64,
    ) -> StoreResult<Vec<ChargeRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM charges WHERE customer_key = $1 ORDER BY created_at DESC, order_id DESC LIMIT $2"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChargeRow>(&sql)
            .bind(customer_key)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Records one call made to Toss for a charge.
    pub async fn record_charge_call(
        &self,
        order_id: &str,
        kind: ChargeCallKind,
        http_status: Option<u16>,
        outcome: &str,
        code: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO charge_calls (order_id, kind, http_status, outcome, code, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(order_id)
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

    /// The calls made for a charge, oldest first: (kind, HTTP status, outcome, code).
    pub async fn charge_calls(
        &self,
        order_id: &str,
    ) -> StoreResult<Vec<(ChargeCallKind, Option<i64>, String, Option<String>)>> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT kind, http_status, outcome, code FROM charge_calls WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(pool)
        .await)?)
    }
}

impl Store {
    /// Releases every lease held by `owner`: a restarted instance (same `INSTANCE_ID`) takes back
    /// the work its previous run left mid-way at once, instead of waiting for the leases to lapse.
    pub async fn release_leases_of(&self, owner: &str) -> StoreResult<u64> {
        let mut released = 0;
        for table in ["exchanges", "charges", "refunds"] {
            let sql = format!(
                "UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1"
            );
            released += on_pool!(self, pool => sqlx::query(&sql).bind(owner).execute(pool).await.map(|r| r.rows_affected()))?;
        }
        Ok(released)
    }
}
