//! The recurring work of every instance, beside the reconciler: apply newly registered cards to
//! subscriptions, charge the subscriptions that are due (when this instance runs the scheduler:
//! `SCHEDULER=on`, the default), and deliver their events. Leases make it safe for any number of
//! instances to run this at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::notices::{self, Webhook};
use crate::store::Store;
use crate::subscription::Subscriptions;

/// What the loop works on.
pub struct Work {
    /// Subscriptions.
    pub subscriptions: Subscriptions,
    /// The database.
    pub store: Store,
    /// The clock.
    pub clock: Clock,
    /// Where events go (`None`: the log).
    pub webhook: Option<Webhook>,
    /// Rung after each registration, so a new card is applied at once.
    pub registered: Arc<Notify>,
    /// Whether this instance charges due subscriptions.
    pub charge_due: bool,
    /// Where deliveries are counted.
    pub metrics: Metrics,
}

/// Runs until `stop`.
pub fn spawn(work: Work, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            if let Err(e) = work.subscriptions.apply_registrations().await {
                tracing::warn!(error = %e, "cannot apply new cards to subscriptions");
            }
            if work.charge_due {
                // Keep going while passes come back full: a backlog drains at full speed.
                loop {
                    match work.subscriptions.run_due().await {
                        Ok(n) if n > 0 && !stop.is_cancelled() => {
                            tracing::debug!(worked = n, "scheduler pass");
                            continue;
                        }
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "scheduler pass failed");
                            break;
                        }
                    }
                }
            }
            if let Err(e) = notices::deliver_due(
                &work.store,
                &work.clock,
                work.webhook.as_ref(),
                &http,
                &work.metrics,
            )
            .await
            {
                tracing::warn!(error = %e, "cannot deliver subscription events");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
                _ = work.registered.notified() => {}
            }
        }
    })
}
