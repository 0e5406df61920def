//! Refunding a charge — at Toss, cancelling its payment (`POST /v1/payments/{paymentKey}/cancel`,
//! whole or partial) — exactly once per refund id, the way `charge` charges:
//!
//! - the refund is recorded before Toss is called, with its own Idempotency-Key derived from its
//!   id (`rf-{id}`; never from the body: Toss matches keys on key + URL + method, so two partial
//!   refunds of one payment need two keys and a retry of one refund must reuse its key), and never
//!   beyond the charge's balance, checked in the database (`store::refunds`);
//! - every call that may reach Toss is counted before it is made (`sends`); the call and its
//!   bookkeeping run in a task that outlives the request, under a lease;
//! - an outcome that is unclear (timeout, 5xx, 409, lost connection, `ALREADY_CANCELED_PAYMENT`,
//!   `FORBIDDEN_CONSECUTIVE_REQUEST`, an unknown code) is settled by `GET /v1/payments/{paymentKey}`
//!   before anything is sent again: among its `cancels[]`, the entry whose `transactionKey` no
//!   refund we know holds and whose amount is exactly this refund's is ours; only when there is
//!   none is the cancel sent again, with the same Idempotency-Key;
//! - the reconciler finishes what a crash left (`reconcile_once`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

use crate::charge::ChargeSettings;
use crate::clock::{Clock, Millis};
use crate::lease::{self, Leased};
use crate::store::refunds::{
    Inserted, NewRefund, RefundCallKind, RefundKind, RefundOutcome, RefundRow, RefundStatus,
};
use crate::store::{Store, StoreError};
use crate::toss::{codes, TossClient, TossError};

/// What to refund.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// Unique per refund, for ever (the operator's, or derived from an Idempotency-Key).
    pub id: String,
    /// The charge.
    pub order_id: String,
    /// KRW; `None`: whatever is left of the charge.
    pub amount: Option<i64>,
    /// Toss's `cancelReason` (1–200 characters).
    pub reason: String,
    /// Why.
    pub kind: RefundKind,
    /// Who asks.
    pub requested_by: String,
}

/// Why a refund was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such charge, or it was never approved.
    #[error("this charge was not approved: there is nothing to refund")]
    NotRefundable,
    /// It would refund more than is left of the charge.
    #[error("only {balance}원 of this charge is left to refund")]
    OverBalance {
        /// What is left.
        balance: i64,
    },
    /// The refund id was used for another refund.
    #[error("this refund id belongs to a different refund")]
    IdConflict,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Inner {
    store: Store,
    toss: TossClient,
    clock: Clock,
    settings: ChargeSettings,
    tasks: TaskTracker,
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    metrics: crate::metrics::Metrics,
}

/// The refund service. Cheap to clone.
#[derive(Clone)]
pub struct Refunds(Arc<Inner>);

/// Backoff of the next look at an unclear refund: 1 s, doubling, at most 5 min.
fn backoff_after(sends: i64) -> Millis {
    (1_000i64 << (sends.clamp(1, 10) - 1)).min(300_000)
}

/// How long to wait after `FORBIDDEN_CONSECUTIVE_REQUEST` (Toss processes one cancel of a payment
/// per second).
const CONSECUTIVE_PAUSE_MS: Millis = 1_200;

#[derive(Debug, PartialEq, Eq)]
enum Settled {
    Done {
        transaction_key: String,
        canceled_at: Option<String>,
    },
    Failed {
        code: String,
        message: String,
    },
    Unclear {
        code: String,
        retry_in: Option<Millis>,
    },
}

/// The entry of a Payment's `cancels[]` that is the refund of `amount`, if any: one whose
/// `transactionKey` is not in `known` (the refunds of this payment we already hold) and whose
/// amount is exactly `amount`. The payment's `lastTransactionKey` is preferred (a cancel's own
/// answer names it), else the oldest such entry.
fn find_ours(
    payment: &Value,
    amount: i64,
    known: &HashSet<String>,
) -> Option<(String, Option<String>)> {
    let cancels = payment.get("cancels").and_then(Value::as_array)?;
    let candidates: Vec<(String, Option<String>)> = cancels
        .iter()
        .filter(|c| {
            c.get("cancelStatus")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "DONE")
        })
        .filter(|c| c.get("cancelAmount").and_then(Value::as_i64) == Some(amount))
        .filter_map(|c| {
            let key = c.get("transactionKey").and_then(Value::as_str)?;
            (!known.contains(key)).then(|| {
                (
                    key.to_owned(),
                    c.get("canceledAt")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
            })
        })
        .collect();
    let last = payment.get("lastTransactionKey").and_then(Value::as_str);
    candidates
        .iter()
        .find(|(key, _)| Some(key.as_str()) == last)
        .or_else(|| candidates.first())
        .cloned()
}

