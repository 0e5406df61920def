//! What a customer or the operator does to a subscription directly: cancel (now, or 일반해지 at
//! the period's end, undoable until then) and "retry now". Each claims the subscription's lease,
//! so it never races the scheduler's work on it.

use serde_json::json;

use super::{event, ActionError, Subscriptions};
use crate::billing::lifecycle::{self, ChangeStatus, Status, Trigger};
use crate::billing::refund_policy::{self, Choice, Options, PeriodCharge, Refusal, Situation};
use crate::clock::{iso_kst, Millis};
use crate::store::refunds::{Ended, NewRefund, RefundKind, RefundRow, RefundStatus};
use crate::store::subscriptions::{SubscriptionRow, SubscriptionUpdate};
use crate::store::StoreError;

/// A subscription ended by 중도해지 or 청약철회, and its refunds as they stand.
#[derive(Debug, Clone)]
pub struct Cancellation {
    /// The subscription, ended.
    pub subscription: SubscriptionRow,
    /// Its refunds (final, or still being confirmed with Toss: the reconciler finishes them).
    pub refunds: Vec<RefundRow>,
}

/// The `ended_reason` of each refunding choice.
fn ended_reason(choice: Choice) -> &'static str {
    match choice {
        Choice::Withdraw => "withdrawn",
        _ => "canceled_by_customer",
    }
}

/// How long a customer's or operator's action waits for the subscription's lease before answering
/// `BUSY` (a charge in flight holds it for the length of a Toss call).
const ACTION_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// When a cancellation takes effect.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CancelWhen {
    /// 일반해지: keep the paid period; charge nothing more.
    PeriodEnd,
    /// End now.
    Now,
}

impl Subscriptions {
    /// Claims the subscription's lease for an action, waiting up to [`ACTION_WAIT`] for another
    /// holder (the scheduler's decision takes milliseconds), or says it is busy.
    pub(super) async fn claim_for_action(
        &self,
        id: i64,
    ) -> Result<(SubscriptionRow, String), ActionError> {
        let owner = format!("{}:action", self.0.settings.owner);
        let deadline = tokio::time::Instant::now() + ACTION_WAIT;
        loop {
            let sub = self
                .0
                .store
                .subscription(id)
                .await?
                .ok_or(ActionError::NotFound)?;
            if !sub.status.is_live() {
                return Err(ActionError::Ended);
            }
            let now = self.0.clock.now_ms();
            match self.claim_one(id, &owner, now).await? {
                Some(sub) if sub.status.is_live() => return Ok((sub, owner)),
                Some(sub) => {
                    self.release(&sub, &owner, sub.next_charge_at, vec![])
                        .await?;
                    return Err(ActionError::Ended);
                }
                None if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                None => return Err(ActionError::Busy),
            }
        }
    }

