//! Subscriptions: the shell around the pure lifecycle (`billing::lifecycle`). It loads a
//! subscription as a [`Snapshot`], asks [`lifecycle::decide`] for the next step, and performs it —
//! a charge through `crate::charge`, or one transaction of the store with its events — until
//! nothing is due; then it releases the subscription with its next look.
//!
//! - [`registration`]: a card registered on a checkout session starts a subscription on exactly
//!   the session's terms (or becomes the card of the live one), and the hand-off's outcome;
//! - [`changes`]: the operator's price changes, the customer's consent, plan switches;
//! - [`actions`]: cancellation — 일반해지 (and its undo), 중도해지 and 청약철회 with their refunds
//!   written in the transaction that ends the subscription (`billing::refund_policy` decides the
//!   amounts) —, the merchant's "period used" mark, retry now.
//!
//! Exactly once per period: a subscription is worked on under a lease in the database (any number
//! of instances run the scheduler); its attempts are unique per (subscription, period, purpose,
//! attempt); the lifecycle never charges after a success and never after an unknown outcome, which
//! `charge` reconciles with Toss's order lookup first.

pub mod actions;
pub mod changes;
pub mod registration;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::billing::dunning::{self, RetryPolicy};
use crate::billing::lifecycle::{self, Change, Notice, Snapshot, Status, Step};
use crate::charge::{ChargeError, ChargeRequest, Charges};
use crate::clock::{iso_kst, Clock, Millis};
use crate::metrics::{LeasedWork, Metrics};
use crate::refund::Refunds;
use crate::store::subscriptions::{
    cycle_of, PlanRow, SubscriptionRow, SubscriptionStatus, SubscriptionUpdate,
};
use crate::store::{Store, StoreError};

pub use actions::CancelWhen;

/// How subscriptions behave.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// This instance's name in leases.
    pub owner: String,
    /// A lease on one subscription.
    pub lease: Duration,
    /// The plan a checkout session is for when the page names none.
    pub default_plan: Option<String>,
    /// The version of the cancellation terms' text the pages show.
    pub terms_version: String,
    /// Retries and the final state.
    pub policy: RetryPolicy,
    /// Subscriptions worked on at once by one instance.
    pub concurrency: usize,
    /// How many due subscriptions one pass claims.
    pub batch: i64,
    /// How soon to look again at an attempt whose outcome is not final yet.
    pub recheck: Duration,
    /// The customer's cancellation rights: 청약철회's window, what 중도해지 refunds.
    pub cancellation: crate::billing::refund_policy::Policy,
}

/// Why a customer's or operator's action was refused. Each variant is a documented answer
/// (`routes::subscriptions`).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such subscription, plan or change.
    #[error("no such subscription")]
    NotFound,
    /// It has ended.
    #[error("the subscription has ended")]
    Ended,
    /// Another instance is working on it right now.
    #[error("the subscription is being charged right now; try again in a moment")]
    Busy,
    /// The request does not fit the subscription's state (the message says why).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// 청약철회 asked for after its window closed: 중도해지 is offered instead.
    #[error("the withdrawal period (청약철회) ended at {}; cancelling now (중도해지) refunds {mid_term_refund}원", crate::clock::iso_kst(*closed_at))]
    WithdrawalOver {
        /// When the window closed.
        closed_at: Millis,
        /// What 중도해지 refunds now.
        mid_term_refund: i64,
        /// Until when that amount holds.
        holds_until: Millis,
    },
    /// The request itself is wrong (the message names the field).
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ActionError {
    fn conflict(code: &'static str, message: impl Into<String>) -> ActionError {
        ActionError::Conflict(code, message.into())
    }
}

struct Inner {
    store: Store,
    charges: Charges,
    refunds: Refunds,
    clock: Clock,
    settings: SubscriptionSettings,
    metrics: Metrics,
}

/// The subscription service. Cheap to clone.
#[derive(Clone)]
pub struct Subscriptions(Arc<Inner>);

/// Whether the work loop goes on after a step.
enum Then {
    /// Decide again.
    Continue,
    /// Released (or the lease was lost): stop.
    Stop,
}

