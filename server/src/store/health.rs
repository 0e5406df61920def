//! What operators read about the database as a whole: the gauges of `GET /metrics` (backlog,
//! lag, subscriptions by status, the outbox) and, in `mod.rs`, whether the schema is this
//! binary's. Each query is an aggregate over an index (`exchanges_due`, `charges_due`,
//! `subscriptions_due`, `subscription_events_undelivered`), except the count by status, which
//! reads the subscriptions once.

use super::{on_pool, Store, StoreResult};
use crate::billing::lifecycle::Status;
use crate::metrics::DatabaseGauges;

impl Store {
    /// The database gauges at `now` (ms).
    pub async fn database_gauges(&self, now: i64) -> StoreResult<DatabaseGauges> {
        let age = |oldest: Option<i64>| oldest.map_or(0, |at| (now - at).max(0));
        let (exchanges, oldest_exchange): (i64, Option<i64>) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM exchanges WHERE status = 'PENDING'",
        )
        .fetch_one(pool)
        .await)?;
        let (charges, oldest_charge): (i64, Option<i64>) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM charges WHERE status IN ('PENDING', 'UNKNOWN')",
        )
        .fetch_one(pool)
        .await)?;
        let (oldest_due,): (Option<i64>,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT MIN(next_charge_at) FROM subscriptions WHERE next_charge_at IS NOT NULL \
             AND next_charge_at <= $1 AND status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE')",
        )
        .bind(now)
        .fetch_one(pool)
        .await)?;
        let subscriptions: Vec<(Status, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT status, COUNT(*) FROM subscriptions GROUP BY status",
        )
        .fetch_all(pool)
        .await)?;
        let (undelivered, oldest_event): (i64, Option<i64>) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM subscription_events WHERE delivered_at IS NULL",
        )
        .fetch_one(pool)
        .await)?;
        Ok(DatabaseGauges {
            exchanges: (exchanges, age(oldest_exchange)),
            charges: (charges, age(oldest_charge)),
            scheduler_lag_ms: age(oldest_due),
            subscriptions,
            outbox: (undelivered, age(oldest_event)),
        })
    }
}
