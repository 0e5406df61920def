//! The webhook outbox: the merchant's registration, the events waiting for delivery and every
//! delivery attempt, in the simulator's SQLite file like the rest: a restart or a SIGKILL loses no
//! event (one that was mid-delivery is delivered again: webhooks are at-least-once).

use serde_json::Value;

use super::SimState;
use crate::clock::iso_kst;
use crate::ids;
use crate::webhooks::{event_body, Delivery, Next, OutboxEvent, Progress, Registration};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sim_webhook (
    id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, retry_delays TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sim_webhook_events (
    transmission_id TEXT PRIMARY KEY NOT NULL, event_type TEXT NOT NULL, body TEXT NOT NULL,
    url TEXT NOT NULL, retry_delays TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
    copies_left INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sim_webhook_events_due ON sim_webhook_events (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS sim_webhook_deliveries (
    id INTEGER PRIMARY KEY, transmission_id TEXT NOT NULL, event_type TEXT NOT NULL,
    retried_count INTEGER NOT NULL, status INTEGER, error TEXT, at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL);
";

/// An event whose next delivery is due.
#[derive(Debug, Clone)]
pub(crate) struct DueEvent {
    pub transmission_id: String,
    pub event_type: String,
    pub url: String,
    /// The exact bytes to POST (the same on every retry).
    pub body: String,
    pub retry_delays: [u64; 7],
    pub progress: Progress,
}

/// One delivery attempt's result, to record.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at: i64,
    pub duration_ms: i64,
}

/// Queues an event for the registered endpoint in the caller's transaction, so the event exists
/// exactly when what caused it was committed. Without a registration there is nothing to send:
/// `None`. `copies`: duplicates to deliver after the first accepted delivery.
pub(super) async fn enqueue_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    event_type: &str,
    data: &Value,
    now: i64,
    copies: u32,
) -> Result<Option<String>, sqlx::Error> {
    let registration: Option<(String, String)> =
        sqlx::query_as("SELECT url, retry_delays FROM sim_webhook WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
    let Some((url, retry_delays)) = registration else {
        return Ok(None);
    };
    // The format of Toss's transmission ids is not documented (inferred).
    let transmission_id = format!("wh_{}", ids::hex(&ids::random_bytes::<16>()));
    sqlx::query(
        "INSERT INTO sim_webhook_events (transmission_id, event_type, body, url, retry_delays, state, \
         copies_left, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $7)",
    )
    .bind(&transmission_id)
    .bind(event_type)
    .bind(event_body(event_type, now, data).to_string())
    .bind(url)
    .bind(retry_delays)
    .bind(i64::from(copies))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Some(transmission_id))
}

fn delays_of(text: &str) -> [u64; 7] {
    serde_json::from_str(text).unwrap_or(crate::webhooks::DEFAULT_RETRY_DELAYS_MS)
}

impl SimState {
    /// Registers (or replaces) the merchant's endpoint.
    pub(crate) async fn set_webhook(&self, registration: &Registration) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sim_webhook (id, url, retry_delays) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET url = excluded.url, retry_delays = excluded.retry_delays",
        )
        .bind(&registration.url)
        .bind(serde_json::to_string(&registration.retry_delays_ms).expect("numbers serialize"))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the registration; events already queued keep their address (inferred). Whether
    /// there was one.
    pub(crate) async fn clear_webhook(&self) -> Result<bool, sqlx::Error> {
        let removed = sqlx::query("DELETE FROM sim_webhook")
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected() > 0)
    }

    /// The registration, if any.
    pub(crate) async fn webhook(&self) -> Result<Option<Registration>, sqlx::Error> {
        let found: Option<(String, String)> =
            sqlx::query_as("SELECT url, retry_delays FROM sim_webhook WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.map(|(url, delays)| Registration {
            url,
            retry_delays_ms: delays_of(&delays),
        }))
    }

    /// Queues an arbitrary event (the control API's test fault); `None` without a registration.
    pub(crate) async fn send_event(
        &self,
        event_type: &str,
        data: &Value,
        now: i64,
        copies: u32,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let queued = enqueue_in(&mut tx, event_type, data, now, copies).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Makes an event due again now, with its transmission id (and a fresh retry schedule if
    /// this delivery fails: inferred). Whether the event exists.
    pub(crate) async fn redeliver(
        &self,
        transmission_id: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE sim_webhook_events SET state = 'PENDING', failures = 0, next_attempt_at = $1 \
             WHERE transmission_id = $2",
        )
        .bind(now)
        .bind(transmission_id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Events whose next delivery is due at `now`, oldest first.
    pub(crate) async fn due_events(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueEvent>, sqlx::Error> {
        type Row = (String, String, String, String, String, i64, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT transmission_id, event_type, url, body, retry_delays, attempts, failures, copies_left \
             FROM sim_webhook_events WHERE state = 'PENDING' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, created_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(transmission_id, event_type, url, body, delays, attempts, failures, copies)| {
                    DueEvent {
                        transmission_id,
                        event_type,
                        url,
                        body,
                        retry_delays: delays_of(&delays),
                        progress: Progress {
                            attempts: attempts as u32,
                            failures: failures as u32,
                            copies_left: copies as u32,
                        },
                    }
                },
            )
            .collect())
    }

    /// When the next pending delivery is due, if any.
    pub(crate) async fn next_due_at(&self) -> Result<Option<i64>, sqlx::Error> {
        let (at,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(next_attempt_at) FROM sim_webhook_events WHERE state = 'PENDING'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(at)
    }

    /// Records an attempt and moves the event on, in one transaction.
    pub(crate) async fn record_attempt(
        &self,
        event: &DueEvent,
        attempt: &Attempt,
        progress: Progress,
        next: Next,
    ) -> Result<(), sqlx::Error> {
        let (state, next_attempt_at) = match next {
            Next::Delivered => ("DELIVERED", None),
            Next::Duplicate => ("PENDING", Some(attempt.at)),
            Next::RetryAt(at) => ("PENDING", Some(at)),
            Next::GiveUp => ("GAVE_UP", None),
        };
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO sim_webhook_deliveries (transmission_id, event_type, retried_count, status, error, at, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&event.transmission_id)
        .bind(&event.event_type)
        .bind(i64::from(event.progress.attempts))
        .bind(attempt.status.map(i64::from))
        .bind(&attempt.error)
        .bind(attempt.at)
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sim_webhook_events SET state = $1, next_attempt_at = $2, attempts = $3, failures = $4, \
             copies_left = $5 WHERE transmission_id = $6",
        )
        .bind(state)
        .bind(next_attempt_at)
        .bind(i64::from(progress.attempts))
        .bind(i64::from(progress.failures))
        .bind(i64::from(progress.copies_left))
        .bind(&event.transmission_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Every delivery attempt, oldest first.
    pub(crate) async fn deliveries(&self) -> Result<Vec<Delivery>, sqlx::Error> {
        type Row = (String, String, i64, Option<i64>, Option<String>, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT transmission_id, event_type, retried_count, status, error, at, duration_ms \
             FROM sim_webhook_deliveries ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(transmission_id, event_type, retried, status, error, at, duration_ms)| Delivery {
                    transmission_id,
                    event_type,
                    retried_count: retried as u32,
                    status: status.map(|s| s as u16),
                    error,
                    at: iso_kst(at),
                    duration_ms,
                },
            )
            .collect())
    }

    /// Every event in the outbox, oldest first.
    pub(crate) async fn outbox_events(&self) -> Result<Vec<OutboxEvent>, sqlx::Error> {
        type Row = (String, String, String, i64, Option<i64>, String, String);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT transmission_id, event_type, state, attempts, next_attempt_at, url, body \
             FROM sim_webhook_events ORDER BY created_at, rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(transmission_id, event_type, state, attempts, next, url, body)| OutboxEvent {
                    transmission_id,
                    event_type,
                    state,
                    attempts: attempts as u32,
                    next_attempt_at: next.map(iso_kst),
                    url,
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                },
            )
            .collect())
    }
}
