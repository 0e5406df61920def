//! Keeping a lease while its work runs. The exchange, charge and refund runners hold a database lease
//! (`lease_owner`, `lease_until`) for the length of a Toss call; renewing it every third of its
//! length keeps a slow call from being taken over by another instance's reconciler, and a lost
//! lease (another instance has it now) ends the renewing at once.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::store::Store;

/// The row a runner holds a lease on.
#[derive(Debug, Clone)]
pub enum Leased {
    /// An exchange, by its Idempotency-Key.
    Exchange(String),
    /// A charge, by its orderId.
    Charge(String),
    /// A refund, by its id.
    Refund(String),
}

/// Renews `owner`'s lease on `what` every third of `lease` until it is lost, the database fails,
/// or the returned handle is aborted (the run is over).
pub fn renew_while_running(
    store: Store,
    clock: Clock,
    what: Leased,
    owner: String,
    lease: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = clock.now_ms() + lease.as_millis() as i64;
            let renewed = match &what {
                Leased::Exchange(key) => store.renew_exchange_lease(key, &owner, until).await,
                Leased::Charge(order_id) => store.renew_charge_lease(order_id, &owner, until).await,
                Leased::Refund(id) => store.renew_refund_lease(id, &owner, until).await,
            };
            if !matches!(renewed, Ok(true)) {
                return;
            }
        }
    })
}
