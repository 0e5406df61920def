//! The write-ahead record of each authKey → billing-key exchange (`exchanges`), and the billing key
//! it yields, stored in the same transaction that makes the exchange final.

use sqlx::FromRow;

use super::{on_pool, Store, StoreResult};

/// Where an exchange stands (`exchange_status` on PostgreSQL, checked TEXT on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "exchange_status", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExchangeStatus {
    /// Written before Toss is called; being run, or waiting for the reconciler.
    Pending,
    /// Toss issued the billing key and it is stored.
    Registered,
    /// Toss refused the authKey for good (a code of the final allowlist).
    Refused,
    /// Toss's 15-day idempotency window passed without a final answer.
    Expired,
}

/// An exchange as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ExchangeRow {
    /// `ak-` + SHA-256 hex of the authKey; also the Idempotency-Key sent to Toss.
    pub idempotency_key: String,
    /// The customer the authKey was handed off for.
    pub customer_key: String,
    /// Where it stands.
    pub status: ExchangeStatus,
    /// When a runner last gave up on it, and why (for logs and operators).
    pub last_error: Option<String>,
    /// The HTTP status every replay gets, once final.
    pub answer_status: Option<i64>,
    /// The JSON body every replay gets, once final.
    pub answer_body: Option<String>,
    /// Who runs it now, if anybody.
    pub lease_owner: Option<String>,
    /// Until when (ms).
    pub lease_until: Option<i64>,
    /// Toss calls made so far.
    pub attempts: i64,
    /// Not before (ms).
    pub next_attempt_at: i64,
    /// After this (ms), Toss no longer replays the first answer.
    pub deadline_at: i64,
    /// The billing key it stored, once registered.
    pub billing_key_id: Option<i64>,
    /// The checkout terms it was started with (JSON), if any.
    pub checkout_terms: Option<String>,
}

/// What a runner holds after claiming an exchange: everything needed to call Toss.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimedExchange {
    /// The exchange.
    pub idempotency_key: String,
    /// Its customer.
    pub customer_key: String,
    /// The authKey, sealed (`crypto::Keyring`).
    pub sealed_auth_key: Option<Vec<u8>>,
    /// Toss calls made so far, this one included.
    pub attempts: i64,
    /// After this (ms), give up.
    pub deadline_at: i64,
    /// The hand-off request that wrote it (its `x-request-id`).
    pub request_id: Option<String>,
    /// The owner of the lapsed lease this claim replaced (`None`: the exchange was free).
    #[sqlx(default)]
    pub lease_taken_from: Option<String>,
}

/// What a claim returns.
const CLAIMED: &str =
    "idempotency_key, customer_key, sealed_auth_key, attempts, deadline_at, request_id, lease_taken_from";

/// A new pending exchange.
pub struct NewExchange<'a> {
    /// Its key.
    pub idempotency_key: &'a str,
    /// Its customer.
    pub customer_key: &'a str,
    /// The authKey, sealed.
    pub sealed_auth_key: &'a [u8],
    /// Now (ms).
    pub now: i64,
    /// Give up after (ms).
    pub deadline_at: i64,
    /// The verified checkout terms (JSON) the registration was started with, if any.
    pub checkout_terms: Option<&'a str>,
}

/// A billing key to store, sealed.
pub struct NewBillingKey<'a> {
    /// Encryption key id.
    pub key_id: &'a str,
    /// AES-GCM nonce.
    pub nonce: &'a [u8],
    /// AES-GCM ciphertext (the customerKey is the associated data).
    pub ciphertext: &'a [u8],
    /// SHA-256 hex of the billing key.
    pub key_hash: &'a str,
    /// Display fields (all optional).
    pub card_company: Option<&'a str>,
    /// Masked number.
    pub card_number: Option<&'a str>,
    /// 신용/체크…
    pub card_type: Option<&'a str>,
    /// 개인/법인.
    pub owner_type: Option<&'a str>,
}

const COLUMNS: &str = "idempotency_key, customer_key, status, last_error, answer_status, \
                       answer_body, lease_owner, lease_until, attempts, next_attempt_at, deadline_at, \
                       billing_key_id, checkout_terms";

