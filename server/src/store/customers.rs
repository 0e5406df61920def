//! Customers (the customerKey Toss sees, the merchant's own user id when a login is wired in) and
//! their browser sessions.

use sqlx::FromRow;

use super::{on_pool, Store, StoreResult};

/// A customer.
#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    /// Row id.
    pub id: i64,
    /// What Toss sees.
    pub customer_key: String,
    /// The merchant's own user id, when known.
    pub external_user_id: Option<String>,
}

/// A live session, joined with its customer.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    /// SHA-256 hex of the cookie's token.
    pub token_hash: String,
    /// The customer.
    pub customer_key: String,
    /// When created (ms): the absolute lifetime counts from here.
    pub created_at: i64,
    /// When last used (ms): the idle lifetime counts from here.
    pub last_seen_at: i64,
    /// Hard end (ms).
    pub expires_at: i64,
}

impl Store {
    /// The customer with this customerKey.
    pub async fn customer(&self, customer_key: &str) -> StoreResult<Option<CustomerRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CustomerRow>(
            "SELECT id, customer_key, external_user_id FROM customers WHERE customer_key = $1",
        )
        .bind(customer_key)
        .fetch_optional(pool)
        .await)?)
    }

    /// The customer with this customerKey, created if new.
    pub async fn ensure_customer(&self, customer_key: &str, now: i64) -> StoreResult<CustomerRow> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO customers (customer_key, created_at) VALUES ($1, $2) \
             ON CONFLICT (customer_key) DO NOTHING",
        )
        .bind(customer_key)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(self
            .customer(customer_key)
            .await?
            .expect("the customer was just inserted or already there"))
    }

    /// The customer of the merchant's signed-in user `user_id`, created with `new_customer_key`
    /// the first time this user is seen.
    pub async fn customer_for_user(
        &self,
        user_id: &str,
        new_customer_key: &str,
        now: i64,
    ) -> StoreResult<CustomerRow> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO customers (customer_key, external_user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (external_user_id) DO NOTHING",
        )
        .bind(new_customer_key)
        .bind(user_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CustomerRow>(
            "SELECT id, customer_key, external_user_id FROM customers WHERE external_user_id = $1",
        )
        .bind(user_id)
        .fetch_one(pool)
        .await)?)
    }

    /// Records a new session of `customer_id`.
    pub async fn create_session(
        &self,
        token_hash: &str,
        customer_id: i64,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (token_hash, customer_id, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(token_hash)
        .bind(customer_id)
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The session with this token hash, if it has not expired: neither its hard end nor
    /// `idle_ms` since it was last used has passed.
    pub async fn live_session(
        &self,
        token_hash: &str,
        now: i64,
        idle_ms: i64,
    ) -> StoreResult<Option<SessionRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SessionRow>(
            "SELECT s.token_hash, c.customer_key, s.created_at, s.last_seen_at, s.expires_at \
             FROM sessions s JOIN customers c ON c.id = s.customer_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3",
        )
        .bind(token_hash)
        .bind(now)
        .bind(now - idle_ms)
        .fetch_optional(pool)
        .await)?)
    }

    /// Marks a session used now (the idle lifetime starts again).
    pub async fn touch_session(&self, token_hash: &str, now: i64) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2",
        )
        .bind(now)
        .bind(token_hash)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Claims a session's rotation: marks it rotated at `now` and ends it at `until` at the
    /// latest (a short grace, for requests already on their way with the old cookie). `true`:
    /// this call claimed it; `false`: another request rotated it first.
    pub async fn rotate_session(
        &self,
        token_hash: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<bool> {
        let claimed = on_pool!(self, pool => sqlx::query(
            "UPDATE sessions SET rotated_at = $1, \
             expires_at = CASE WHEN expires_at > $2 THEN $2 ELSE expires_at END \
             WHERE token_hash = $3 AND rotated_at IS NULL",
        )
        .bind(now)
        .bind(until)
        .bind(token_hash)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(claimed == 1)
    }

    /// Deletes sessions that ended before `now` or were idle longer than `idle_ms`.
    pub async fn delete_expired_sessions(&self, now: i64, idle_ms: i64) -> StoreResult<u64> {
        let done = on_pool!(self, pool => sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
        )
        .bind(now)
        .bind(now - idle_ms)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Rows in `customers` and `sessions` (tests: a flood of visitors creates none).
    pub async fn count_customers_and_sessions(&self) -> StoreResult<(i64, i64)> {
        let (customers,): (i64,) = on_pool!(self, pool =>
            sqlx::query_as("SELECT COUNT(*) FROM customers").fetch_one(pool).await)?;
        let (sessions,): (i64,) = on_pool!(self, pool =>
            sqlx::query_as("SELECT COUNT(*) FROM sessions").fetch_one(pool).await)?;
        Ok((customers, sessions))
    }
}
