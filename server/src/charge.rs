//! Charging a stored billing key, exactly once per orderId:
//!
//! - the orderId (and a fresh Idempotency-Key, kept for its retries) is recorded before Toss is
//!   called, and every call that may reach Toss is counted before it is made (`sends`);
//! - the call and its bookkeeping run in a task that outlives the request, under a lease;
//! - an outcome that is unclear (timeout, 5xx, lost connection, `DUPLICATED_ORDER_ID`) is
//!   reconciled with Toss's order lookup before anything is sent again, and a resend reuses the
//!   orderId and Idempotency-Key: Toss refuses a second payment for one orderId.
//!
//! A new orderId is a new charge; only the caller decides that (an operator, or the subscription
//! scheduler after a final decline).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, Millis};
use crate::crypto::Keyring;
use crate::ids;
use crate::lease::{self, Leased};
use crate::metrics::{ChargeKind, ChargeOutcome as Outcome, LeasedWork, Metrics};
use crate::store::charges::{
    ChargeCallKind, ChargeOutcome, ChargePurpose, ChargeRow, ChargeStatus, NewCharge,
};
use crate::store::{Store, StoreError};
use crate::toss::{codes, TossClient, TossError};

/// What to charge.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    /// Unique per charge, for ever (6–64 of `A-Z a-z 0-9 - _`).
    pub order_id: String,
    /// Whose latest billing key.
    pub customer_key: String,
    /// KRW.
    pub amount: i64,
    /// What the customer sees.
    pub order_name: String,
    /// Charge this billing key rather than the customer's latest.
    pub billing_key_id: Option<i64>,
    /// A subscription's attempt: (subscription id, period number, attempt number).
    pub subscription: Option<(i64, i64, i64)>,
    /// What it pays for.
    pub purpose: ChargePurpose,
}

/// Why a charge was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// The customer has no billing key.
    #[error("no card is registered for this customer")]
    NoBillingKey,
    /// The orderId was used for a different charge.
    #[error("this orderId belongs to a different charge")]
    OrderIdConflict,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How charges are run.
#[derive(Debug, Clone)]
pub struct ChargeSettings {
    /// This instance's name in leases.
    pub owner: String,
    /// A lease without renewal (longer than a Toss call and its quick retries).
    pub lease: Duration,
    /// How long a request waits for the outcome.
    pub wait: Duration,
    /// Retries within one run (same Idempotency-Key).
    pub quick_retries: u32,
    /// First pause between them.
    pub backoff: Duration,
}

struct Inner {
    store: Store,
    toss: TossClient,
    keyring: Arc<Keyring>,
    clock: Clock,
    settings: ChargeSettings,
    tasks: TaskTracker,
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    metrics: Metrics,
}

/// The charge service. Cheap to clone.
#[derive(Clone)]
pub struct Charges(Arc<Inner>);

/// Backoff of the reconciler's next look at an unclear charge: 1 s, doubling, at most 5 min.
fn backoff_after(sends: i64) -> Millis {
    (1_000i64 << (sends.clamp(1, 10) - 1)).min(300_000)
}

