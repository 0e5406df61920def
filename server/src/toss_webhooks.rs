//! Toss's webhooks (toss-billing-contract.md §10), processed from the inbox the endpoint writes
//! (`routes::toss_webhooks` answers `200` as soon as the row is stored, whatever comes next).
//! A background loop claims what is due under a lease and acts, treating every body as a hint:
//!
//! - `BILLING_DELETED`: matched on the billing key itself (its SHA-256, `billing_keys.key_hash`;
//!   only Toss and we know the key); the card is marked deleted — never charged again — and each
//!   live subscription on it gets `subscription.card_deleted` (the merchant's "update your card").
//!   An unknown key changes nothing.
//! - `PAYMENT_STATUS_CHANGED` to `CANCELED`/`PARTIAL_CANCELED` for one of our payments: the
//!   payment is fetched from Toss (`GET /v1/payments/{paymentKey}`: the payload is not signed, so
//!   its amounts are never used) and each cancel we did not make is recorded as an `EXTERNAL`
//!   refund (once per `transactionKey`). While a refund of ours on that payment is still being
//!   confirmed, the event waits: our own cancels are never mistaken for someone else's.
//! - anything else: acknowledged, logged, ignored.
//!
//! Deduplicated twice: one inbox row per transmission id, and every effect is idempotent (a key
//! deleted once, a transaction key recorded once).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, Millis};
use crate::ids;
use crate::refund::Refunds;
use crate::store::refunds::ExternalRefund;
use crate::store::webhooks::{InboxRow, InboxStatus};
use crate::store::{Store, StoreError};
use crate::toss::TossClient;

/// How many received webhooks one pass claims.
const BATCH: i64 = 16;
/// A claimed webhook is someone else's to process again after this.
const LEASE_MS: Millis = 60_000;
/// Attempts before a webhook that keeps failing is given up (`FAILED`, logged).
const MAX_ATTEMPTS: i64 = 20;

struct Inner {
    store: Store,
    toss: TossClient,
    refunds: Refunds,
    clock: Clock,
    wake: Notify,
}

/// The inbox's processing side. Cheap to clone.
#[derive(Clone)]
pub struct Inbox(Arc<Inner>);

/// What processing one webhook came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Processed {
    /// Acted on.
    Done(String),
    /// Nothing to do.
    Ignored(String),
    /// Try again later (Toss unreachable, our own refunds still unclear).
    Later(String, Millis),
}

impl Inbox {
    /// The inbox.
    pub fn new(store: Store, toss: TossClient, refunds: Refunds, clock: Clock) -> Inbox {
        Inbox(Arc::new(Inner {
            store,
            toss,
            refunds,
            clock,
            wake: Notify::new(),
        }))
    }

