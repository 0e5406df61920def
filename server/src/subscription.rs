//! Subscriptions on top of charges: a new billing key starts a subscription or becomes the card of
//! the live one; the scheduler charges each due subscription exactly once per period, retries soft
//! declines on the dunning schedule, and records every transition as an event (the notices a
//! merchant sends its customers; `notices` delivers them).
//!
//! Exactly once per period: a subscription is worked on under a lease in the database (any number
//! of instances run the scheduler); its attempts are unique per (subscription, period, attempt);
//! a new attempt is made only after the previous one *failed*, an unknown outcome is reconciled by
//! `charge` (Toss's order lookup) before anything new is sent, and nothing follows a success.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::billing::dunning::{self, Decision, FinalState, RetryPolicy};
use crate::billing::period;
use crate::charge::{ChargeError, ChargeRequest, Charges};
use crate::clock::{iso_kst, Clock, Millis};
use crate::ids;
use crate::store::subscriptions::{
    AttemptRow, NewSubscription, PlanRow, SubscriptionRow, SubscriptionStatus, SubscriptionUpdate,
    UnappliedKey,
};
use crate::store::{Store, StoreError};

/// How subscriptions behave.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// This instance's name in leases.
    pub owner: String,
    /// A lease on one subscription.
    pub lease: Duration,
    /// A customer who registers a card without a live subscription subscribes to this plan.
    pub plan_on_registration: Option<String>,
    /// Retries and the final state.
    pub policy: RetryPolicy,
    /// Subscriptions worked on at once by one instance.
    pub concurrency: usize,
    /// How many due subscriptions one pass claims.
    pub batch: i64,
    /// How soon to look again at an attempt whose outcome is not final yet.
    pub recheck: Duration,
}

/// Why a customer's or operator's action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such subscription (or plan).
    #[error("no such subscription")]
    NotFound,
    /// It has ended.
    #[error("the subscription has ended")]
    Ended,
    /// Another instance is working on it right now.
    #[error("the subscription is being charged right now; try again in a moment")]
    Busy,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// When a cancellation takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelWhen {
    /// Keep the paid period; charge nothing more.
    PeriodEnd,
    /// End now.
    Now,
}

struct Inner {
    store: Store,
    charges: Charges,
    clock: Clock,
    settings: SubscriptionSettings,
}

/// The subscription service. Cheap to clone.
#[derive(Clone)]
pub struct Subscriptions(Arc<Inner>);

impl Subscriptions {
    /// The service.
    pub fn new(
        store: Store,
        charges: Charges,
        clock: Clock,
        settings: SubscriptionSettings,
    ) -> Subscriptions {
        Subscriptions(Arc::new(Inner {
            store,
            charges,
            clock,
            settings,
        }))
    }

    /// The plan new registrations subscribe to, if any.
    pub async fn registration_plan(&self) -> Result<Option<PlanRow>, StoreError> {
        match &self.0.settings.plan_on_registration {
            Some(id) => self.0.store.plan(id).await,
            None => Ok(None),
        }
    }

    /// Applies every billing key not yet applied: a new subscription, or a card change (a
    /// past-due subscription is then retried at once). Idempotent and crash-safe (one transaction
    /// per key); run after each registration and by the reconciler.
    pub async fn apply_registrations(&self) -> Result<usize, StoreError> {
        let keys = self.0.store.unapplied_billing_keys(100).await?;
        let plan = self.registration_plan().await?;
        let mut applied = 0;
        for key in &keys {
            if self.apply(key, plan.as_ref()).await?.is_some() {
                applied += 1;
            }
        }
        Ok(applied)
    }

