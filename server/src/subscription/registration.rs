//! A registered card and the subscription it starts: the checkout terms a page is shown
//! ([`Subscriptions::checkout_terms`]), the subscription started on exactly those terms when the
//! card's billing key is applied ([`Subscriptions::apply_registrations`]), and what the hand-off
//! tells the page about it ([`Subscriptions::registration_outcome`]).

use serde_json::json;
use toss_billing_contract::{DeclineClass, SubscriptionOutcome};

use super::{ActionError, Subscriptions};
use crate::billing::lifecycle::{self, ChangeKind, ChangeStatus, Status};
use crate::billing::period;
use crate::checkout::SessionTerms;
use crate::clock::{iso_kst, Millis};
use crate::ids;
use crate::store::changes::NewChange;
use crate::store::charges::ChargeStatus;
use crate::store::subscriptions::{cycle_of, Applied, NewSubscription, UnappliedKey};
use crate::store::StoreError;
use crate::toss::codes::{decline_class, DeclineClass as TossDeclineClass};

/// What the hand-off can say about the subscription of a registered card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// The backend started nothing and changed nothing (no session, no live subscription).
    CardOnly,
    /// Final: what happened.
    Final(SubscriptionOutcome),
    /// The first charge (or the card's application) is still running: answer `202`.
    Pending,
}

/// The subscription a card registered on `terms` at `now` starts.
pub fn new_subscription(key: &UnappliedKey, terms: &SessionTerms, now: Millis) -> NewSubscription {
    let plan = terms.plan();
    let cycle = cycle_of(plan.cycle, plan.interval_days);
    let prefix = format!("s{}", &ids::random_token::<9>().replace(['-', '_'], "x"));
    let detail = |status: &str, first_charge_at: Millis| {
        json!({
            "planId": terms.plan_id, "planName": terms.plan_name, "amount": terms.amount,
            "status": status, "trialDays": terms.trial_days, "firstChargeAt": iso_kst(first_charge_at),
            "checkoutSession": terms.id, "termsVersion": terms.terms_version,
        })
        .to_string()
    };
    if terms.trial_days > 0 {
        let ends = terms.first_charge_at(now);
        let conversion = NewChange {
            kind: ChangeKind::TrialConversion,
            price_change_id: None,
            from_plan_id: terms.plan_id.clone(),
            to_plan_id: terms.plan_id.clone(),
            from_amount: 0,
            to_amount: terms.amount,
            effective_at: ends,
            // Never before now: a consent can only be asked for after the sign-up (a "yes" at
            // sign-up does not count), and within the 30 days before the conversion.
            consent_opens_at: Some(lifecycle::consent_opens_at(ends).max(now)),
            status: ChangeStatus::Pending,
            order_id: None,
        };
        NewSubscription {
            customer_key: key.customer_key.clone(),
            plan_id: terms.plan_id.clone(),
            status: Status::Trialing,
            order_prefix: prefix,
            first_period: (now, ends),
            first_period_paid: true,
            anchor: (ends, 1),
            amount: terms.amount,
            next_charge_at: now,
            checkout_session: terms.id.clone(),
            terms_version: terms.terms_version.clone(),
            trial_ends_at: Some(ends),
            incomplete_expires_at: None,
            conversion: Some(conversion),
            event_detail: detail("TRIALING", ends),
        }
    } else {
        NewSubscription {
            customer_key: key.customer_key.clone(),
            plan_id: terms.plan_id.clone(),
            status: Status::Incomplete,
            order_prefix: prefix,
            first_period: period::period(cycle, now, 0),
            first_period_paid: false,
            anchor: (now, 0),
            amount: terms.amount,
            next_charge_at: now,
            checkout_session: terms.id.clone(),
            terms_version: terms.terms_version.clone(),
            trial_ends_at: None,
            incomplete_expires_at: Some(now + lifecycle::INCOMPLETE_FOR_MS),
            conversion: None,
            event_detail: detail("INCOMPLETE", now),
        }
    }
}