/// What Toss's Payment object says about our charge of `amount`.
fn from_payment(payment: &Value, amount: i64) -> Settled {
    let text = |name: &str| payment.get(name).and_then(Value::as_str).map(str::to_owned);
    if payment.get("totalAmount").and_then(Value::as_i64) != Some(amount) {
        // Toss has a payment with this orderId, but not ours: this charge never happened.
        return Settled::Failed {
            code: "ORDER_ID_TAKEN".into(),
            message: "Toss holds another payment with this orderId".into(),
        };
    }
    match text("status").as_deref() {
        // Approved (possibly cancelled since, which is a refund's business, not a new charge).
        Some("DONE") | Some("CANCELED") | Some("PARTIAL_CANCELED") => Settled::Done {
            payment_key: text("paymentKey"),
            approved_at: text("approvedAt"),
            receipt_url: payment
                .pointer("/receipt/url")
                .and_then(Value::as_str)
                .map(str::to_owned),
            approve_no: payment
                .pointer("/card/approveNo")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        Some("ABORTED") | Some("EXPIRED") => Settled::Failed {
            code: format!("TOSS_STATUS_{}", text("status").unwrap_or_default()),
            message: "Toss reports the payment as not approved".into(),
        },
        other => Settled::Unclear {
            code: format!("TOSS_STATUS_{}", other.unwrap_or("MISSING")),
        },
    }
}

enum Settled {
    Done {
        payment_key: Option<String>,
        approved_at: Option<String>,
        receipt_url: Option<String>,
        approve_no: Option<String>,
    },
    Failed {
        code: String,
        message: String,
    },
    Unclear {
        code: String,
    },
}

impl Charges {
    /// The service.
    pub fn new(
        store: Store,
        toss: TossClient,
        keyring: Arc<Keyring>,
        clock: Clock,
        settings: ChargeSettings,
        tasks: TaskTracker,
        metrics: Metrics,
    ) -> Charges {
        Charges(Arc::new(Inner {
            store,
            toss,
            keyring,
            clock,
            settings,
            tasks,
            waiters: Mutex::new(HashMap::new()),
            metrics,
        }))
    }

    /// Records the charge (or finds it: a retry with the same orderId is the same charge), runs
    /// it, and waits a bounded time for the outcome. Returns the charge as it stands then.
    pub async fn submit(&self, request: &ChargeRequest) -> Result<ChargeRow, ChargeError> {
        if let Some(existing) = self.0.store.charge(&request.order_id).await? {
            return self.same_or_conflict(existing, request).await;
        }
        let billing_key = match request.billing_key_id {
            Some(id) => self.0.store.billing_key(id).await?,
            None => {
                self.0
                    .store
                    .latest_billing_key(&request.customer_key)
                    .await?
            }
        }
        .filter(|key| key.customer_key == request.customer_key && key.is_usable())
        .ok_or(ChargeError::NoBillingKey)?;
        let row = self
            .0
            .store
            .insert_charge(NewCharge {
                order_id: &request.order_id,
                idempotency_key: &ids::charge_idempotency_key(),
                customer_key: &request.customer_key,
                billing_key_id: billing_key.id,
                amount: request.amount,
                order_name: &request.order_name,
                subscription: request.subscription,
                purpose: request.purpose,
                now: self.0.clock.now_ms(),
            })
            .await?;
        self.same_or_conflict(row, request).await
    }

    async fn same_or_conflict(
        &self,
        row: ChargeRow,
        request: &ChargeRequest,
    ) -> Result<ChargeRow, ChargeError> {
        if row.customer_key != request.customer_key
            || row.amount != request.amount
            || row.order_name != request.order_name
        {
            return Err(ChargeError::OrderIdConflict);
        }
        if row.status.is_final() {
            return Ok(row);
        }
        Ok(self.wait(&row.order_id).await?)
    }

    /// The charge with this orderId, as stored.
    pub async fn get(&self, order_id: &str) -> Result<Option<ChargeRow>, StoreError> {
        self.0.store.charge(order_id).await
    }

    /// Runs a recorded charge now if nobody else is (the scheduler's entry point), without
    /// waiting for the outcome.
    pub async fn start(&self, order_id: &str) -> Result<bool, StoreError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        match self
            .0
            .store
            .claim_charge(order_id, &self.0.settings.owner, now, lease_until)
            .await?
        {
            Some(row) => {
                self.spawn_run(row);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn wait(&self, order_id: &str) -> Result<ChargeRow, StoreError> {
        let until = tokio::time::Instant::now() + self.0.settings.wait;
        let mut poll = Duration::from_millis(50);
        loop {
            let notify = self.waiter(order_id);
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let row = self
                .0
                .store
                .charge(order_id)
                .await?
                .expect("charges are never deleted");
            let now = self.0.clock.now_ms();
            if row.status.is_final() || tokio::time::Instant::now() >= until {
                return Ok(row);
            }
            let free = row.lease_until.is_none_or(|lease| lease < now);
            if free && row.next_attempt_at <= now {
                self.start(order_id).await?;
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let _ = tokio::time::timeout(poll.min(left), notified).await;
            poll = (poll * 2).min(Duration::from_millis(250));
        }
    }

    fn waiter(&self, order_id: &str) -> Arc<Notify> {
        let mut map = self.0.waiters.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(order_id.to_owned()).or_default().clone()
    }

    fn wake(&self, order_id: &str) {
        let notify = self
            .0
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(order_id);
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    /// The reconciler's turn: claims charges that are not final and due, and runs them.
    pub async fn reconcile_once(&self, batch: i64) -> Result<usize, StoreError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        let claimed = self
            .0
            .store
            .claim_due_charges(&self.0.settings.owner, now, lease_until, batch)
            .await?;
        let count = claimed.len();
        for row in claimed {
            self.spawn_run(row);
        }
        Ok(count)
    }

    /// Runs a claimed charge in a task of its own ([`Charges::run`]).
    fn spawn_run(&self, row: ChargeRow) {
        if row.lease_taken_from.is_some() {
            self.0.metrics.lease_taken_over(LeasedWork::Charge);
        }
        let this = self.clone();
        self.0.tasks.spawn(async move {
            this.run(row).await;
        });
    }

    /// Records a charge and runs it in the calling task, leased to this instance from the start:
    /// the scheduler's path (itself background work under a lease, so nothing waits on a
    /// request). A crash leaves the charge leased; the lease lapses and the reconciler looks it
    /// up. Returns the charge as it ends (final, or unknown and left to the reconciler).
    pub async fn charge_now(
        &self,
        request: &ChargeRequest,
        billing_key_id: i64,
    ) -> Result<ChargeRow, ChargeError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        let inserted = self
            .0
            .store
            .insert_charge_leased(
                NewCharge {
                    order_id: &request.order_id,
                    idempotency_key: &ids::charge_idempotency_key(),
                    customer_key: &request.customer_key,
                    billing_key_id,
                    amount: request.amount,
                    order_name: &request.order_name,
                    subscription: request.subscription,
                    purpose: request.purpose,
                    now,
                },
                &self.0.settings.owner,
                lease_until,
            )
            .await?;
        let Some(row) = inserted else {
            // Recorded before (a crash after the insert): the usual path, which waits for it.
            let existing = self
                .0
                .store
                .charge(&request.order_id)
                .await?
                .ok_or(ChargeError::NoBillingKey)?;
            return self.same_or_conflict(existing, request).await;
        };
        // The settled row as the store returned it; read again only when this run did not
        // settle it (the lease was lost, or the bookkeeping failed).
        if let Some(settled) = self.clone().run(row).await {
            return Ok(settled);
        }
        Ok(self
            .0
            .store
            .charge(&request.order_id)
            .await?
            .expect("charges are never deleted"))
    }

    /// One run of a claimed charge, its lease renewed while it runs, in a span (and as the
    /// request) of the request that recorded it, whoever started the run. Returns the row as this
    /// run settled it, if it did.
    async fn run(self, row: ChargeRow) -> Option<ChargeRow> {
        let span = tracing::info_span!(
            parent: None,
            "charge",
            order_id = row.order_id.as_str(),
            request_id = tracing::field::Empty,
        );
        crate::request_id::on_behalf_of(row.request_id.clone(), span, self.run_leased(row)).await
    }

    async fn run_leased(self, row: ChargeRow) -> Option<ChargeRow> {
        let order_id = row.order_id.clone();
        let heartbeat = lease::renew_while_running(
            self.0.store.clone(),
            self.0.clock.clone(),
            Leased::Charge(order_id.clone()),
            self.0.settings.owner.clone(),
            self.0.settings.lease,
        );
        let settled = match self.run_inner(&row).await {
            Ok(settled) => settled,
            Err(e) => {
                tracing::error!(order_id, error = %e, "charge bookkeeping failed; the lease will lapse and the charge be looked up again");
                None
            }
        };
        heartbeat.abort();
        self.wake(&order_id);
        settled
    }

    async fn run_inner(&self, row: &ChargeRow) -> Result<Option<ChargeRow>, StoreError> {
        let store = &self.0.store;
        let owner = &self.0.settings.owner;
        // Sent before (by us, or by a run that crashed): ask Toss what happened first.
        if row.sends > 0 {
            let lookup = self.0.toss.lookup_order(&row.order_id).await;
            let now = self.0.clock.now_ms();
            match lookup {
                Ok(Some(payment)) => {
                    store
                        .record_charge_call(
                            &row.order_id,
                            ChargeCallKind::Lookup,
                            Some(200),
                            "FOUND",
                            None,
                            now,
                        )
                        .await?;
                    return self.settle(row, from_payment(&payment, row.amount)).await;
                }
                Ok(None) => {
                    store
                        .record_charge_call(
                            &row.order_id,
                            ChargeCallKind::Lookup,
                            Some(404),
                            "NOT_FOUND",
                            Some("NOT_FOUND_PAYMENT"),
                            now,
                        )
                        .await?;
                    // Toss has no payment for this orderId: sending it again (same orderId,
                    // same Idempotency-Key) cannot charge twice.
                }
                Err(e) => {
                    store
                        .record_charge_call(
                            &row.order_id,
                            ChargeCallKind::Lookup,
                            e.status(),
                            "UNCLEAR",
                            Some(&e.code()),
                            now,
                        )
                        .await?;
                    return self.settle(row, Settled::Unclear { code: e.code() }).await;
                }
            }
        }
        let Some(key_row) = store.billing_key(row.billing_key_id).await? else {
            return self
                .settle(
                    row,
                    Settled::Failed {
                        code: "NO_BILLING_KEY".into(),
                        message: "the billing key of this charge is gone".into(),
                    },
                )
                .await;
        };
        if !key_row.is_usable() {
            // Deleted at Toss (BILLING_DELETED) or removed by its customer: never charged again.
            return self
                .settle(
                    row,
                    Settled::Failed {
                        code: "BILLING_KEY_DELETED".into(),
                        message: "the card was deleted; nothing was sent to Toss".into(),
                    },
                )
                .await;
        }
        let billing_key = self
            .0
            .keyring
            .open(
                key_row.key_id.as_deref(),
                &key_row.nonce,
                &key_row.ciphertext,
                key_row.customer_key.as_bytes(),
            )
            .and_then(|b| String::from_utf8(b).ok());
        let Some(billing_key) = billing_key else {
            tracing::error!(
                order_id = row.order_id,
                "the billing key does not open: is its encryption key still in BILLING_KEY_ENCRYPTION_KEY?"
            );
            let now = self.0.clock.now_ms();
            store
                .settle_charge(
                    &row.order_id,
                    owner,
                    ChargeOutcome {
                        status: row.status,
                        payment_key: None,
                        approved_at: None,
                        receipt_url: None,
                        approve_no: None,
                        code: Some("BILLING_KEY_UNREADABLE"),
                        message: Some("the encryption key of this billing key is missing"),
                        next_attempt_at: now + 3_600_000,
                    },
                    now,
                )
                .await?;
            return Ok(None);
        };
        let body = json!({
            "customerKey": row.customer_key,
            "amount": row.amount,
            "orderId": row.order_id,
            "orderName": row.order_name,
        });
        let mut pause = self.0.settings.backoff;
        let mut tries_left = self.0.settings.quick_retries;
        loop {
            let now = self.0.clock.now_ms();
            if !store.mark_charge_sending(&row.order_id, owner, now).await? {
                return Ok(None); // the lease was lost: another runner has it
            }
            let result = self
                .0
                .toss
                .charge(&billing_key, &body, &row.idempotency_key)
                .await;
            let now = self.0.clock.now_ms();
            let (status, outcome, code) = match &result {
                Ok(_) => (Some(200), "ANSWERED", None),
                Err(TossError::Refused { status, code, .. }) => {
                    (Some(*status), "REFUSED", Some(code.clone()))
                }
                Err(e) => (e.status(), "UNCLEAR", Some(e.code())),
            };
            store
                .record_charge_call(
                    &row.order_id,
                    ChargeCallKind::Charge,
                    status,
                    outcome,
                    code.as_deref(),
                    now,
                )
                .await?;
            match result {
                Ok(payment) => return self.settle(row, from_payment(&payment, row.amount)).await,
                Err(TossError::Refused { code, .. }) if code == "DUPLICATED_ORDER_ID" => {
                    // A payment with this orderId exists: most likely our own earlier send.
                    return self.settle(row, Settled::Unclear { code }).await;
                }
                Err(TossError::Refused { code, message, .. }) => {
                    return self.settle(row, Settled::Failed { code, message }).await;
                }
                Err(TossError::Unreachable | TossError::Busy { .. }) if tries_left > 0 => {
                    tries_left -= 1;
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(e) => return self.settle(row, Settled::Unclear { code: e.code() }).await,
            }
        }
    }

    async fn settle(
        &self,
        row: &ChargeRow,
        settled: Settled,
    ) -> Result<Option<ChargeRow>, StoreError> {
        let now = self.0.clock.now_ms();
        let mut receipt = (None, None);
        let (status, payment_key, approved_at, code, message, next_attempt_at) = match settled {
            Settled::Done {
                payment_key,
                approved_at,
                receipt_url,
                approve_no,
            } => {
                receipt = (receipt_url, approve_no);
                (
                    ChargeStatus::Done,
                    payment_key,
                    approved_at,
                    None,
                    None,
                    now,
                )
            }
            Settled::Failed { code, message } => (
                ChargeStatus::Failed,
                None,
                None,
                Some(code),
                Some(message),
                now,
            ),
            Settled::Unclear { code } => (
                ChargeStatus::Unknown,
                None,
                None,
                Some(code),
                Some("the outcome is being confirmed with Toss".to_owned()),
                now + backoff_after(row.sends + 1),
            ),
        };
        let settled = self
            .0
            .store
            .settle_charge(
                &row.order_id,
                &self.0.settings.owner,
                ChargeOutcome {
                    status,
                    payment_key: payment_key.as_deref(),
                    approved_at: approved_at.as_deref(),
                    receipt_url: receipt.0.as_deref(),
                    approve_no: receipt.1.as_deref(),
                    code: code.as_deref(),
                    message: message.as_deref(),
                    next_attempt_at,
                },
                now,
            )
            .await?;
        if settled.is_some() {
            let kind = if row.subscription_id.is_some() {
                ChargeKind::Subscription
            } else {
                ChargeKind::Operator
            };
            let outcome = match status {
                ChargeStatus::Done => Outcome::Approved,
                ChargeStatus::Failed => Outcome::Declined,
                ChargeStatus::Pending | ChargeStatus::Unknown => Outcome::Unclear,
            };
            self.0
                .metrics
                .charge_outcome(kind, outcome, code.as_deref());
        }
        match status {
            ChargeStatus::Done => tracing::info!(
                order_id = row.order_id,
                amount = row.amount,
                "charge approved"
            ),
            ChargeStatus::Failed if code.as_deref().is_some_and(codes::is_request_problem) => {
                tracing::warn!(
                    order_id = row.order_id,
                    code,
                    "charge refused: the request itself is wrong"
                )
            }
            ChargeStatus::Failed => {
                tracing::info!(order_id = row.order_id, code, "charge declined")
            }
            _ => tracing::warn!(
                order_id = row.order_id,
                code,
                "charge outcome unclear; it will be looked up"
            ),
        }
        Ok(settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_found_by_lookup() {
        let p = |v: Value| from_payment(&v, 9900);
        assert!(matches!(
            p(json!({"status": "DONE", "paymentKey": "p", "totalAmount": 9900})),
            Settled::Done { .. }
        ));
        assert!(matches!(
            p(json!({"status": "ABORTED", "totalAmount": 9900})),
            Settled::Failed { .. }
        ));
        assert!(matches!(
            p(json!({"status": "IN_PROGRESS", "totalAmount": 9900})),
            Settled::Unclear { .. }
        ));
        assert!(matches!(
            p(json!({"totalAmount": 9900})),
            Settled::Unclear { .. }
        ));
        assert!(
            matches!(
                p(json!({"status": "DONE", "totalAmount": 100})),
                Settled::Failed { .. }
            ),
            "another payment"
        );
    }
}
