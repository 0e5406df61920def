//! The background work of every instance: at start-up and then every `RECONCILE_INTERVAL_MS`,
//! finish exchanges, charges and refunds that a crash, a restart or an unclear answer left unfinished
//! (claimed with leases, so any number of instances can run this at once), and sweep ended
//! sessions and the rate limiters' memory of old clients.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::charge::Charges;
use crate::exchange::Exchanges;
use crate::refund::Refunds;
use crate::routes::Limiter;
use crate::session::Sessions;

/// How many exchanges or charges one pass starts at most (bounded concurrency).
const BATCH: i64 = 32;

/// What the reconciler works on.
pub struct Work {
    /// Exchanges.
    pub exchanges: Exchanges,
    /// Charges.
    pub charges: Charges,
    /// Refunds.
    pub refunds: Refunds,
    /// Sessions to sweep.
    pub sessions: Sessions,
    /// Rate limiters to sweep.
    pub limiters: Vec<Limiter>,
}

/// Runs until `stop`.
pub fn spawn(work: Work, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut sweeps = tokio::time::interval(Duration::from_secs(60));
        loop {
            match work.exchanges.reconcile_once(BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(started = n, "reconciler: resumed pending exchanges"),
                Err(e) => tracing::warn!(error = %e, "reconciler: cannot read pending exchanges"),
            }
            match work.charges.reconcile_once(BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(started = n, "reconciler: resumed unfinished charges"),
                Err(e) => tracing::warn!(error = %e, "reconciler: cannot read unfinished charges"),
            }
            match work.refunds.reconcile_once(BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(started = n, "reconciler: resumed unfinished refunds"),
                Err(e) => tracing::warn!(error = %e, "reconciler: cannot read unfinished refunds"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
                _ = sweeps.tick() => {
                    if let Err(e) = work.sessions.sweep().await {
                        tracing::warn!(error = %e, "cannot delete ended sessions");
                    }
                    for limiter in &work.limiters {
                        limiter.limiter().retain_recent();
                    }
                }
            }
        }
    })
}