impl Subscriptions {
    /// The service.
    pub fn new(
        store: Store,
        charges: Charges,
        refunds: Refunds,
        clock: Clock,
        settings: SubscriptionSettings,
        metrics: Metrics,
    ) -> Subscriptions {
        Subscriptions(Arc::new(Inner {
            store,
            charges,
            refunds,
            clock,
            settings,
            metrics,
        }))
    }

    /// The store (for the routes' reads).
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    /// The settings.
    pub fn settings(&self) -> &SubscriptionSettings {
        &self.0.settings
    }

    fn lease_until(&self, now: Millis) -> Millis {
        now + self.0.settings.lease.as_millis() as i64
    }

    /// Counts a claim that replaced a lapsed lease.
    fn count_takeover(&self, claimed: &SubscriptionRow) {
        if claimed.lease_taken_from.is_some() {
            self.0.metrics.lease_taken_over(LeasedWork::Subscription);
        }
    }

    /// Takes the lease of one subscription for `owner` (the hand-off's first charge, an action).
    async fn claim_one(
        &self,
        id: i64,
        owner: &str,
        now: Millis,
    ) -> Result<Option<SubscriptionRow>, StoreError> {
        let claimed = self
            .0
            .store
            .claim_subscription(id, owner, now, self.lease_until(now))
            .await?;
        if let Some(sub) = &claimed {
            self.count_takeover(sub);
        }
        Ok(claimed)
    }