    /// Queues a received webhook; returns whether it was new (not a repeat of its transmission
    /// id), and wakes the loop.
    pub async fn receive(
        &self,
        transmission_id: &str,
        body: &str,
        retried_count: Option<i64>,
    ) -> Result<bool, StoreError> {
        let event_type = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| {
                v.get("eventType")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .map(|t| t.chars().take(60).collect::<String>())
            .unwrap_or_else(|| "?".to_owned());
        let new = self
            .0
            .store
            .receive_webhook(
                transmission_id,
                &event_type,
                body,
                retried_count,
                self.0.clock.now_ms(),
            )
            .await?;
        tracing::info!(transmission_id, event_type, new, "Toss webhook received");
        if new {
            self.0.wake.notify_one();
        }
        Ok(new)
    }

    /// Processes what is due; returns how many were looked at.
    pub async fn process_due(&self) -> Result<usize, StoreError> {
        let now = self.0.clock.now_ms();
        let claimed = self
            .0
            .store
            .claim_webhooks(now, now + LEASE_MS, BATCH)
            .await?;
        for row in &claimed {
            let processed = self.process(row).await;
            let now = self.0.clock.now_ms();
            let (status, outcome, next) = match processed {
                Processed::Done(o) => (InboxStatus::Processed, o, now),
                Processed::Ignored(o) => (InboxStatus::Ignored, o, now),
                Processed::Later(o, _) if row.attempts >= MAX_ATTEMPTS => {
                    tracing::error!(
                        transmission_id = row.transmission_id,
                        outcome = o,
                        "Toss webhook given up after repeated failures"
                    );
                    (InboxStatus::Failed, o, now)
                }
                Processed::Later(o, after) => (InboxStatus::Pending, o, now + after),
            };
            tracing::info!(
                transmission_id = row.transmission_id,
                event_type = row.event_type,
                ?status,
                outcome,
                "Toss webhook processed"
            );
            self.0
                .store
                .finish_webhook(row.id, status, &outcome, next, now)
                .await?;
        }
        Ok(claimed.len())
    }

    async fn process(&self, row: &InboxRow) -> Processed {
        let Ok(body) = serde_json::from_str::<Value>(&row.body) else {
            return Processed::Ignored("the body is not JSON".into());
        };
        let data = body.get("data").cloned().unwrap_or(Value::Null);
        let retry = |what: String| {
            let after = (2_000i64 << row.attempts.clamp(0, 8)).min(600_000);
            Processed::Later(what, after)
        };
        let outcome = match body.get("eventType").and_then(Value::as_str) {
            Some("BILLING_DELETED") => self.billing_deleted(&data).await,
            Some("PAYMENT_STATUS_CHANGED") => self.payment_status_changed(&data).await,
            Some(other) => Ok(Processed::Ignored(format!("{other} is not acted on"))),
            None => Ok(Processed::Ignored("no eventType".into())),
        };
        match outcome {
            Ok(Processed::Later(what, _)) => retry(what),
            Ok(p) => p,
            Err(e) => retry(format!("storage failed: {e}")),
        }
    }

    async fn billing_deleted(&self, data: &Value) -> Result<Processed, StoreError> {
        let Some(billing_key) = data.get("billingKey").and_then(Value::as_str) else {
            return Ok(Processed::Ignored("no billingKey".into()));
        };
        let reason = data
            .get("reason")
            .and_then(Value::as_str)
            .map(|r| r.chars().take(200).collect::<String>());
        let detail = json!({ "reason": reason, "source": "toss", "action": "register a new card" });
        let now = self.0.clock.now_ms();
        let tag = ids::log_tag(billing_key);
        Ok(
            match self
                .0
                .store
                .delete_billing_key_at_toss(
                    &ids::sha256_hex(billing_key.as_bytes()),
                    &detail.to_string(),
                    now,
                )
                .await?
            {
                Some(deleted) => Processed::Done(format!(
                    "billing key {tag} (#{}) marked deleted; {} live subscription(s) told",
                    deleted.id,
                    deleted.subscriptions.len()
                )),
                None => Processed::Ignored(format!(
                    "billing key {tag} is not ours, or was deleted already"
                )),
            },
        )
    }

    async fn payment_status_changed(&self, data: &Value) -> Result<Processed, StoreError> {
        let Some(payment_key) = data.get("paymentKey").and_then(Value::as_str) else {
            return Ok(Processed::Ignored("no paymentKey".into()));
        };
        let status = data.get("status").and_then(Value::as_str).unwrap_or("?");
        if !matches!(status, "CANCELED" | "PARTIAL_CANCELED") {
            return Ok(Processed::Ignored(format!("payment status {status}")));
        }
        let store = &self.0.store;
        let Some(charge) = store.charge_by_payment_key(payment_key).await? else {
            return Ok(Processed::Ignored("not one of our payments".into()));
        };
        let ours = store.refunds_of_payment(payment_key).await?;
        let unsettled: Vec<&str> = ours
            .iter()
            .filter(|r| !r.status.is_final())
            .map(|r| r.id.as_str())
            .collect();
        if !unsettled.is_empty() {
            for id in &unsettled {
                self.0.refunds.start(id).await?;
            }
            return Ok(Processed::Later(
                format!("waiting for our refunds {unsettled:?} to be confirmed"),
                0,
            ));
        }
        // Never the payload's amounts: Toss's own answer.
        let payment = match self.0.toss.payment(payment_key).await {
            Ok(Some(payment)) => payment,
            Ok(None) => return Ok(Processed::Ignored("Toss has no such payment".into())),
            Err(e) => return Ok(Processed::Later(format!("lookup failed: {}", e.code()), 0)),
        };
        if payment.get("orderId").and_then(Value::as_str) != Some(charge.order_id.as_str()) {
            return Ok(Processed::Ignored(
                "Toss's payment is not the charge we hold".into(),
            ));
        }
        let known: HashSet<&str> = ours
            .iter()
            .filter_map(|r| r.transaction_key.as_deref())
            .collect();
        let external: Vec<ExternalRefund> = unknown_cancels(&payment, &known);
        if external.is_empty() {
            return Ok(Processed::Done(
                "every cancel of the payment is known".into(),
            ));
        }
        let recorded = store
            .record_external_refunds(&charge.order_id, &external, self.0.clock.now_ms())
            .await?;
        Ok(Processed::Done(format!(
            "{} refund(s) made outside this server recorded ({}원) for {}",
            recorded.len(),
            recorded.iter().map(|r| r.amount).sum::<i64>(),
            charge.order_id
        )))
    }
}

/// The cancels of a Payment whose transaction keys are not in `known`.
fn unknown_cancels(payment: &Value, known: &HashSet<&str>) -> Vec<ExternalRefund> {
    payment
        .get("cancels")
        .and_then(Value::as_array)
        .map(|cancels| {
            cancels
                .iter()
                .filter(|c| {
                    c.get("cancelStatus")
                        .and_then(Value::as_str)
                        .is_none_or(|s| s == "DONE")
                })
                .filter_map(|c| {
                    let key = c.get("transactionKey").and_then(Value::as_str)?;
                    let amount = c.get("cancelAmount").and_then(Value::as_i64)?;
                    (!known.contains(key) && amount > 0).then(|| ExternalRefund {
                        transaction_key: key.to_owned(),
                        amount,
                        reason: c
                            .get("cancelReason")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        canceled_at: c
                            .get("canceledAt")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the inbox until `stop`: at start-up, on every new webhook, and every `interval`.
pub fn spawn(inbox: Inbox, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                match inbox.process_due().await {
                    Ok(n) if n as i64 == BATCH && !stop.is_cancelled() => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot process Toss webhooks");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
                _ = inbox.0.wake.notified() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unknown_done_cancels_are_external() {
        let payment = json!({"cancels": [
            {"transactionKey": "a", "cancelAmount": 3000, "cancelStatus": "DONE"},
            {"transactionKey": "b", "cancelAmount": 1000, "cancelReason": "콘솔 환불", "canceledAt": "t"},
            {"transactionKey": "c", "cancelAmount": 500, "cancelStatus": "FAILED"},
        ]});
        let known: HashSet<&str> = ["a"].into();
        let external = unknown_cancels(&payment, &known);
        assert_eq!(external.len(), 1);
        assert_eq!(
            (
                external[0].transaction_key.as_str(),
                external[0].amount,
                external[0].reason.as_str()
            ),
            ("b", 1000, "콘솔 환불")
        );
        assert!(unknown_cancels(&json!({"cancels": null}), &known).is_empty());
    }
}