impl Subscriptions {
    /// The terms of a checkout for `customer_key` on `plan_id` (or the default plan), now: a
    /// trial only if this customer never had this plan's. Refused while the customer has a paid
    /// or trialing subscription (the portal changes cards and plans; a second subscription is not
    /// what they want). While their first charge is unpaid, the same plan's checkout is the same
    /// session again (another card pays it); another plan's is a new one (which replaces the unpaid
    /// subscription when a card is registered on it).
    pub async fn checkout_terms(
        &self,
        customer_key: &str,
        plan_id: Option<&str>,
    ) -> Result<SessionTerms, ActionError> {
        let store = &self.0.store;
        let id = plan_id
            .or(self.0.settings.default_plan.as_deref())
            .ok_or(ActionError::NotFound)?;
        let plan = store.plan(id).await?.ok_or(ActionError::NotFound)?;
        let latest = store.subscription_of(customer_key).await?;
        // A first charge declined: the same checkout session again (its terms, its id), so another
        // card pays that subscription (다른 카드로 등록하기) — unless another plan is asked for.
        if let Some(incomplete) = latest.as_ref().filter(|s| {
            s.status == Status::Incomplete && s.plan_id == plan.id && s.checkout_session.is_some()
        }) {
            return Ok(SessionTerms {
                id: incomplete.checkout_session.clone().unwrap_or_default(),
                customer_key: customer_key.to_owned(),
                plan_id: plan.id.clone(),
                plan_name: plan.name.clone(),
                amount: incomplete.amount,
                cycle: plan.cycle,
                interval_days: plan.interval_days,
                trial_days: 0,
                terms_version: incomplete
                    .terms_version
                    .clone()
                    .unwrap_or_else(|| self.0.settings.terms_version.clone()),
                issued_at: self.0.clock.now_ms(),
                expires_at: incomplete
                    .incomplete_expires_at
                    .unwrap_or(incomplete.created_at + lifecycle::INCOMPLETE_FOR_MS),
            });
        }
        if let Some(live) = latest.filter(|s| s.status.is_live() && s.status != Status::Incomplete)
        {
            return Err(ActionError::conflict(
                "ALREADY_SUBSCRIBED",
                format!(
                    "이미 구독 중이에요 ({}). 카드 변경과 플랜 변경은 구독 관리에서 할 수 있어요.",
                    live.plan_id
                ),
            ));
        }
        let trial_days = if plan.trial_days > 0 && !store.had_trial(customer_key, id).await? {
            plan.trial_days
        } else {
            0
        };
        Ok(SessionTerms::new(
            customer_key,
            &plan,
            trial_days,
            &self.0.settings.terms_version,
            self.0.clock.now_ms(),
        ))
    }