    /// One scheduler pass: applies price changes whose date came, then claims due subscriptions
    /// and works on them, `concurrency` at a time. Returns how many were worked on.
    pub async fn run_due(&self) -> Result<usize, StoreError> {
        self.apply_due_price_changes().await?;
        let now = self.0.clock.now_ms();
        let claimed = self
            .0
            .store
            .claim_due_subscriptions(
                &self.0.settings.owner,
                now,
                self.lease_until(now),
                self.0.settings.batch,
            )
            .await?;
        let count = claimed.len();
        claimed.iter().for_each(|sub| self.count_takeover(sub));
        // Each plan once per pass: a pass works on up to `batch` subscriptions of a handful of
        // plans, and every round trip saved is latency taken off each charge.
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
                if let Err(e) = self.work(sub, plan, &self.0.settings.owner).await {
                    tracing::error!(subscription = id, error = %e, "subscription work failed; its lease lapses and it is tried again");
                }
            })
            .await;
        Ok(count)
    }

    /// Works on one subscription now if nobody else is (the hand-off's first charge). False if
    /// another runner holds it.
    pub async fn work_now(&self, id: i64) -> Result<bool, StoreError> {
        let owner = format!("{}:now", self.0.settings.owner);
        let now = self.0.clock.now_ms();
        let Some(sub) = self.claim_one(id, &owner, now).await? else {
            return Ok(false);
        };
        let plan = self.0.store.plan(&sub.plan_id).await?;
        self.work(sub, plan, &owner).await?;
        Ok(true)
    }

    /// The subscription as the lifecycle sees it.
    async fn snapshot(
        &self,
        sub: &SubscriptionRow,
        plan: &PlanRow,
    ) -> Result<Snapshot, StoreError> {
        let store = &self.0.store;
        let attempts = store
            .attempts(sub.id, Some(sub.period_no))
            .await?
            .into_iter()
            .map(|a| dunning::Attempt {
                attempt_no: a.attempt_no,
                status: a.status,
                code: a.result_code,
                created_at: a.created_at,
                billing_key_id: a.billing_key_id,
                order_id: a.order_id,
            })
            .collect();
        // An upgrade in flight is not the lifecycle's business: it applies when its proration
        // charge is paid (`settle_upgrade`), and the periods go on meanwhile on the current terms.
        let change = match store
            .outstanding_change(sub.id)
            .await?
            .filter(|c| c.kind != lifecycle::ChangeKind::Upgrade)
        {
            Some(c) => {
                let to_cycle = if c.to_plan_id != sub.plan_id {
                    self.plan_cycle(&c.to_plan_id).await?
                } else {
                    None
                };
                Some(Change {
                    id: c.id,
                    kind: c.kind,
                    status: c.status,
                    to_amount: c.to_amount,
                    to_plan_id: c.to_plan_id,
                    to_cycle,
                    effective_at: c.effective_at,
                    consent_opens_at: c.consent_opens_at,
                    requested_at: c.requested_at,
                })
            }
            None => None,
        };
        let card_usable = store
            .billing_key(sub.billing_key_id)
            .await?
            .is_some_and(|k| k.is_usable());
        Ok(Snapshot {
            attempts,
            change,
            card_usable,
            ..changes::light_snapshot(sub, plan)
        })
    }

    /// Works on one claimed subscription until nothing is due now (catching up several periods
    /// after a long stop), then releases it with its next look.
    async fn work(
        &self,
        mut sub: SubscriptionRow,
        plan: Option<PlanRow>,
        owner: &str,
    ) -> Result<(), StoreError> {
        let Some(plan) = plan else {
            tracing::error!(
                subscription = sub.id,
                plan = sub.plan_id,
                "the subscription's plan is gone"
            );
            let later = self.0.clock.now_ms() + 3_600_000;
            return self.release(&sub, owner, Some(later), vec![]).await;
        };
        let mut plan = plan;
        self.settle_upgrade(sub.id).await?;
        for _ in 0..64 {
            let snapshot = self.snapshot(&sub, &plan).await?;
            let now = self.0.clock.now_ms();
            let step = lifecycle::decide(&snapshot, &self.0.settings.policy, now);
            if let Some((trigger, to)) = step.transition() {
                if !lifecycle::is_allowed(Some(sub.status), trigger, to) {
                    tracing::error!(subscription = sub.id, from = ?sub.status, ?trigger, ?to, "an undeclared transition was refused");
                    return self
                        .release(&sub, owner, Some(now + 3_600_000), vec![])
                        .await;
                }
            }
            match self
                .perform(&sub, &plan, &snapshot, step, owner, now)
                .await?
            {
                Then::Continue => {}
                Then::Stop => return Ok(()),
            }
            let Some(fresh) = self.0.store.subscription(sub.id).await? else {
                return Ok(());
            };
            if fresh.plan_id != plan.id {
                match self.0.store.plan(&fresh.plan_id).await? {
                    Some(p) => plan = p,
                    None => return Ok(()),
                }
            }
            sub = fresh;
        }
        let now = self.0.clock.now_ms();
        self.release(&sub, owner, Some(now), vec![]).await
    }

    /// Performs one step: one charge, or one transaction with its events.
    async fn perform(
        &self,
        sub: &SubscriptionRow,
        plan: &PlanRow,
        snapshot: &Snapshot,
        step: Step,
        owner: &str,
        now: Millis,
    ) -> Result<Then, StoreError> {
        let update = match step {
            Step::Sleep { until } => {
                return self
                    .release(sub, owner, until, vec![])
                    .await
                    .map(|_| Then::Stop)
            }
            Step::Charge { attempt_no, amount } => {
                return self.charge(sub, plan, attempt_no, amount, owner, now).await;
            }
            Step::Await { order_id } => {
                // Not final: the charge's own runner (or the reconciler) settles it; look again
                // soon, send nothing new.
                self.0.charges.start(&order_id).await?;
                let recheck = now + self.0.settings.recheck.as_millis() as i64;
                return self
                    .release(sub, owner, Some(recheck), vec![])
                    .await
                    .map(|_| Then::Stop);
            }
            Step::Notify(notice) => self.notice_update(sub, snapshot, notice, now).await?,
            Step::Paid { to, until } => paid_update(sub, snapshot, to, until),
            Step::Declined {
                to,
                retry_at,
                update_card_by,
            } => {
                let failed = snapshot.attempts.last().expect("a decline has an attempt");
                let mut events = Vec::new();
                let first_time = !self
                    .has_event_for(sub.id, "invoice.payment_failed", &failed.order_id)
                    .await?;
                if first_time {
                    let class = failed
                        .code
                        .as_deref()
                        .map(crate::toss::codes::decline_class);
                    events.push(event(
                        "invoice.payment_failed",
                        json!({
                            "orderId": failed.order_id, "amount": snapshot.amount, "code": failed.code,
                            "declineClass": class, "nextRetryAt": retry_at.map(iso_kst),
                            "updateCardBy": update_card_by.map(iso_kst),
                        }),
                    ));
                }
                // The merchant's "your card was declined" hooks: past due once per period; an
                // unpaid first charge after each declined card (the customer may try another).
                if to == Status::Incomplete && first_time {
                    events.push(event(
                        "subscription.incomplete",
                        json!({ "period": sub.period_no, "updateCardBy": update_card_by.map(iso_kst) }),
                    ));
                } else if sub.status != to {
                    events.push(event(
                        "subscription.past_due",
                        json!({ "period": sub.period_no }),
                    ));
                }
                let next = retry_at.or(update_card_by);
                let update = SubscriptionUpdate {
                    status: Some(to),
                    next_charge_at: Some(next),
                    events,
                    ..SubscriptionUpdate::default()
                };
                self.0
                    .store
                    .update_subscription(sub.id, Some(owner), &update, true, now)
                    .await?;
                return Ok(Then::Stop);
            }
            Step::Open {
                period_no,
                period,
                amount,
                applies,
                plan_id,
                reanchor,
            } => {
                let mut events = vec![];
                if let Some(change_id) = applies {
                    events.push(event(
                        "subscription.change_applied",
                        json!({ "changeId": change_id, "fromAmount": sub.amount, "toAmount": amount,
                                "planId": plan_id, "period": period_no }),
                    ));
                }
                SubscriptionUpdate {
                    period: Some((period_no, period.0, period.1)),
                    amount: Some(amount),
                    plan_id,
                    anchor: reanchor,
                    change: applies.map(|id| (id, lifecycle::ChangeStatus::Applied)),
                    next_charge_at: Some(Some(now)),
                    events,
                    ..SubscriptionUpdate::default()
                }
            }
            Step::End {
                to, reason, lapses, ..
            } => {
                let kind = match to {
                    Status::Unpaid => "subscription.unpaid",
                    Status::IncompleteExpired => "subscription.incomplete_expired",
                    _ => "subscription.canceled",
                };
                let lapsed = lapses.and_then(|id| {
                    snapshot.change.as_ref().filter(|c| c.id == id).map(|c| {
                        let status = if c.kind.needs_consent()
                            && c.status != lifecycle::ChangeStatus::Declined
                        {
                            lifecycle::ChangeStatus::Lapsed
                        } else if c.status == lifecycle::ChangeStatus::Declined {
                            lifecycle::ChangeStatus::Declined
                        } else {
                            lifecycle::ChangeStatus::Withdrawn
                        };
                        (id, status)
                    })
                });
                let update = SubscriptionUpdate {
                    status: Some(to),
                    next_charge_at: Some(None),
                    canceled_at: (to != Status::Unpaid).then_some(now),
                    ended_reason: Some(reason.as_str()),
                    change: lapsed,
                    events: vec![event(
                        kind,
                        json!({ "reason": reason.as_str(), "period": sub.period_no,
                                "periodEnd": iso_kst(sub.current_period_end) }),
                    )],
                    ..SubscriptionUpdate::default()
                };
                self.0
                    .store
                    .update_subscription(sub.id, Some(owner), &update, true, now)
                    .await?;
                return Ok(Then::Stop);
            }
        };
        let kept = self
            .0
            .store
            .update_subscription(sub.id, Some(owner), &update, false, now)
            .await?;
        if !kept {
            return Ok(Then::Stop);
        }
        if update.period.is_some() {
            // A new period may free the change slot: attach the plan's scheduled price changes
            // that reach this subscription.
            if let Some(fresh) = self.0.store.subscription(sub.id).await? {
                self.attach_scheduled_changes(&fresh).await?;
            }
        }
        Ok(Then::Continue)
    }

    /// Charges the current period as `attempt_no`.
    async fn charge(
        &self,
        sub: &SubscriptionRow,
        plan: &PlanRow,
        attempt_no: i64,
        amount: i64,
        owner: &str,
        now: Millis,
    ) -> Result<Then, StoreError> {
        let request = ChargeRequest {
            order_id: format!("{}-{}-{}", sub.order_prefix, sub.period_no, attempt_no),
            customer_key: sub.customer_key.clone(),
            amount,
            order_name: plan.name.chars().take(100).collect(),
            billing_key_id: Some(sub.billing_key_id),
            subscription: Some((sub.id, sub.period_no, attempt_no)),
            purpose: crate::store::charges::ChargePurpose::Period,
        };
        match self
            .0
            .charges
            .charge_now(&request, sub.billing_key_id)
            .await
        {
            Ok(_) => Ok(Then::Continue),
            // Another runner recorded this attempt a moment ago: read what it did.
            Err(ChargeError::Store(e)) if e.is_unique_violation() => Ok(Then::Continue),
            Err(ChargeError::Store(e)) => Err(e),
            Err(e) => {
                tracing::error!(subscription = sub.id, error = %e, "the attempt could not be recorded");
                self.release(sub, owner, Some(now + 3_600_000), vec![])
                    .await?;
                Ok(Then::Stop)
            }
        }
    }

    /// The update that records a notice: its event, and that it was sent.
    async fn notice_update(
        &self,
        sub: &SubscriptionRow,
        snapshot: &Snapshot,
        notice: Notice,
        now: Millis,
    ) -> Result<SubscriptionUpdate, StoreError> {
        Ok(match notice {
            Notice::TrialWillEnd => {
                let ends = sub.trial_ends_at.unwrap_or(sub.current_period_end);
                let consented = snapshot
                    .change
                    .as_ref()
                    .is_some_and(|c| c.status == lifecycle::ChangeStatus::Accepted);
                SubscriptionUpdate {
                    trial_notice_at: Some(now),
                    events: vec![event(
                        "subscription.trial_will_end",
                        json!({ "trialEndsAt": iso_kst(ends), "amount": snapshot.amount,
                                "conversionConsented": consented,
                                "ifNoConsent": "the subscription ends with the trial; nothing is charged" }),
                    )],
                    ..SubscriptionUpdate::default()
                }
            }
            Notice::ConsentRequested { change_id } => {
                let terms = match self.0.store.change(change_id).await? {
                    Some(change) => self.change_terms(sub, &change).await?,
                    None => json!({ "changeId": change_id }),
                };
                SubscriptionUpdate {
                    change_requested_at: Some((change_id, now)),
                    events: vec![event("subscription.consent_requested", terms)],
                    ..SubscriptionUpdate::default()
                }
            }
        })
    }

    async fn release(
        &self,
        sub: &SubscriptionRow,
        owner: &str,
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
            .update_subscription(sub.id, Some(owner), &update, true, now)
            .await?;
        Ok(())
    }

    async fn has_event_for(
        &self,
        subscription_id: i64,
        kind: &str,
        order_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .0
            .store
            .events(subscription_id)
            .await?
            .iter()
            .any(|e| e.kind == kind && e.detail.contains(&format!("\"orderId\":\"{order_id}\""))))
    }

    /// The cycle of a plan, by id (for a plan switch's next period).
    pub(crate) async fn plan_cycle(
        &self,
        plan_id: &str,
    ) -> Result<Option<crate::billing::period::Cycle>, StoreError> {
        Ok(self
            .0
            .store
            .plan(plan_id)
            .await?
            .map(|p| cycle_of(p.cycle, p.interval_days)))
    }
}