    async fn apply(
        &self,
        key: &UnappliedKey,
        plan: Option<&PlanRow>,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.0.clock.now_ms();
        let prefix = format!("s{}", &ids::random_token::<9>().replace(['-', '_'], "x"));
        let (start, end) = plan.map_or((now, now), |p| period::period(p.period_cycle(), now, 0));
        let created = plan.map(|p| {
            json!({
                "planId": p.id, "planName": p.name, "amount": p.amount,
                "firstChargeAt": iso_kst(start), "periodEnd": iso_kst(end),
            })
            .to_string()
        });
        let new = plan
            .zip(created.as_deref())
            .map(|(p, detail)| NewSubscription {
                customer_key: &key.customer_key,
                plan_id: &p.id,
                billing_key_id: key.id,
                order_prefix: &prefix,
                first_period: (start, end),
                first_charge_at: start,
                event_detail: detail,
            });
        let changed = json!({ "billingKeyId": key.id }).to_string();
        let result = self
            .0
            .store
            .apply_billing_key(key, new, &changed, now)
            .await;
        match result {
            Ok(id) => Ok(id),
            // Another instance created the customer's live subscription a moment ago: the key is
            // still unapplied, and the next pass makes it that subscription's card.
            Err(e) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One scheduler pass: claims due subscriptions and works on them, `concurrency` at a time.
    /// Returns how many were worked on.
    pub async fn run_due(&self) -> Result<usize, StoreError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        let claimed = self
            .0
            .store
            .claim_due_subscriptions(
                &self.0.settings.owner,
                now,
                lease_until,
                self.0.settings.batch,
            )
            .await?;
        let count = claimed.len();
        // Each plan once per pass, not once per subscription: a pass works on up to `batch`
        // subscriptions of a handful of plans, and every round trip saved is latency taken off
        // each charge (a price change still applies from the next pass on).
        let mut plans: HashMap<String, Option<PlanRow>> = HashMap::new();
        for sub in &claimed {
            if !plans.contains_key(&sub.plan_id) {
                let plan = self.0.store.plan(&sub.plan_id).await?;
                plans.insert(sub.plan_id.clone(), plan);
            }
        }
        let plans = &plans;
        futures::stream::iter(claimed)
            .for_each_concurrent(self.0.settings.concurrency, |sub| async move {
                let id = sub.id;
                let plan = plans.get(&sub.plan_id).cloned().flatten();
                if let Err(e) = self.work(sub, plan).await {
                    tracing::error!(subscription = id, error = %e, "subscription work failed; its lease lapses and it is tried again");
                }
            })
            .await;
        Ok(count)
    }

    /// Works on one claimed subscription until nothing is due now (catching up several periods
    /// after a long stop), then releases it with its next look.
    async fn work(
        &self,
        mut sub: SubscriptionRow,
        plan: Option<PlanRow>,
    ) -> Result<(), StoreError> {
        let owner = self.0.settings.owner.clone();
        let Some(plan) = plan else {
            tracing::error!(
                subscription = sub.id,
                plan = sub.plan_id,
                "the subscription's plan is gone"
            );
            let later = self.0.clock.now_ms() + 3_600_000;
            return self.release(&sub, Some(later), vec![]).await;
        };
        let mut attempts = self.0.store.attempts(sub.id, Some(sub.period_no)).await?;
        for _ in 0..24 {
            let now = self.0.clock.now_ms();
            let views: Vec<dunning::Attempt> = attempts
                .iter()
                .map(|a| dunning::Attempt {
                    attempt_no: a.attempt_no,
                    status: a.status,
                    code: a.result_code.clone(),
                    created_at: a.created_at,
                    billing_key_id: a.billing_key_id,
                    order_id: a.order_id.clone(),
                })
                .collect();
            let current = dunning::Current {
                billing_key_id: sub.billing_key_id,
                card_changed_at: sub.card_changed_at,
                cancel_at_period_end: sub.cancel_at_period_end,
            };
            let decision = dunning::decide(&current, &views, &self.0.settings.policy, now);
            match decision {
                Decision::Charge { attempt_no } => {
                    // Retries of a period charge the period's amount; a new period the plan's.
                    let amount = attempts.first().map_or(plan.amount, |a| a.amount);
                    let request = ChargeRequest {
                        order_id: format!("{}-{}-{}", sub.order_prefix, sub.period_no, attempt_no),
                        customer_key: sub.customer_key.clone(),
                        amount,
                        order_name: plan.name.chars().take(100).collect(),
                        billing_key_id: Some(sub.billing_key_id),
                        subscription: Some((sub.id, sub.period_no, attempt_no)),
                    };
                    match self
                        .0
                        .charges
                        .charge_now(&request, sub.billing_key_id)
                        .await
                    {
                        Ok(charge) => attempts.push(AttemptRow {
                            order_id: charge.order_id,
                            period_no: sub.period_no,
                            attempt_no,
                            status: charge.status,
                            amount: charge.amount,
                            result_code: charge.result_code,
                            payment_key: charge.payment_key,
                            billing_key_id: charge.billing_key_id,
                            created_at: charge.created_at,
                        }),
                        // Another runner recorded this attempt a moment ago: read what it did.
                        Err(ChargeError::Store(e)) if e.is_unique_violation() => {
                            attempts = self.0.store.attempts(sub.id, Some(sub.period_no)).await?;
                        }
                        Err(ChargeError::Store(e)) => return Err(e),
                        Err(e) => {
                            tracing::error!(subscription = sub.id, error = %e, "the attempt could not be recorded");
                            return self.release(&sub, Some(now + 3_600_000), vec![]).await;
                        }
                    }
                }
                Decision::Await { order_id } => {
                    // Not final: the charge's own runner (or the reconciler) settles it; look
                    // again soon, send nothing new.
                    self.0.charges.start(&order_id).await?;
                    let recheck = now + self.0.settings.recheck.as_millis() as i64;
                    return self.release(&sub, Some(recheck), vec![]).await;
                }
                Decision::Paid => {
                    let paid = attempts.last().expect("paid means an attempt");
                    let next_no = sub.period_no + 1;
                    let (start, end) =
                        period::period(plan.period_cycle(), sub.anchor_at, next_no as u32);
                    let mut events = vec![(
                        "invoice.paid".to_owned(),
                        json!({
                            "orderId": paid.order_id, "amount": paid.amount, "paymentKey": paid.payment_key,
                            "period": sub.period_no, "periodStart": iso_kst(sub.current_period_start),
                            "periodEnd": iso_kst(sub.current_period_end), "nextChargeAt": iso_kst(start),
                        })
                        .to_string(),
                    )];
                    if sub.status == SubscriptionStatus::PastDue {
                        events.push((
                            "subscription.recovered".to_owned(),
                            json!({ "period": sub.period_no }).to_string(),
                        ));
                    }
                    // Released with its next look in the same statement, unless the next period
                    // is due already (catching up after a long stop).
                    let release = start > now;
                    let update = SubscriptionUpdate {
                        status: Some(SubscriptionStatus::Active),
                        period: Some((next_no, start, end)),
                        next_charge_at: Some(Some(start)),
                        events,
                        ..SubscriptionUpdate::default()
                    };
                    let kept = self
                        .0
                        .store
                        .update_subscription(sub.id, Some(&owner), &update, release, now)
                        .await?;
                    if !kept || release {
                        return Ok(());
                    }
                    sub.status = SubscriptionStatus::Active;
                    sub.period_no = next_no;
                    sub.current_period_start = start;
                    sub.current_period_end = end;
                    attempts.clear();
                }
                Decision::RetryAt(at) | Decision::AwaitNewCard(at) => {
                    let failed = attempts.last().expect("a failure means an attempt");
                    let class = failed
                        .result_code
                        .as_deref()
                        .map(crate::toss::codes::decline_class);
                    let retrying = matches!(decision, Decision::RetryAt(_));
                    let mut events = Vec::new();
                    if !has_event_for(
                        &self.0.store,
                        sub.id,
                        "invoice.payment_failed",
                        &failed.order_id,
                    )
                    .await?
                    {
                        events.push((
                            "invoice.payment_failed".to_owned(),
                            json!({
                                "orderId": failed.order_id, "amount": failed.amount, "code": failed.result_code,
                                "declineClass": class, "nextRetryAt": retrying.then(|| iso_kst(at)),
                                "updateCardBy": (!retrying).then(|| iso_kst(at)),
                            })
                            .to_string(),
                        ));
                    }
                    if sub.status != SubscriptionStatus::PastDue {
                        events.push((
                            "subscription.past_due".to_owned(),
                            json!({ "period": sub.period_no }).to_string(),
                        ));
                    }
                    let update = SubscriptionUpdate {
                        status: Some(SubscriptionStatus::PastDue),
                        next_charge_at: Some(Some(at)),
                        events,
                        ..SubscriptionUpdate::default()
                    };
                    self.0
                        .store
                        .update_subscription(sub.id, Some(&owner), &update, true, now)
                        .await?;
                    return Ok(());
                }
                Decision::GiveUp => {
                    let (status, kind) = match self.0.settings.policy.final_state {
                        FinalState::Canceled => {
                            (SubscriptionStatus::Canceled, "subscription.canceled")
                        }
                        FinalState::Unpaid => (SubscriptionStatus::Unpaid, "subscription.unpaid"),
                    };
                    let update = SubscriptionUpdate {
                        status: Some(status),
                        next_charge_at: Some(None),
                        canceled_at: (status == SubscriptionStatus::Canceled).then_some(now),
                        events: vec![(
                            kind.to_owned(),
                            json!({ "reason": "retries_exhausted", "period": sub.period_no })
                                .to_string(),
                        )],
                        ..SubscriptionUpdate::default()
                    };
                    self.0
                        .store
                        .update_subscription(sub.id, Some(&owner), &update, true, now)
                        .await?;
                    return Ok(());
                }
                Decision::Cancel => {
                    let update = SubscriptionUpdate {
                        status: Some(SubscriptionStatus::Canceled),
                        next_charge_at: Some(None),
                        canceled_at: Some(now),
                        events: vec![(
                            "subscription.canceled".to_owned(),
                            json!({ "reason": "canceled_at_period_end" }).to_string(),
                        )],
                        ..SubscriptionUpdate::default()
                    };
                    self.0
                        .store
                        .update_subscription(sub.id, Some(&owner), &update, true, now)
                        .await?;
                    return Ok(());
                }
            }
        }
        let now = self.0.clock.now_ms();
        self.release(&sub, Some(now), vec![]).await
    }

    async fn release(
        &self,
        sub: &SubscriptionRow,
        next: Option<Millis>,
        events: Vec<(String, String)>,
    ) -> Result<(), StoreError> {
        let update = SubscriptionUpdate {
            next_charge_at: Some(next),
            events,
            ..SubscriptionUpdate::default()
        };
        let now = self.0.clock.now_ms();
        self.0
            .store
            .update_subscription(sub.id, Some(&self.0.settings.owner), &update, true, now)
            .await?;
        Ok(())
    }

    /// Cancels a subscription, now or at the end of the paid period.
    pub async fn cancel(
        &self,
        id: i64,
        when: CancelWhen,
        by: &str,
    ) -> Result<SubscriptionRow, ActionError> {
        let sub = self
            .0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)?;
        if !matches!(
            sub.status,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue
        ) {
            return Err(ActionError::Ended);
        }
        let now = self.0.clock.now_ms();
        let owner = format!("{}:action", self.0.settings.owner);
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        if self
            .0
            .store
            .claim_subscription(id, &owner, now, lease_until)
            .await?
            .is_none()
        {
            return Err(ActionError::Busy);
        }
        let update = match when {
            CancelWhen::Now => SubscriptionUpdate {
                status: Some(SubscriptionStatus::Canceled),
                next_charge_at: Some(None),
                canceled_at: Some(now),
                events: vec![(
                    "subscription.canceled".to_owned(),
                    json!({ "reason": "canceled", "by": by }).to_string(),
                )],
                ..SubscriptionUpdate::default()
            },
            CancelWhen::PeriodEnd => SubscriptionUpdate {
                cancel_at_period_end: Some(true),
                events: vec![(
                    "subscription.cancel_scheduled".to_owned(),
                    json!({ "by": by, "endsAt": iso_kst(sub.current_period_end) }).to_string(),
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

    /// "Retry now" (operator): the subscription is due at once.
    pub async fn retry_now(&self, id: i64) -> Result<SubscriptionRow, ActionError> {
        let sub = self
            .0
            .store
            .subscription(id)
            .await?
            .ok_or(ActionError::NotFound)?;
        if !matches!(
            sub.status,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue
        ) {
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

    /// Changes a plan's amount: it applies from each subscription's next period (a period being
    /// charged or retried keeps its amount). Returns how many subscriptions were told.
    pub async fn change_plan_amount(&self, plan_id: &str, amount: i64) -> Result<u64, ActionError> {
        let plan = self
            .0
            .store
            .plan(plan_id)
            .await?
            .ok_or(ActionError::NotFound)?;
        let event = json!({ "planId": plan.id, "from": plan.amount, "to": amount }).to_string();
        Ok(self
            .0
            .store
            .set_plan_amount(plan_id, amount, &event, self.0.clock.now_ms())
            .await?)
    }

    /// The store (for the routes' reads).
    pub fn store(&self) -> &Store {
        &self.0.store
    }
}

async fn has_event_for(
    store: &Store,
    subscription_id: i64,
    kind: &str,
    order_id: &str,
) -> Result<bool, StoreError> {
    Ok(store
        .events(subscription_id)
        .await?
        .iter()
        .any(|e| e.kind == kind && e.detail.contains(&format!("\"orderId\":\"{order_id}\""))))
}
