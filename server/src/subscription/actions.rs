//! What a customer or the operator does to a subscription directly: cancel (now, or 일반해지 at
//! the period's end, undoable until then) and "retry now". Each claims the subscription's lease,
//! so it never races the scheduler's work on it.

use serde_json::json;

use super::{event, ActionError, Subscriptions};
use crate::billing::lifecycle::{self, ChangeStatus, Status, Trigger};
use crate::clock::iso_kst;
use crate::store::subscriptions::{SubscriptionRow, SubscriptionUpdate};

/// When a cancellation takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelWhen {
    /// 일반해지: keep the paid period; charge nothing more.
    PeriodEnd,
    /// End now.
    Now,
}

impl Subscriptions {
    /// Claims the subscription's lease for an action, or says it is busy.
    pub(super) async fn claim_for_action(
        &self,
        id: i64,
    ) -> Result<(SubscriptionRow, String), ActionError> {
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
        let owner = format!("{}:action", self.0.settings.owner);
        match self.claim_one(id, &owner, now).await? {
            Some(sub) if sub.status.is_live() => Ok((sub, owner)),
            Some(sub) => {
                self.release(&sub, &owner, sub.next_charge_at, vec![])
                    .await?;
                Err(ActionError::Ended)
            }
            None => Err(ActionError::Busy),
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