/// The update of a period whose charge was approved.
fn paid_update(
    sub: &SubscriptionRow,
    snapshot: &Snapshot,
    to: Status,
    until: Millis,
) -> SubscriptionUpdate {
    let paid = snapshot.attempts.last().expect("paid means an attempt");
    let mut events = vec![event(
        "invoice.paid",
        json!({
            "orderId": paid.order_id, "amount": snapshot.amount, "period": sub.period_no,
            "periodStart": iso_kst(sub.current_period_start), "periodEnd": iso_kst(sub.current_period_end),
            "nextChargeAt": iso_kst(sub.current_period_end),
        }),
    )];
    match sub.status {
        SubscriptionStatus::PastDue => {
            events.push(event(
                "subscription.recovered",
                json!({ "period": sub.period_no }),
            ));
        }
        SubscriptionStatus::Incomplete | SubscriptionStatus::Trialing => {
            events.push(event(
                "subscription.activated",
                json!({ "period": sub.period_no }),
            ));
        }
        _ => {}
    }
    SubscriptionUpdate {
        status: Some(to),
        period_paid: Some(true),
        next_charge_at: Some(Some(until)),
        events,
        ..SubscriptionUpdate::default()
    }
}

/// An event: its kind and JSON detail.
pub(crate) fn event(kind: &str, detail: serde_json::Value) -> (String, String) {
    (kind.to_owned(), detail.to_string())
}