/// What a payment lookup says about a refund that was sent before.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// This cancel entry is ours: DONE.
    Ours(String, Option<String>),
    /// Toss holds no cancel of ours and enough is left: send again (same Idempotency-Key).
    Resend,
    /// Toss holds no cancel of ours and less is left than this refund (another refund, e.g. in
    /// Toss's console, took it): sending again can only be refused.
    CannotRefund {
        /// What Toss says is left.
        balance: i64,
    },
}

fn verdict(payment: &Value, amount: i64, known: &HashSet<String>) -> Verdict {
    if let Some((key, at)) = find_ours(payment, amount, known) {
        return Verdict::Ours(key, at);
    }
    match payment.get("balanceAmount").and_then(Value::as_i64) {
        Some(balance) if balance < amount => Verdict::CannotRefund { balance },
        _ => Verdict::Resend,
    }
}

impl Refunds {
    /// The service.
    pub fn new(
        store: Store,
        toss: TossClient,
        clock: Clock,
        settings: ChargeSettings,
        tasks: TaskTracker,
        metrics: crate::metrics::Metrics,
    ) -> Refunds {
        Refunds(Arc::new(Inner {
            store,
            toss,
            clock,
            settings,
            tasks,
            waiters: Mutex::new(HashMap::new()),
            metrics,
        }))
    }

    /// Records the refund (or finds it: a retry with the same id is the same refund), runs it,
    /// and waits a bounded time for the outcome. Returns the refund as it stands then.
    pub async fn submit(&self, request: &RefundRequest) -> Result<RefundRow, RefundError> {
        if let Some(existing) = self.0.store.refund(&request.id).await? {
            return self.same_or_conflict(existing, request).await;
        }
        let new = NewRefund {
            id: request.id.clone(),
            order_id: request.order_id.clone(),
            amount: request.amount,
            reason: request.reason.clone(),
            kind: request.kind,
            requested_by: request.requested_by.clone(),
        };
        match self
            .0
            .store
            .insert_refund(&new, self.0.clock.now_ms())
            .await?
        {
            Inserted::New(row) => {
                tracing::info!(
                    refund = row.id,
                    order_id = row.order_id,
                    amount = row.amount,
                    "refund recorded"
                );
                Ok(self.wait(&row.id).await?)
            }
            Inserted::Existing(row) => self.same_or_conflict(row, request).await,
            Inserted::OverBalance { balance, .. } => Err(RefundError::OverBalance { balance }),
            Inserted::NotRefundable => Err(RefundError::NotRefundable),
        }
    }

    async fn same_or_conflict(
        &self,
        row: RefundRow,
        request: &RefundRequest,
    ) -> Result<RefundRow, RefundError> {
        if row.order_id != request.order_id
            || request.amount.is_some_and(|a| a != row.amount)
            || row.kind != request.kind
        {
            return Err(RefundError::IdConflict);
        }
        if row.status.is_final() {
            return Ok(row);
        }
        Ok(self.wait(&row.id).await?)
    }