    /// Applies every billing key not yet applied. Idempotent and crash-safe (one transaction per
    /// key); run after each registration and by the scheduler's loop.
    pub async fn apply_registrations(&self) -> Result<usize, StoreError> {
        let keys = self.0.store.unapplied_billing_keys(100).await?;
        let mut applied = 0;
        for key in &keys {
            if self.apply_key(key).await? != Applied::AlreadyApplied {
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// Applies one billing key: a subscription on its checkout terms, or the card of the live
    /// one (`Store::apply_billing_key` says which).
    pub async fn apply_key(&self, key: &UnappliedKey) -> Result<Applied, StoreError> {
        let now = self.0.clock.now_ms();
        let terms = key.checkout_terms.as_deref().and_then(|json| {
            serde_json::from_str::<SessionTerms>(json)
                .map_err(|e| tracing::error!(billing_key = key.id, error = %e, "unreadable checkout terms; the card is stored without a new subscription"))
                .ok()
        });
        let create = terms.as_ref().map(|t| new_subscription(key, t, now));
        let changed = json!({ "billingKeyId": key.id }).to_string();
        // Its events belong to the hand-off that registered the card, whoever applies it.
        let result = crate::request_id::scope(
            key.request_id.clone().or_else(crate::request_id::current),
            self.0
                .store
                .apply_billing_key(key, create.as_ref(), &changed, now),
        )
        .await;
        let applied = match result {
            Ok(applied) => applied,
            // Another instance created the customer's live subscription a moment ago: the key is
            // still unapplied, and the next pass makes it that subscription's card.
            Err(e) if e.is_unique_violation() => return Ok(Applied::AlreadyApplied),
            Err(e) => return Err(e),
        };
        if let Applied::Created(id) = applied {
            if let Some(sub) = self.0.store.subscription(id).await? {
                self.attach_scheduled_changes(&sub).await?;
            }
        }
        Ok(applied)
    }

    /// What the hand-off of billing key `billing_key_id` did to the customer's subscription,
    /// running its first charge now (within `wait`) if it is due.
    pub async fn registration_outcome(
        &self,
        billing_key_id: i64,
        wait: std::time::Duration,
    ) -> Result<RegistrationOutcome, StoreError> {
        let until = tokio::time::Instant::now() + wait;
        let store = &self.0.store;
        if let Some(key) = store.unapplied_billing_key(billing_key_id).await? {
            self.apply_key(&key).await?;
        }
        let mut poll = std::time::Duration::from_millis(50);
        let mut worked = false;
        loop {
            let Some(key) = store.billing_key(billing_key_id).await? else {
                return Ok(RegistrationOutcome::CardOnly);
            };
            if key.applied_at.is_none() {
                // Applied by the scheduler's loop in a moment (a race on the live subscription).
            } else if let Some(code) = key.not_started_code {
                return Ok(RegistrationOutcome::Final(
                    SubscriptionOutcome::NotStarted { code },
                ));
            } else if let Some(id) = key.subscription_id {
                let Some(sub) = store.subscription(id).await? else {
                    return Ok(RegistrationOutcome::CardOnly);
                };
                let terms: Option<SessionTerms> = key
                    .checkout_terms
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok());
                let this_checkout = terms.is_some_and(|t| sub.checkout_session == Some(t.id));
                let plan_name = store
                    .plan(&sub.plan_id)
                    .await?
                    .map_or_else(|| sub.plan_id.clone(), |p| p.name);
                // A new card of an unpaid period is charged at once: wait for that charge (run
                // it here unless the scheduler already is) so the answer says how it went.
                let now = self.0.clock.now_ms();
                let due = matches!(sub.status, Status::Incomplete | Status::PastDue)
                    && sub.next_charge_at.is_some_and(|at| at <= now);
                if due && !worked {
                    worked = true;
                    self.work_now(id).await?;
                    continue;
                }
                if due {
                    // Its charge is being run (by the scheduler, if not by us): ask again, and
                    // answer 202 if it takes longer than the wait.
                } else if !this_checkout {
                    return Ok(RegistrationOutcome::Final(
                        SubscriptionOutcome::CardChanged {
                            plan_name,
                            subscription_status: sub.status.as_str().to_owned(),
                        },
                    ));
                } else if let Some(outcome) = self.checkout_outcome(&sub, plan_name).await? {
                    return Ok(RegistrationOutcome::Final(outcome));
                }
            } else {
                return Ok(RegistrationOutcome::CardOnly);
            }
            if tokio::time::Instant::now() >= until {
                return Ok(RegistrationOutcome::Pending);
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(poll.min(left)).await;
            poll = (poll * 2).min(std::time::Duration::from_millis(250));
        }
    }

    /// The outcome of a subscription started by this checkout, once it is known.
    async fn checkout_outcome(
        &self,
        sub: &crate::store::subscriptions::SubscriptionRow,
        plan_name: String,
    ) -> Result<Option<SubscriptionOutcome>, StoreError> {
        let amount = sub.amount.max(0) as u64;
        Ok(match sub.status {
            Status::Trialing => Some(SubscriptionOutcome::Trialing {
                plan_name,
                amount,
                first_charge_date: iso_kst(sub.trial_ends_at.unwrap_or(sub.current_period_end))
                    [..10]
                    .to_owned(),
            }),
            Status::Active | Status::PastDue if sub.period_paid => {
                let charges = self.0.store.subscription_charges(sub.id).await?;
                let paid = charges
                    .iter()
                    .rev()
                    .find(|c| c.status == ChargeStatus::Done);
                paid.map(|c| SubscriptionOutcome::Active {
                    plan_name,
                    amount: c.amount.max(0) as u64,
                    paid_at: c
                        .approved_at
                        .clone()
                        .unwrap_or_else(|| iso_kst(c.updated_at)),
                    receipt_url: c.receipt_url.clone(),
                    next_charge_date: iso_kst(sub.current_period_end)[..10].to_owned(),
                })
            }
            Status::Incomplete | Status::IncompleteExpired => {
                let attempts = self.0.store.attempts(sub.id, Some(sub.period_no)).await?;
                match attempts.last() {
                    Some(a) if a.status == ChargeStatus::Failed => {
                        let code = a.result_code.clone().unwrap_or_default();
                        Some(SubscriptionOutcome::Incomplete {
                            plan_name,
                            amount,
                            decline: match decline_class(&code) {
                                TossDeclineClass::Soft => DeclineClass::Soft,
                                TossDeclineClass::Hard => DeclineClass::Hard,
                            },
                            code,
                            retry_until: iso_kst(sub.incomplete_expires_at.unwrap_or(a.created_at)),
                        })
                    }
                    _ => None,
                }
            }
            // Canceled meanwhile, or anything else: the page says what the status is.
            _ => Some(SubscriptionOutcome::CardChanged {
                plan_name,
                subscription_status: sub.status.as_str().to_owned(),
            }),
        })
    }
}