    /// Cancels a subscription, now or at the end of the paid period. Cancelling again the same
    /// way changes nothing (a safe retry).
    pub async fn cancel(
        &self,
        id: i64,
        when: CancelWhen,
        by: &str,
    ) -> Result<SubscriptionRow, ActionError> {
        if let Some(sub) = self.0.store.subscription(id).await? {
            if when == CancelWhen::PeriodEnd && sub.cancel_at_period_end && sub.status.is_live() {
                return Ok(sub);
            }
        }
        let (sub, owner) = self.claim_for_action(id).await?;
        let now = self.0.clock.now_ms();
        let outstanding = self.0.store.outstanding_change(id).await?;
        let update = match when {
            CancelWhen::Now => {
                debug_assert!(lifecycle::is_allowed(
                    Some(sub.status),
                    Trigger::CanceledNow,
                    Status::Canceled
                ));
                SubscriptionUpdate {
                    status: Some(Status::Canceled),
                    next_charge_at: Some(None),
                    canceled_at: Some(now),
                    ended_reason: Some(if by == "operator" {
                        "canceled_by_operator"
                    } else {
                        "canceled_by_customer"
                    }),
                    change: outstanding.map(|c| (c.id, ChangeStatus::Withdrawn)),
                    events: vec![event(
                        "subscription.canceled",
                        json!({ "reason": "canceled", "by": by, "period": sub.period_no }),
                    )],
                    ..SubscriptionUpdate::default()
                }
            }
            CancelWhen::PeriodEnd => SubscriptionUpdate {
                cancel_at_period_end: Some(true),
                next_charge_at: Some(sub.next_charge_at),
                events: vec![event(
                    "subscription.cancel_scheduled",
                    json!({ "by": by, "endsAt": iso_kst(sub.current_period_end) }),
                )],
                ..SubscriptionUpdate::default()
            },
        };
        self.0
            .store
            .update_subscription(id, Some(&owner), &update, true, now)
            .await?;
        self.0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)
    }

    /// Undoes a cancellation scheduled for the period's end, while the period lasts.
    pub async fn undo_cancel(&self, id: i64, by: &str) -> Result<SubscriptionRow, ActionError> {
        let sub = self
            .0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)?;
        if sub.status.is_live() && !sub.cancel_at_period_end {
            return Ok(sub); // nothing to undo: a safe retry
        }
        let (sub, owner) = self.claim_for_action(id).await?;
        let now = self.0.clock.now_ms();
        let update = SubscriptionUpdate {
            cancel_at_period_end: Some(false),
            next_charge_at: Some(sub.next_charge_at),
            events: vec![event(
                "subscription.cancel_undone",
                json!({ "by": by, "continuesAfter": iso_kst(sub.current_period_end) }),
            )],
            ..SubscriptionUpdate::default()
        };
        self.0
            .store
            .update_subscription(id, Some(&owner), &update, true, now)
            .await?;
        self.0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)
    }

    /// The subscription as the cancellation rules see it: the current period, its charges with
    /// what was refunded of each, and whether the merchant marked it as used.
    pub async fn cancel_situation(&self, sub: &SubscriptionRow) -> Result<Situation, StoreError> {
        let store = &self.0.store;
        let mut charges = Vec::new();
        for c in store.subscription_charges(sub.id).await? {
            if c.period_no != Some(sub.period_no) {
                continue;
            }
            let refunded = store
                .refunds_of_charge(&c.order_id)
                .await?
                .iter()
                .filter(|r| r.status != RefundStatus::Failed)
                .map(|r| r.amount)
                .sum();
            charges.push(PeriodCharge {
                order_id: c.order_id,
                purpose: c.purpose,
                status: c.status,
                amount: c.amount,
                refunded,
                charged_at: c.created_at,
            });
        }
        Ok(Situation {
            status: sub.status,
            period: (sub.current_period_start, sub.current_period_end),
            period_used: store.period_used_at(sub.id, sub.period_no).await?.is_some(),
            charges,
        })
    }

    /// Every way the customer can end the subscription now, with its exact refund (the preview).
    pub async fn cancel_options(
        &self,
        sub: &SubscriptionRow,
    ) -> Result<(Situation, Options, Millis), StoreError> {
        let situation = self.cancel_situation(sub).await?;
        let now = self.0.clock.now_ms();
        let options = refund_policy::options(&situation, &self.0.settings.cancellation, now);
        Ok((situation, options, now))
    }

    /// 중도해지 (`Choice::Now`) or 청약철회 (`Choice::Withdraw`): the subscription ends now and its
    /// refunds are written ahead in the same transaction, then run (and waited for a bounded
    /// time). `expected_refund`: the total the customer was shown; a different one now (midnight
    /// passed, a refund raced it) is refused with the new amount. Asking again after it ended the
    /// same way answers the same (a safe retry).
    pub async fn end_with_refund(
        &self,
        id: i64,
        choice: Choice,
        expected_refund: Option<i64>,
        by: &str,
    ) -> Result<Cancellation, ActionError> {
        debug_assert!(choice != Choice::PeriodEnd);
        let store = &self.0.store;
        let sub = store.subscription(id).await?.ok_or(ActionError::NotFound)?;
        if !sub.status.is_live() {
            if sub.ended_reason.as_deref() == Some(ended_reason(choice)) {
                return self.ended_with(sub).await;
            }
            return Err(ActionError::Ended);
        }
        let (sub, owner) = self.claim_for_action(id).await?;
        let ended = self
            .end_with_refund_leased(&sub, &owner, choice, expected_refund, by)
            .await;
        if ended.is_err() {
            // Nothing was written: give the lease back.
            self.release(&sub, &owner, sub.next_charge_at, vec![])
                .await?;
        }
        let refund_ids = ended?;
        let refunds = self.0.refunds.run_and_wait(&refund_ids).await?;
        let subscription = store.subscription(id).await?.ok_or(ActionError::NotFound)?;
        Ok(Cancellation {
            subscription,
            refunds,
        })
    }

    /// The refunds of a subscription that ended by 중도해지 or 청약철회 (a repeated request).
    async fn ended_with(&self, sub: SubscriptionRow) -> Result<Cancellation, ActionError> {
        let ids: Vec<String> = self
            .0
            .store
            .list_refunds(None, Some(sub.id), None, 100)
            .await?
            .into_iter()
            .rev()
            .filter(|r| matches!(r.kind, RefundKind::MidTerm | RefundKind::Withdrawal))
            .map(|r| r.id)
            .collect();
        let refunds = self.0.refunds.run_and_wait(&ids).await?;
        Ok(Cancellation {
            subscription: sub,
            refunds,
        })
    }

    /// Decides and writes, holding the lease; returns the refunds' ids. On an error nothing was
    /// written and the lease is still held.
    async fn end_with_refund_leased(
        &self,
        sub: &SubscriptionRow,
        owner: &str,
        choice: Choice,
        expected_refund: Option<i64>,
        by: &str,
    ) -> Result<Vec<String>, ActionError> {
        let (situation, options, now) = self.cancel_options(sub).await?;
        let decided = match choice {
            Choice::Withdraw => options.withdraw.clone(),
            _ => options.now.clone(),
        };
        let offer = match decided {
            Ok(offer) => offer,
            Err(Refusal::WindowOver { closed_at }) => {
                let mid = options.now.as_ref().ok();
                return Err(ActionError::WithdrawalOver {
                    closed_at,
                    mid_term_refund: mid.map_or(0, |m| m.total),
                    holds_until: mid.map_or(now, |m| m.holds_until),
                });
            }
            Err(Refusal::Ended) => return Err(ActionError::Ended),
            Err(refusal @ Refusal::ChargeInProgress) => {
                return Err(ActionError::conflict(
                    refusal.code(),
                    "a charge of this period is still being confirmed with Toss; try again in a moment",
                ))
            }
            Err(refusal @ Refusal::NothingCharged) => {
                return Err(ActionError::conflict(
                    refusal.code(),
                    "nothing was charged for this period: cancel now or at the period's end instead",
                ))
            }
            Err(refusal @ Refusal::NotOffered) => {
                return Err(ActionError::conflict(
                    refusal.code(),
                    "withdrawal (청약철회) is not offered for this service: cancel now (중도해지) instead",
                ))
            }
        };
        if expected_refund.is_some_and(|e| e != offer.total) {
            return Err(ActionError::conflict(
                "PREVIEW_CHANGED",
                format!(
                    "this now refunds {}원, not {}원: confirm the new preview",
                    offer.total,
                    expected_refund.unwrap_or_default()
                ),
            ));
        }
        let (kind, suffix, reason) = match (choice, offer.as_mid_term) {
            (Choice::Withdraw, false) => (RefundKind::Withdrawal, "withdrawal", "청약철회"),
            (Choice::Withdraw, true) => (
                RefundKind::Withdrawal,
                "withdrawal",
                "청약철회 (이용한 기간 제외, 중도해지 금액)",
            ),
            _ => (
                RefundKind::MidTerm,
                "midterm",
                "중도해지 (이용하지 않은 기간 환불)",
            ),
        };
        let refunds: Vec<NewRefund> = offer
            .refunds
            .iter()
            .map(|r| NewRefund {
                id: format!("{}-{suffix}", r.order_id),
                order_id: r.order_id.clone(),
                amount: Some(r.amount),
                reason: reason.to_owned(),
                kind,
                requested_by: by.to_owned(),
            })
            .collect();
        debug_assert!(lifecycle::is_allowed(
            Some(sub.status),
            Trigger::CanceledNow,
            Status::Canceled
        ));
        let outstanding = self.0.store.outstanding_change(sub.id).await?;
        let (used_days, period_days) = options.days;
        let update = SubscriptionUpdate {
            status: Some(Status::Canceled),
            next_charge_at: Some(None),
            canceled_at: Some(now),
            ended_reason: Some(ended_reason(choice)),
            change: outstanding.map(|c| (c.id, ChangeStatus::Withdrawn)),
            events: vec![event(
                "subscription.canceled",
                json!({
                    "reason": ended_reason(choice), "by": by, "period": sub.period_no,
                    "policy": match choice { Choice::Withdraw => "withdrawal", _ => "mid_term" },
                    "periodMarkedUsed": situation.period_used,
                    "usedDays": used_days, "periodDays": period_days,
                    "refund": offer.total, "refunds": offer.refunds,
                }),
            )],
            ..SubscriptionUpdate::default()
        };
        match self
            .0
            .store
            .update_subscription_with_refunds(sub.id, owner, &update, &refunds, now)
            .await?
        {
            Ended::Done(rows) => Ok(rows.into_iter().map(|r| r.id).collect()),
            Ended::LeaseLost => Err(ActionError::Busy),
            Ended::OverBalance { order_id, balance } => Err(ActionError::conflict(
                "PREVIEW_CHANGED",
                format!(
                    "only {balance}원 of {order_id} is left to refund: look at the preview again"
                ),
            )),
        }
    }

    /// The merchant's app marks the current period as used (the service or content was
    /// supplied): 청약철회 of it then refunds the 중도해지 amount. Idempotent; returns the period and
    /// when it was first marked.
    pub async fn mark_period_used(&self, id: i64) -> Result<(i64, Millis), ActionError> {
        let sub = self
            .0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)?;
        if !sub.status.is_live() {
            return Err(ActionError::Ended);
        }
        let now = self.0.clock.now_ms();
        let detail = json!({ "period": sub.period_no }).to_string();
        let at = self
            .0
            .store
            .mark_period_used(
                sub.id,
                sub.period_no,
                ("subscription.period_used", &detail),
                now,
            )
            .await?;
        Ok((sub.period_no, at))
    }

    /// "Retry now" (operator): the subscription is due at once.
    pub async fn retry_now(&self, id: i64) -> Result<SubscriptionRow, ActionError> {
        let sub = self
            .0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)?;
        if !sub.status.is_live() {
            return Err(ActionError::Ended);
        }
        let now = self.0.clock.now_ms();
        let update = SubscriptionUpdate {
            next_charge_at: Some(Some(now)),
            ..SubscriptionUpdate::default()
        };
        self.0
            .store
            .update_subscription(id, None, &update, false, now)
            .await?;
        self.0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)
    }
}