    /// Starts each refund now (if nobody else runs it) and waits a bounded time for all of them.
    pub async fn run_and_wait(&self, ids: &[String]) -> Result<Vec<RefundRow>, StoreError> {
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            self.start(id).await?;
        }
        for id in ids {
            rows.push(self.wait(id).await?);
        }
        Ok(rows)
    }

    /// Runs a recorded refund now if nobody else is, without waiting for the outcome.
    pub async fn start(&self, id: &str) -> Result<bool, StoreError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        match self
            .0
            .store
            .claim_refund(id, &self.0.settings.owner, now, lease_until)
            .await?
        {
            Some(row) => {
                let this = self.clone();
                self.0.tasks.spawn(async move {
                    this.run(row).await;
                });
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn wait(&self, id: &str) -> Result<RefundRow, StoreError> {
        let until = tokio::time::Instant::now() + self.0.settings.wait;
        let mut poll = Duration::from_millis(50);
        loop {
            let notify = self.waiter(id);
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let row = self
                .0
                .store
                .refund(id)
                .await?
                .expect("refunds are never deleted");
            let now = self.0.clock.now_ms();
            if row.status.is_final() || tokio::time::Instant::now() >= until {
                return Ok(row);
            }
            let free = row.lease_until.is_none_or(|lease| lease < now);
            if free && row.next_attempt_at <= now {
                self.start(id).await?;
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let _ = tokio::time::timeout(poll.min(left), notified).await;
            poll = (poll * 2).min(Duration::from_millis(250));
        }
    }

    fn waiter(&self, id: &str) -> Arc<Notify> {
        let mut map = self.0.waiters.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_owned()).or_default().clone()
    }

    fn wake(&self, id: &str) {
        let notify = self
            .0
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    /// The reconciler's turn: claims refunds that are not final and due, and runs them.
    pub async fn reconcile_once(&self, batch: i64) -> Result<usize, StoreError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        let claimed = self
            .0
            .store
            .claim_due_refunds(&self.0.settings.owner, now, lease_until, batch)
            .await?;
        let count = claimed.len();
        for row in claimed {
            let this = self.clone();
            self.0.tasks.spawn(async move {
                this.run(row).await;
            });
        }
        Ok(count)
    }

    /// One run of a claimed refund, its lease renewed while it runs, in a span (and as the
    /// request) of the request that asked for it, whoever started the run. Returns the row as
    /// this run settled it, if it did.
    async fn run(self, row: RefundRow) -> Option<RefundRow> {
        let span = tracing::info_span!(
            parent: None,
            "refund",
            refund = row.id.as_str(),
            request_id = tracing::field::Empty,
        );
        crate::request_id::on_behalf_of(row.request_id.clone(), span, self.run_leased(row)).await
    }

    async fn run_leased(self, row: RefundRow) -> Option<RefundRow> {
        let id = row.id.clone();
        let heartbeat = lease::renew_while_running(
            self.0.store.clone(),
            self.0.clock.clone(),
            Leased::Refund(id.clone()),
            self.0.settings.owner.clone(),
            self.0.settings.lease,
        );
        let settled = match self.run_inner(&row).await {
            Ok(settled) => settled,
            Err(e) => {
                tracing::error!(refund = id, error = %e, "refund bookkeeping failed; the lease will lapse and the refund be looked up again");
                None
            }
        };
        heartbeat.abort();
        self.wake(&id);
        settled
    }

    /// The transaction keys of the other refunds of this payment we hold.
    async fn known_cancels(&self, row: &RefundRow) -> Result<HashSet<String>, StoreError> {
        Ok(self
            .0
            .store
            .refunds_of_payment(&row.payment_key)
            .await?
            .into_iter()
            .filter(|r| r.id != row.id)
            .filter_map(|r| r.transaction_key)
            .collect())
    }

    async fn run_inner(&self, row: &RefundRow) -> Result<Option<RefundRow>, StoreError> {
        let store = &self.0.store;
        let owner = &self.0.settings.owner;
        // Sent before (by us, or by a run that crashed): ask Toss what happened first.
        if row.sends > 0 {
            let lookup = self.0.toss.payment(&row.payment_key).await;
            let now = self.0.clock.now_ms();
            match lookup {
                Ok(Some(payment)) => {
                    let known = self.known_cancels(row).await?;
                    let verdict = verdict(&payment, row.amount, &known);
                    store
                        .record_refund_call(
                            &row.id,
                            RefundCallKind::Lookup,
                            Some(200),
                            if matches!(verdict, Verdict::Ours(..)) {
                                "FOUND"
                            } else {
                                "NOT_FOUND"
                            },
                            None,
                            now,
                        )
                        .await?;
                    match verdict {
                        Verdict::Ours(transaction_key, canceled_at) => {
                            return self
                                .settle(
                                    row,
                                    Settled::Done {
                                        transaction_key,
                                        canceled_at,
                                    },
                                )
                                .await;
                        }
                        Verdict::CannotRefund { balance } => {
                            return self
                                .settle(
                                    row,
                                    Settled::Failed {
                                        code: "NOT_CANCELABLE_AMOUNT".into(),
                                        message: format!(
                                            "Toss holds no cancel of this refund and only {balance}원 of the payment is left"
                                        ),
                                    },
                                )
                                .await;
                        }
                        // Toss holds no cancel of ours: sending it again (same Idempotency-Key)
                        // cannot refund twice.
                        Verdict::Resend => {}
                    }
                }
                Ok(None) => {
                    store
                        .record_refund_call(
                            &row.id,
                            RefundCallKind::Lookup,
                            Some(404),
                            "REFUSED",
                            Some("NOT_FOUND_PAYMENT"),
                            now,
                        )
                        .await?;
                    return self
                        .settle(
                            row,
                            Settled::Failed {
                                code: "NOT_FOUND_PAYMENT".into(),
                                message: "Toss has no such payment".into(),
                            },
                        )
                        .await;
                }
                Err(e) => {
                    store
                        .record_refund_call(
                            &row.id,
                            RefundCallKind::Lookup,
                            e.status(),
                            "UNCLEAR",
                            Some(&e.code()),
                            now,
                        )
                        .await?;
                    return self
                        .settle(
                            row,
                            Settled::Unclear {
                                code: e.code(),
                                retry_in: None,
                            },
                        )
                        .await;
                }
            }
        }
        // Always the amount: what Toss refunds is exactly what is recorded.
        let body = json!({ "cancelReason": row.reason, "cancelAmount": row.amount });
        let mut pause = self.0.settings.backoff;
        let mut tries_left = self.0.settings.quick_retries;
        loop {
            let now = self.0.clock.now_ms();
            if !store.mark_refund_sending(&row.id, owner, now).await? {
                return Ok(None); // the lease was lost: another runner has it
            }
            let result = self
                .0
                .toss
                .cancel_payment(&row.payment_key, &body, &row.idempotency_key)
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
                .record_refund_call(
                    &row.id,
                    RefundCallKind::Cancel,
                    status,
                    outcome,
                    code.as_deref(),
                    now,
                )
                .await?;
            let settled = match result {
                Ok(payment) => {
                    let known = self.known_cancels(row).await?;
                    match find_ours(&payment, row.amount, &known) {
                        Some((transaction_key, canceled_at)) => Settled::Done {
                            transaction_key,
                            canceled_at,
                        },
                        None => Settled::Unclear {
                            code: "CANCEL_NOT_IN_ANSWER".into(),
                            retry_in: None,
                        },
                    }
                }
                Err(TossError::Refused {
                    status,
                    code,
                    message,
                }) if codes::is_final_for_refund(status, &code) => {
                    Settled::Failed { code, message }
                }
                Err(TossError::Refused { code, .. }) if code == "FORBIDDEN_CONSECUTIVE_REQUEST" => {
                    // Another cancel of this payment within the second: ours was not processed.
                    Settled::Unclear {
                        code,
                        retry_in: Some(CONSECUTIVE_PAUSE_MS),
                    }
                }
                // ALREADY_CANCELED_PAYMENT (perhaps ours, after a lost answer), a credentials
                // problem, a code we do not know: confirmed by the lookup first.
                Err(TossError::Refused { code, .. }) => Settled::Unclear {
                    code,
                    retry_in: None,
                },
                Err(TossError::Unreachable | TossError::Busy { .. }) if tries_left > 0 => {
                    tries_left -= 1;
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    continue;
                }
                Err(e) => Settled::Unclear {
                    code: e.code(),
                    retry_in: None,
                },
            };
            return self.settle(row, settled).await;
        }
    }

    async fn settle(
        &self,
        row: &RefundRow,
        settled: Settled,
    ) -> Result<Option<RefundRow>, StoreError> {
        let now = self.0.clock.now_ms();
        let (status, transaction_key, canceled_at, code, message, next_attempt_at) = match settled {
            Settled::Done {
                transaction_key,
                canceled_at,
            } => (
                RefundStatus::Done,
                Some(transaction_key),
                canceled_at,
                None,
                None,
                now,
            ),
            Settled::Failed { code, message } => (
                RefundStatus::Failed,
                None,
                None,
                Some(code),
                Some(message),
                now,
            ),
            Settled::Unclear { code, retry_in } => (
                RefundStatus::Unknown,
                None,
                None,
                Some(code),
                Some("the outcome is being confirmed with Toss".to_owned()),
                now + retry_in.unwrap_or_else(|| backoff_after(row.sends + 1)),
            ),
        };
        let settled = self
            .0
            .store
            .settle_refund(
                &row.id,
                &self.0.settings.owner,
                RefundOutcome {
                    status,
                    transaction_key: transaction_key.as_deref(),
                    canceled_at: canceled_at.as_deref(),
                    code: code.as_deref(),
                    message: message.as_deref(),
                    next_attempt_at,
                },
                now,
            )
            .await?;
        // Counted by the runner whose update made it so (once per refund even with several
        // instances); an unclear outcome counts each run that could not tell.
        if settled.is_some() {
            use crate::metrics::RefundOutcome as Counted;
            let counted = match status {
                RefundStatus::Done => Counted::Refunded,
                RefundStatus::Failed => Counted::Refused,
                _ => Counted::Unclear,
            };
            self.0.metrics.refund_outcome(counted, code.as_deref());
        }
        match status {
            RefundStatus::Done => tracing::info!(
                refund = row.id,
                order_id = row.order_id,
                amount = row.amount,
                "refunded"
            ),
            RefundStatus::Failed => {
                tracing::warn!(refund = row.id, code, "refund refused by Toss")
            }
            _ => tracing::warn!(
                refund = row.id,
                code,
                "refund outcome unclear; it will be looked up"
            ),
        }
        Ok(settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(cancels: Value, last: &str) -> Value {
        json!({ "status": "PARTIAL_CANCELED", "cancels": cancels, "lastTransactionKey": last })
    }

    #[test]
    fn our_cancel_is_the_unknown_entry_of_our_amount() {
        let p = payment(
            json!([
                {"cancelAmount": 3000, "transactionKey": "a", "canceledAt": "t1", "cancelStatus": "DONE"},
                {"cancelAmount": 3000, "transactionKey": "b", "canceledAt": "t2", "cancelStatus": "DONE"},
                {"cancelAmount": 1000, "transactionKey": "c", "canceledAt": "t3", "cancelStatus": "DONE"},
            ]),
            "c",
        );
        let known: HashSet<String> = ["a".to_owned()].into();
        assert_eq!(
            find_ours(&p, 3000, &known),
            Some(("b".into(), Some("t2".into()))),
            "a is another refund's"
        );
        assert_eq!(find_ours(&p, 1000, &known).unwrap().0, "c");
        assert_eq!(find_ours(&p, 2000, &known), None, "no entry of our amount");
        let all: HashSet<String> = ["a".to_owned(), "b".to_owned()].into();
        assert_eq!(find_ours(&p, 3000, &all), None, "every entry is known");
        assert_eq!(
            find_ours(&json!({"status": "DONE", "cancels": null}), 3000, &known),
            None
        );
    }

    #[test]
    fn a_lookup_without_our_cancel_resends_only_if_enough_is_left() {
        let none = HashSet::new();
        let p = json!({"balanceAmount": 9900, "cancels": null});
        assert_eq!(verdict(&p, 3000, &none), Verdict::Resend);
        let taken = json!({"balanceAmount": 0, "status": "CANCELED",
                           "cancels": [{"cancelAmount": 9900, "transactionKey": "console"}]});
        assert_eq!(
            verdict(&taken, 3000, &none),
            Verdict::CannotRefund { balance: 0 },
            "ALREADY_CANCELED_PAYMENT by someone else: never resent for ever"
        );
        let ours = json!({"balanceAmount": 6900,
                          "cancels": [{"cancelAmount": 3000, "transactionKey": "t"}]});
        assert_eq!(verdict(&ours, 3000, &none), Verdict::Ours("t".into(), None));
    }

    #[test]
    fn the_answers_last_transaction_is_preferred() {
        let p = payment(
            json!([
                {"cancelAmount": 3000, "transactionKey": "x"},
                {"cancelAmount": 3000, "transactionKey": "y"},
            ]),
            "y",
        );
        assert_eq!(find_ours(&p, 3000, &HashSet::new()).unwrap().0, "y");
    }
}
