//! Toss's webhooks as received (`toss_webhooks`, an inbox): written when they arrive, one row per
//! transmission id however often Toss repeats it, and processed later under a lease by the
//! background loop (`crate::toss_webhooks`).

use sqlx::FromRow;

use super::{on_pool, Backend, Store, StoreResult};

/// Where a received webhook stands (`toss_webhook_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize)]
#[sqlx(type_name = "toss_webhook_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InboxStatus {
    /// Not processed yet (or to be tried again at `next_attempt_at`).
    Pending,
    /// Acted on.
    Processed,
    /// Nothing to do: another event type, or a payment or billing key that is not ours.
    Ignored,
    /// Given up after repeated failures (logged; the operator can read it).
    Failed,
}

/// A received webhook.
#[derive(Debug, Clone, FromRow)]
pub struct InboxRow {
    /// Row id.
    pub id: i64,
    /// `tosspayments-webhook-transmission-id` (the same on every retry of one event).
    pub transmission_id: String,
    /// `eventType` of the body (`?` if it had none).
    pub event_type: String,
    /// The body as received.
    pub body: String,
    /// `tosspayments-webhook-transmission-retried-count` of the first delivery.
    pub retried_count: Option<i64>,
    /// How many times it was delivered.
    pub deliveries: i64,
    /// Where it stands.
    pub status: InboxStatus,
    /// Processing attempts.
    pub attempts: i64,
    /// What processing did (or why it failed).
    pub outcome: Option<String>,
    /// When it first arrived (ms).
    pub received_at: i64,
    /// When it was processed (ms).
    pub processed_at: Option<i64>,
}

const COLUMNS: &str = "id, transmission_id, event_type, body, retried_count, deliveries, status, \
                       attempts, outcome, received_at, processed_at";

impl Store {
    /// Queues a webhook; a repeat of a transmission id only counts the delivery. Returns whether
    /// it was new.
    pub async fn receive_webhook(
        &self,
        transmission_id: &str,
        event_type: &str,
        body: &str,
        retried_count: Option<i64>,
        now: i64,
    ) -> StoreResult<bool> {
        let (deliveries,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "INSERT INTO toss_webhooks (transmission_id, event_type, body, retried_count, status, \
             next_attempt_at, received_at) VALUES ($1, $2, $3, $4, 'PENDING', $5, $5) \
             ON CONFLICT (transmission_id) DO UPDATE SET deliveries = toss_webhooks.deliveries + 1 \
             RETURNING deliveries",
        )
        .bind(transmission_id)
        .bind(event_type)
        .bind(body)
        .bind(retried_count)
        .bind(now)
        .fetch_one(pool)
        .await)?;
        Ok(deliveries == 1)
    }

    /// Takes up to `limit` webhooks due for processing, until `lease_until`.
    pub async fn claim_webhooks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<InboxRow>> {
        let skip_locked = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE toss_webhooks SET lease_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM toss_webhooks WHERE status = 'PENDING' \
               AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
               ORDER BY id LIMIT $3 {skip_locked}) \
             AND status = 'PENDING' AND (lease_until IS NULL OR lease_until < $2) \
             RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, InboxRow>(&sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Records what processing did: final (`Processed`, `Ignored`, `Failed`), or `Pending` to be
    /// tried again at `next_attempt_at`.
    pub async fn finish_webhook(
        &self,
        id: i64,
        status: InboxStatus,
        outcome: &str,
        next_attempt_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE toss_webhooks SET status = $1, outcome = $2, next_attempt_at = $3, \
             lease_until = NULL, processed_at = CASE WHEN $1 = 'PENDING' THEN NULL ELSE $4 END \
             WHERE id = $5",
        )
        .bind(status)
        .bind(outcome)
        .bind(next_attempt_at)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Received webhooks, newest first (operators, tests).
    pub async fn webhooks(&self, limit: i64) -> StoreResult<Vec<InboxRow>> {
        let sql = format!("SELECT {COLUMNS} FROM toss_webhooks ORDER BY id DESC LIMIT $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, InboxRow>(&sql)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }
}