impl Store {
    /// Writes a pending exchange unless one exists for this key; either way returns the row.
    pub async fn insert_exchange(&self, new: NewExchange<'_>) -> StoreResult<ExchangeRow> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO exchanges (idempotency_key, customer_key, status, sealed_auth_key, \
                 deadline_at, next_attempt_at, created_at, updated_at, checkout_terms, request_id) \
                 VALUES ($1, $2, 'PENDING', $3, $4, $5, $5, $5, $6, $7) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(new.idempotency_key)
            .bind(new.customer_key)
            .bind(new.sealed_auth_key)
            .bind(new.deadline_at)
            .bind(new.now)
            .bind(new.checkout_terms)
            .bind(crate::request_id::current())
            .execute(pool)
            .await?;
        });
        Ok(self
            .exchange(new.idempotency_key)
            .await?
            .expect("the row was just inserted or already there"))
    }

    /// The exchange with this key.
    pub async fn exchange(&self, idempotency_key: &str) -> StoreResult<Option<ExchangeRow>> {
        let sql = format!("SELECT {COLUMNS} FROM exchanges WHERE idempotency_key = $1");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, ExchangeRow>(&sql)
            .bind(idempotency_key)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Takes the lease of one pending exchange whose lease is free or lapsed. `None`: another
    /// runner holds it, or it is final.
    pub async fn claim_exchange(
        &self,
        idempotency_key: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<ClaimedExchange>> {
        // `lease_taken_from = lease_owner`: the value before this update (SQL reads the old row).
        let sql = format!(
            "UPDATE exchanges SET lease_taken_from = lease_owner, lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE idempotency_key = $4 AND status = 'PENDING' \
             AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING {CLAIMED}"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, ClaimedExchange>(&sql)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(idempotency_key)
        .fetch_optional(pool)
        .await)?,
        )
    }

    /// Takes the leases of up to `limit` pending exchanges that are due (the reconciler). On
    /// PostgreSQL, rows another instance is claiming right now are skipped, not waited for.
    pub async fn claim_due_exchanges(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedExchange>> {
        let skip_locked = match self.backend() {
            super::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            // SQLite runs one writer at a time: the UPDATE itself is the claim.
            super::Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE exchanges SET lease_taken_from = lease_owner, lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE idempotency_key IN (SELECT idempotency_key FROM exchanges \
               WHERE status = 'PENDING' AND next_attempt_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) \
               ORDER BY next_attempt_at LIMIT $4 {skip_locked}) \
             AND status = 'PENDING' AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING {CLAIMED}"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, ClaimedExchange>(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// Extends a lease this runner holds (a long Toss call). False if it was lost.
    pub async fn renew_exchange_lease(
        &self,
        idempotency_key: &str,
        owner: &str,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE exchanges SET lease_until = $1 \
             WHERE idempotency_key = $2 AND lease_owner = $3 AND status = 'PENDING'",
        )
        .bind(lease_until)
        .bind(idempotency_key)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Stores the billing key and makes the exchange `REGISTERED`, in one transaction; the sealed
    /// authKey is dropped (it can never be used again). Whoever finishes first wins: the billing
    /// key is stored once (`key_hash` is unique), the exchange turns final once. Returns the id of
    /// the billing key's row, and whether this call made the exchange final.
    pub async fn finish_exchange_registered(
        &self,
        idempotency_key: &str,
        customer_key: &str,
        key: NewBillingKey<'_>,
        answer_body: &str,
        now: i64,
    ) -> StoreResult<(i64, bool)> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO billing_keys (customer_key, key_id, nonce, ciphertext, key_hash, \
                 card_company, card_number, card_type, owner_type, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (key_hash) DO NOTHING",
            )
            .bind(customer_key)
            .bind(key.key_id)
            .bind(key.nonce)
            .bind(key.ciphertext)
            .bind(key.key_hash)
            .bind(key.card_company)
            .bind(key.card_number)
            .bind(key.card_type)
            .bind(key.owner_type)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let (billing_key_id,): (i64,) =
                sqlx::query_as("SELECT id FROM billing_keys WHERE key_hash = $1")
                    .bind(key.key_hash)
                    .fetch_one(&mut *tx)
                    .await?;
            // The checkout terms travel from the write-ahead record to the key, in the same
            // transaction: whoever applies the key starts the subscription on them.
            sqlx::query(
                "UPDATE billing_keys SET \
                 checkout_terms = COALESCE(checkout_terms, \
                   (SELECT checkout_terms FROM exchanges WHERE idempotency_key = $1)), \
                 request_id = COALESCE(request_id, \
                   (SELECT request_id FROM exchanges WHERE idempotency_key = $1)) \
                 WHERE id = $2",
            )
            .bind(idempotency_key)
            .bind(billing_key_id)
            .execute(&mut *tx)
            .await?;
            let made_final = sqlx::query(
                "UPDATE exchanges SET status = 'REGISTERED', sealed_auth_key = NULL, \
                 billing_key_id = $1, answer_status = 200, answer_body = $2, lease_owner = NULL, \
                 lease_until = NULL, last_error = NULL, updated_at = $3 \
                 WHERE idempotency_key = $4 AND status = 'PENDING'",
            )
            .bind(billing_key_id)
            .bind(answer_body)
            .bind(now)
            .bind(idempotency_key)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            tx.commit().await?;
            Ok((billing_key_id, made_final))
        })
    }

    /// Makes a pending exchange final without a billing key (`REFUSED` or `EXPIRED`), with the
    /// answer every replay gets; the sealed authKey is dropped. Whether this call made it final.
    pub async fn finish_exchange_without_key(
        &self,
        idempotency_key: &str,
        status: ExchangeStatus,
        answer_status: u16,
        answer_body: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE exchanges SET status = $1, sealed_auth_key = NULL, answer_status = $2, \
             answer_body = $3, lease_owner = NULL, lease_until = NULL, updated_at = $4 \
             WHERE idempotency_key = $5 AND status = 'PENDING'",
        )
        .bind(status)
        .bind(i64::from(answer_status))
        .bind(answer_body)
        .bind(now)
        .bind(idempotency_key)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Gives a pending exchange back (no final answer yet): the lease is released and the
    /// reconciler tries again from `next_attempt_at`. False if this runner no longer held it.
    pub async fn postpone_exchange(
        &self,
        idempotency_key: &str,
        owner: &str,
        next_attempt_at: i64,
        last_error: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE exchanges SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $1, \
             last_error = $2, updated_at = $3 \
             WHERE idempotency_key = $4 AND lease_owner = $5 AND status = 'PENDING'",
        )
        .bind(next_attempt_at)
        .bind(last_error)
        .bind(now)
        .bind(idempotency_key)
        .bind(owner)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Pending exchanges (for the reconciler's report and tests).
    pub async fn count_pending_exchanges(&self) -> StoreResult<i64> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM exchanges WHERE status = 'PENDING'",
        )
        .fetch_one(pool)
        .await)?;
        Ok(n)
    }
}
