//! The subscription lifecycle as a declared state machine: the statuses, every transition allowed
//! between them ([`TRANSITIONS`]), and the one decision the scheduler asks for — given a
//! subscription as it stands now, what is the next step ([`decide`]). Pure: no I/O, no clock of
//! its own. `crate::subscription` is the shell that loads a [`Snapshot`], asks, and performs the
//! [`Step`] in one transaction with its events.
//!
//! The invariants the property tests below check over random histories:
//! - at most one paid charge per period (nothing is charged after a `Done` attempt);
//! - never a charge above the price the customer consented to (`Snapshot::amount`, raised only
//!   by an accepted change);
//! - never a charge before a trial ends, and never after a trial the customer did not agree to
//!   convert;
//! - an attempt whose outcome is unknown is reconciled, never followed by a new one;
//! - every status change is a row of [`TRANSITIONS`].

use crate::billing::dunning::{self, RetryPolicy};
use crate::billing::period::{self, Cycle};
use crate::clock::Millis;
use crate::store::charges::ChargeStatus;

/// A price in KRW (the won has no minor unit).
pub type Won = i64;

const DAY_MS: Millis = 86_400_000;

/// The notice before a free trial turns paid: at least 7 days (the FSC rule for card-billed
/// subscriptions, 2021; toss-billing-contract.md §11).
pub const TRIAL_NOTICE_MS: Millis = 7 * DAY_MS;

/// Consent to a price increase or a trial conversion counts only within the 30 days before it
/// takes effect (전자상거래법 §13⑥, 시행령 §20조의2).
pub const CONSENT_WINDOW_MS: Millis = 30 * DAY_MS;

/// How long a subscription whose first charge was declined waits for another card on the same
/// checkout session before it expires.
pub const INCOMPLETE_FOR_MS: Millis = 23 * 3_600_000;

/// Where a subscription stands (`subscription_status` on PostgreSQL, checked TEXT on SQLite): the
/// contract crate's list, which the portal reads too (one list, so they cannot disagree).
pub use toss_billing_contract::SubscriptionStatus as Status;

/// What moves a subscription from one status to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A card registered on a checkout session: with a trial, or charged at once.
    Registered,
    /// The current period's charge was approved.
    Paid,
    /// The current period's charge was declined.
    Declined,
    /// The dunning schedule ran out (or a hard decline waited for a new card in vain).
    RetriesExhausted,
    /// A declined first charge was not paid by another card in time.
    IncompleteExpired,
    /// The period ended with a cancellation scheduled for its end (일반해지).
    CanceledAtPeriodEnd,
    /// A trial ended without the customer's consent to the paid plan.
    TrialNotConverted,
    /// A price increase took effect without the customer's consent.
    ChangeNotAccepted,
    /// The customer or the operator ended it now (중도해지, 청약철회, an operator's cancel).
    CanceledNow,
    /// A new checkout session replaced a subscription whose first charge never succeeded.
    Superseded,
}

/// Every transition the lifecycle allows: `(from, trigger, to)`; `from == None` is creation.
/// The shell refuses anything else ([`is_allowed`]), the README's diagram is checked against it,
/// and the property tests check that [`decide`] never leaves it.
pub const TRANSITIONS: &[(Option<Status>, Trigger, Status)] = &[
    (None, Trigger::Registered, Status::Trialing),
    (None, Trigger::Registered, Status::Incomplete),
    (Some(Status::Incomplete), Trigger::Paid, Status::Active),
    (
        Some(Status::Incomplete),
        Trigger::Declined,
        Status::Incomplete,
    ),
    (
        Some(Status::Incomplete),
        Trigger::IncompleteExpired,
        Status::IncompleteExpired,
    ),
    (
        Some(Status::Incomplete),
        Trigger::Superseded,
        Status::IncompleteExpired,
    ),
    (
        Some(Status::Incomplete),
        Trigger::CanceledNow,
        Status::Canceled,
    ),
    (Some(Status::Trialing), Trigger::Paid, Status::Active),
    (Some(Status::Trialing), Trigger::Declined, Status::PastDue),
    (
        Some(Status::Trialing),
        Trigger::TrialNotConverted,
        Status::Canceled,
    ),
    (
        Some(Status::Trialing),
        Trigger::CanceledAtPeriodEnd,
        Status::Canceled,
    ),
    (
        Some(Status::Trialing),
        Trigger::CanceledNow,
        Status::Canceled,
    ),
    (Some(Status::Active), Trigger::Paid, Status::Active),
    (Some(Status::Active), Trigger::Declined, Status::PastDue),
    (
        Some(Status::Active),
        Trigger::CanceledAtPeriodEnd,
        Status::Canceled,
    ),
    (
        Some(Status::Active),
        Trigger::ChangeNotAccepted,
        Status::Canceled,
    ),
    (Some(Status::Active), Trigger::CanceledNow, Status::Canceled),
    (Some(Status::PastDue), Trigger::Paid, Status::Active),
    (Some(Status::PastDue), Trigger::Declined, Status::PastDue),
    (
        Some(Status::PastDue),
        Trigger::RetriesExhausted,
        Status::Canceled,
    ),
    (
        Some(Status::PastDue),
        Trigger::RetriesExhausted,
        Status::Unpaid,
    ),
    (
        Some(Status::PastDue),
        Trigger::CanceledNow,
        Status::Canceled,
    ),
];

/// Whether `(from, trigger, to)` is a declared transition.
pub fn is_allowed(from: Option<Status>, trigger: Trigger, to: Status) -> bool {
    TRANSITIONS
        .iter()
        .any(|&(f, t, s)| f == from && t == trigger && s == to)
}

/// Why a subscription ended (`ended_reason`, and the `reason` of `subscription.canceled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// 일반해지: the customer's cancellation at the period's end.
    CanceledAtPeriodEnd,
    /// The dunning schedule ran out.
    RetriesExhausted,
    /// The first charge was never paid.
    FirstChargeNeverPaid,
    /// A trial the customer did not agree to convert.
    TrialNotConverted,
    /// A price increase the customer did not agree to.
    PriceIncreaseNotAccepted,
    /// Replaced by a new checkout before it was ever paid.
    Superseded,
}

impl EndReason {
    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::CanceledAtPeriodEnd => "canceled_at_period_end",
            EndReason::RetriesExhausted => "retries_exhausted",
            EndReason::FirstChargeNeverPaid => "first_charge_never_paid",
            EndReason::TrialNotConverted => "trial_not_converted",
            EndReason::PriceIncreaseNotAccepted => "price_increase_not_accepted",
            EndReason::Superseded => "superseded",
        }
    }
}

/// What a scheduled change does (`change_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "change_kind", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    /// The end of a free trial: the first paid period (needs consent).
    TrialConversion,
    /// The operator raised the price (needs consent).
    PriceIncrease,
    /// The operator lowered the price (applies by itself).
    PriceDecrease,
    /// The customer moves to a cheaper plan at the period's end.
    Downgrade,
    /// The customer moved to a dearer plan now, paying the rest of the period pro rata.
    Upgrade,
}

impl ChangeKind {
    /// Whether it may take effect only with the customer's consent (전자상거래법 §13⑥).
    pub fn needs_consent(self) -> bool {
        matches!(
            self,
            ChangeKind::TrialConversion | ChangeKind::PriceIncrease
        )
    }
}

/// Where a scheduled change stands (`change_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(type_name = "change_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeStatus {
    /// Waiting: for the customer's answer, or (no consent needed) for its period.
    Pending,
    /// The customer agreed (the last answer in `consents` is ACCEPT).
    Accepted,
    /// The customer said no: the subscription ends before the change would apply.
    Declined,
    /// Its date came without consent: the subscription ended instead.
    Lapsed,
    /// Withdrawn by the operator, or superseded by the customer's own plan change.
    Withdrawn,
    /// In effect.
    Applied,
    /// An upgrade whose proration charge was declined: nothing switched.
    Failed,
}

impl ChangeStatus {
    /// Whether the change still decides something at its date: it takes effect (pending without
    /// need of consent, or accepted), or its refusal ends the subscription (declined, or pending
    /// while it needs consent). A subscription has at most one outstanding change.
    pub fn is_outstanding(self) -> bool {
        matches!(
            self,
            ChangeStatus::Pending | ChangeStatus::Accepted | ChangeStatus::Declined
        )
    }
}

/// The open change of a subscription, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its row id.
    pub id: i64,
    /// What it does.
    pub kind: ChangeKind,
    /// Where it stands.
    pub status: ChangeStatus,
    /// The price per period from `effective_at` on.
    pub to_amount: Won,
    /// The plan from `effective_at` on (the same plan for a price change).
    pub to_plan_id: String,
    /// The cycle of `to_plan_id`, if it differs from the current one (the next period re-anchors).
    pub to_cycle: Option<Cycle>,
    /// The start of the first period it applies to.
    pub effective_at: Millis,
    /// When the consent request may be sent (consent earlier than this does not count).
    pub consent_opens_at: Option<Millis>,
    /// When the consent request was sent (the `subscription.consent_requested` event).
    pub requested_at: Option<Millis>,
}

/// One charge attempt of the current period, as the decision needs it.
pub type Attempt = dunning::Attempt;

/// The subscription as it stands, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its status.
    pub status: Status,
    /// The current period's number.
    pub period_no: i64,
    /// `[start, end)` of the current period.
    pub period: (Millis, Millis),
    /// Whether the current period is paid (or free: a trial).
    pub period_paid: bool,
    /// The price per period the customer consented to.
    pub amount: Won,
    /// The cycle.
    pub cycle: Cycle,
    /// Period `n` is the `(n - anchor_period_no)`-th cycle from `anchor_at`.
    pub anchor_at: Millis,
    /// See `anchor_at`.
    pub anchor_period_no: i64,
    /// When a trial ends (the first paid period's start), if it had one.
    pub trial_ends_at: Option<Millis>,
    /// When the trial's end notice was sent.
    pub trial_notice_at: Option<Millis>,
    /// 일반해지: end at the current period's end.
    pub cancel_at_period_end: bool,
    /// An unpaid first period expires at.
    pub incomplete_expires_at: Option<Millis>,
    /// The card charged now.
    pub billing_key_id: i64,
    /// When the card last changed.
    pub card_changed_at: Option<Millis>,
    /// Whether the card can be charged (not deleted at Toss or by the customer).
    pub card_usable: bool,
    /// The current period's attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// The outstanding change, if any ([`ChangeStatus::is_outstanding`]).
    pub change: Option<Change>,
}

/// A notice the customer must get before something happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// At least 7 days before a trial turns paid (`subscription.trial_will_end`).
    TrialWillEnd,
    /// The change's consent window opened: ask the customer (`subscription.consent_requested`,
    /// with the four items the law names).
    ConsentRequested {
        /// The change.
        change_id: i64,
    },
}

/// The next step for a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do before `until` (`None`: never again).
    Sleep {
        /// When to look again.
        until: Option<Millis>,
    },
    /// Send a notice now, then decide again.
    Notify(Notice),
    /// Charge the current period now, as this attempt, this amount.
    Charge {
        /// Its number within the period.
        attempt_no: i64,
        /// KRW; never above the consented price.
        amount: Won,
    },
    /// An attempt's outcome is not known: reconcile it (order lookup), send nothing new.
    Await {
        /// Its orderId.
        order_id: String,
    },
    /// The current period's charge was approved: the period is paid.
    Paid {
        /// The status it moves to ([`Status::Active`]).
        to: Status,
        /// When to look again (the period's end, or an earlier notice).
        until: Millis,
    },
    /// The current period's charge was declined.
    Declined {
        /// The status it moves to.
        to: Status,
        /// A soft decline's next retry.
        retry_at: Option<Millis>,
        /// The last moment a new card can save it.
        update_card_by: Option<Millis>,
    },
    /// The current period ended: the next one begins, on these terms (then decide again: it
    /// will be charged).
    Open {
        /// Its number.
        period_no: i64,
        /// `[start, end)`.
        period: (Millis, Millis),
        /// Its price.
        amount: Won,
        /// The change that takes effect with it.
        applies: Option<i64>,
        /// The plan from now on, if it changes.
        plan_id: Option<String>,
        /// A new anchor (the plan's cycle changed): `(anchor_at, anchor_period_no)`.
        reanchor: Option<(Millis, i64)>,
    },
    /// It ends now.
    End {
        /// Its final status.
        to: Status,
        /// Why.
        reason: EndReason,
        /// The trigger (a row of [`TRANSITIONS`]).
        trigger: Trigger,
        /// A change that lapses with it (its date came without consent).
        lapses: Option<i64>,
    },
}

impl Step {
    /// The status change this step makes, as `(trigger, to)`, if any.
    pub fn transition(&self) -> Option<(Trigger, Status)> {
        match self {
            Step::Paid { to, .. } => Some((Trigger::Paid, *to)),
            Step::Declined { to, .. } => Some((Trigger::Declined, *to)),
            Step::End { to, trigger, .. } => Some((*trigger, *to)),
            _ => None,
        }
    }
}

fn earliest(times: impl IntoIterator<Item = Option<Millis>>) -> Option<Millis> {
    times.into_iter().flatten().min()
}

/// The start of the `n`-th period of a subscription anchored at `(anchor_at, anchor_period_no)`.
pub fn period_bounds(
    cycle: Cycle,
    anchor_at: Millis,
    anchor_period_no: i64,
    n: i64,
) -> (Millis, Millis) {
    let offset = (n - anchor_period_no).max(0) as u32;
    period::period(cycle, anchor_at, offset)
}

/// The start of the first period of this subscription that starts at or after `at`: where a
/// change dated `at` takes effect.
pub fn first_period_start_on_or_after(snapshot: &Snapshot, at: Millis) -> Millis {
    let mut n = snapshot.period_no + 1;
    loop {
        let (start, _) = period_bounds(
            snapshot.cycle,
            snapshot.anchor_at,
            snapshot.anchor_period_no,
            n,
        );
        if start >= at || n > snapshot.period_no + 5000 {
            return start;
        }
        n += 1;
    }
}

/// When the consent request for a change effective at `effective_at` may be sent.
pub fn consent_opens_at(effective_at: Millis) -> Millis {
    effective_at - CONSENT_WINDOW_MS
}

/// Whether a consent given at `at` counts for a change effective at `effective_at`: only within
/// the 30 days before it (an earlier "yes", like one at sign-up, does not).
pub fn consent_counts(at: Millis, effective_at: Millis) -> bool {
    at >= consent_opens_at(effective_at) && at < effective_at
}

/// The notices due now, and the earliest future moment one will be.
fn notices(s: &Snapshot, now: Millis) -> (Option<Notice>, Option<Millis>) {
    let mut later = Vec::new();
    if let (Some(ends), None) = (s.trial_ends_at, s.trial_notice_at) {
        if s.status == Status::Trialing {
            let at = ends - TRIAL_NOTICE_MS;
            if now >= at {
                return (Some(Notice::TrialWillEnd), None);
            }
            later.push(Some(at));
        }
    }
    if let Some(change) = &s.change {
        if change.kind.needs_consent()
            && change.status == ChangeStatus::Pending
            && change.requested_at.is_none()
        {
            let at = change
                .consent_opens_at
                .unwrap_or(consent_opens_at(change.effective_at));
            if now >= at {
                return (
                    Some(Notice::ConsentRequested {
                        change_id: change.id,
                    }),
                    None,
                );
            }
            later.push(Some(at));
        }
    }
    (None, earliest(later))
}

/// The next step for `s` at `now`.
pub fn decide(s: &Snapshot, policy: &RetryPolicy, now: Millis) -> Step {
    if !s.status.is_live() {
        return Step::Sleep { until: None };
    }
    if let Some(step) = settle_last_attempt(s, policy, now) {
        return step;
    }
    let (due_notice, next_notice) = notices(s, now);
    if let Some(notice) = due_notice {
        return Step::Notify(notice);
    }
    if !s.period_paid {
        // A period begun and not charged yet (the first one at registration, or a period from
        // before v4 waiting for its start).
        if now < s.period.0 {
            return Step::Sleep {
                until: earliest([Some(s.period.0), next_notice]),
            };
        }
        return Step::Charge {
            attempt_no: s.attempts.last().map_or(1, |a| a.attempt_no + 1),
            amount: s.amount,
        };
    }
    if now < s.period.1 {
        return Step::Sleep {
            until: earliest([Some(s.period.1), next_notice]),
        };
    }
    next_period(s)
}

/// What the current period's last attempt means, if it settles anything.
fn settle_last_attempt(s: &Snapshot, policy: &RetryPolicy, now: Millis) -> Option<Step> {
    let last = s.attempts.last()?;
    match last.status {
        ChargeStatus::Pending | ChargeStatus::Unknown => Some(Step::Await {
            order_id: last.order_id.clone(),
        }),
        ChargeStatus::Done if !s.period_paid => {
            let (_, next_notice) = notices(s, now);
            Some(Step::Paid {
                to: Status::Active,
                until: earliest([Some(s.period.1), next_notice]).unwrap_or(s.period.1),
            })
        }
        ChargeStatus::Done => None,
        ChargeStatus::Failed => Some(after_decline(s, last, policy, now)),
    }
}

/// After a declined attempt: a new card is tried at once; a first period that was never paid
/// waits for one until it expires (no dunning for a customer who never paid); a renewal follows
/// the dunning schedule.
fn after_decline(s: &Snapshot, last: &Attempt, policy: &RetryPolicy, now: Millis) -> Step {
    let step = retry_or_end(s, last, policy, now);
    // A paid-up (or trialing) subscription becomes past due at its first decline, whatever comes
    // next — even a retry already due (the scheduler was stopped), a new card, or the end — so
    // the customer hears of it and every later step starts from PAST_DUE, as declared.
    if matches!(s.status, Status::Active | Status::Trialing) {
        return match step {
            Step::Declined { .. } => step,
            Step::End { .. } => Step::Declined {
                to: Status::PastDue,
                retry_at: None,
                update_card_by: Some(now),
            },
            _ => Step::Declined {
                to: Status::PastDue,
                retry_at: Some(now),
                update_card_by: None,
            },
        };
    }
    step
}

/// After a decline, from the status the subscription has: the next try, the wait, or the end.
fn retry_or_end(s: &Snapshot, last: &Attempt, policy: &RetryPolicy, now: Millis) -> Step {
    let new_card = s.billing_key_id != last.billing_key_id
        && s.card_usable
        && s.card_changed_at.is_some_and(|at| at >= last.created_at);
    if new_card {
        return Step::Charge {
            attempt_no: last.attempt_no + 1,
            amount: s.amount,
        };
    }
    if s.status == Status::Incomplete {
        let expires = s
            .incomplete_expires_at
            .unwrap_or(s.attempts[0].created_at + INCOMPLETE_FOR_MS);
        return if now >= expires {
            Step::End {
                to: Status::IncompleteExpired,
                reason: EndReason::FirstChargeNeverPaid,
                trigger: Trigger::IncompleteExpired,
                lapses: None,
            }
        } else {
            Step::Declined {
                to: Status::Incomplete,
                retry_at: None,
                update_card_by: Some(expires),
            }
        };
    }
    let current = dunning::Current {
        billing_key_id: s.billing_key_id,
        card_changed_at: s.card_changed_at,
        cancel_at_period_end: false,
    };
    let mut decision = dunning::decide(&current, &s.attempts, policy, now);
    if !s.card_usable {
        // A deleted card is never charged again: only a new card can save the period.
        if let dunning::Decision::RetryAt(_) | dunning::Decision::Charge { .. } = decision {
            let first = s.attempts[0].created_at;
            let until = first + dunning_grace(policy);
            decision = if now >= until {
                dunning::Decision::GiveUp
            } else {
                dunning::Decision::AwaitNewCard(until)
            };
        }
    }
    match decision {
        dunning::Decision::Charge { attempt_no } => Step::Charge {
            attempt_no,
            amount: s.amount,
        },
        dunning::Decision::RetryAt(at) => Step::Declined {
            to: Status::PastDue,
            retry_at: Some(at),
            update_card_by: None,
        },
        dunning::Decision::AwaitNewCard(at) => Step::Declined {
            to: Status::PastDue,
            retry_at: None,
            update_card_by: Some(at),
        },
        dunning::Decision::GiveUp => Step::End {
            to: match policy.final_state {
                dunning::FinalState::Canceled => Status::Canceled,
                dunning::FinalState::Unpaid => Status::Unpaid,
            },
            reason: EndReason::RetriesExhausted,
            trigger: Trigger::RetriesExhausted,
            lapses: None,
        },
        // A failed last attempt never yields these.
        dunning::Decision::Cancel | dunning::Decision::Paid | dunning::Decision::Await { .. } => {
            Step::Sleep { until: Some(now) }
        }
    }
}

fn dunning_grace(policy: &RetryPolicy) -> Millis {
    Millis::from(*policy.retry_days.last().unwrap_or(&0)) * DAY_MS
}

/// The current (paid) period is over: end here, or open the next period on the terms in force
/// then — a change whose date has come applies only if it needs no consent or was accepted.
fn next_period(s: &Snapshot) -> Step {
    if s.cancel_at_period_end {
        return Step::End {
            to: Status::Canceled,
            reason: EndReason::CanceledAtPeriodEnd,
            trigger: Trigger::CanceledAtPeriodEnd,
            lapses: s.change.as_ref().map(|c| c.id),
        };
    }
    let next_no = s.period_no + 1;
    let mut amount = s.amount;
    let mut plan_id = None;
    let mut applies = None;
    let mut reanchor = None;
    let next_start = s.period.1;
    match &s.change {
        Some(change) if change.status.is_outstanding() && change.effective_at <= next_start => {
            if change.kind.needs_consent() && change.status != ChangeStatus::Accepted {
                let (reason, trigger) = if change.kind == ChangeKind::TrialConversion {
                    (EndReason::TrialNotConverted, Trigger::TrialNotConverted)
                } else {
                    (
                        EndReason::PriceIncreaseNotAccepted,
                        Trigger::ChangeNotAccepted,
                    )
                };
                return Step::End {
                    to: Status::Canceled,
                    reason,
                    trigger,
                    lapses: Some(change.id),
                };
            }
            amount = change.to_amount;
            applies = Some(change.id);
            plan_id = Some(change.to_plan_id.clone());
            if let Some(cycle) = change.to_cycle.filter(|c| *c != s.cycle) {
                reanchor = Some((next_start, next_no));
                let end = period::period(cycle, next_start, 0).1;
                return Step::Open {
                    period_no: next_no,
                    period: (next_start, end),
                    amount,
                    applies,
                    plan_id,
                    reanchor,
                };
            }
        }
        _ => {}
    }
    if s.status == Status::Trialing && applies.is_none() {
        // A trial ends only through its conversion change; without one it cannot turn paid.
        return Step::End {
            to: Status::Canceled,
            reason: EndReason::TrialNotConverted,
            trigger: Trigger::TrialNotConverted,
            lapses: None,
        };
    }
    let period = period_bounds(s.cycle, s.anchor_at, s.anchor_period_no, next_no);
    Step::Open {
        period_no: next_no,
        period: (next_start, period.1),
        amount,
        applies,
        plan_id,
        reanchor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Millis = 1_800_000_000_000;

    fn monthly(status: Status) -> Snapshot {
        let period = period::period(Cycle::Monthly, T0, 0);
        Snapshot {
            status,
            period_no: 0,
            period,
            period_paid: false,
            amount: 9_900,
            cycle: Cycle::Monthly,
            anchor_at: T0,
            anchor_period_no: 0,
            trial_ends_at: None,
            trial_notice_at: None,
            cancel_at_period_end: false,
            incomplete_expires_at: Some(T0 + INCOMPLETE_FOR_MS),
            billing_key_id: 1,
            card_changed_at: None,
            card_usable: true,
            attempts: vec![],
            change: None,
        }
    }

    fn attempt(no: i64, status: ChargeStatus, code: Option<&str>, at: Millis) -> Attempt {
        Attempt {
            attempt_no: no,
            status,
            code: code.map(str::to_owned),
            created_at: at,
            billing_key_id: 1,
            order_id: format!("o{no}"),
        }
    }

    fn trial(days: i64) -> Snapshot {
        let ends = T0 + days * DAY_MS;
        Snapshot {
            status: Status::Trialing,
            period: (T0, ends),
            period_paid: true,
            anchor_at: ends,
            anchor_period_no: 1,
            trial_ends_at: Some(ends),
            incomplete_expires_at: None,
            change: Some(Change {
                id: 7,
                kind: ChangeKind::TrialConversion,
                status: ChangeStatus::Pending,
                to_amount: 9_900,
                to_plan_id: "p".into(),
                to_cycle: None,
                effective_at: ends,
                consent_opens_at: Some(T0),
                requested_at: None,
            }),
            ..monthly(Status::Trialing)
        }
    }

    #[test]
    fn a_first_charge_declined_waits_for_another_card_then_expires() {
        let policy = RetryPolicy::default();
        let mut s = monthly(Status::Incomplete);
        assert_eq!(
            decide(&s, &policy, T0),
            Step::Charge {
                attempt_no: 1,
                amount: 9_900
            }
        );
        s.attempts = vec![attempt(
            1,
            ChargeStatus::Failed,
            Some("REJECT_CARD_PAYMENT"),
            T0,
        )];
        assert_eq!(
            decide(&s, &policy, T0 + DAY_MS / 2),
            Step::Declined {
                to: Status::Incomplete,
                retry_at: None,
                update_card_by: Some(T0 + INCOMPLETE_FOR_MS)
            },
            "a soft decline of a first charge is not retried: no dunning for a customer who never paid"
        );
        let mut new_card = s.clone();
        new_card.billing_key_id = 2;
        new_card.card_changed_at = Some(T0 + 1000);
        assert_eq!(
            decide(&new_card, &policy, T0 + 2000),
            Step::Charge {
                attempt_no: 2,
                amount: 9_900
            }
        );
        assert!(matches!(
            decide(&s, &policy, T0 + INCOMPLETE_FOR_MS),
            Step::End {
                to: Status::IncompleteExpired,
                ..
            }
        ));
    }

    #[test]
    fn a_paid_period_sleeps_until_its_end_then_the_next_opens() {
        let policy = RetryPolicy::default();
        let mut s = monthly(Status::Incomplete);
        s.attempts = vec![attempt(1, ChargeStatus::Done, None, T0)];
        let end = s.period.1;
        assert_eq!(
            decide(&s, &policy, T0),
            Step::Paid {
                to: Status::Active,
                until: end
            }
        );
        s.status = Status::Active;
        s.period_paid = true;
        assert_eq!(
            decide(&s, &policy, T0 + DAY_MS),
            Step::Sleep { until: Some(end) }
        );
        let opened = decide(&s, &policy, end);
        assert_eq!(
            opened,
            Step::Open {
                period_no: 1,
                period: period::period(Cycle::Monthly, T0, 1),
                amount: 9_900,
                applies: None,
                plan_id: None,
                reanchor: None
            }
        );
    }

    #[test]
    fn a_trial_asks_first_and_never_converts_without_consent() {
        let policy = RetryPolicy::default();
        let s = trial(14);
        let ends = T0 + 14 * DAY_MS;
        assert_eq!(
            decide(&s, &policy, T0),
            Step::Notify(Notice::ConsentRequested { change_id: 7 }),
            "the consent window of a 14-day trial is open from the start"
        );
        let mut asked = s.clone();
        asked.change.as_mut().unwrap().requested_at = Some(T0);
        assert_eq!(
            decide(&asked, &policy, T0),
            Step::Sleep {
                until: Some(ends - TRIAL_NOTICE_MS)
            }
        );
        assert_eq!(
            decide(&asked, &policy, ends - TRIAL_NOTICE_MS),
            Step::Notify(Notice::TrialWillEnd)
        );
        asked.trial_notice_at = Some(ends - TRIAL_NOTICE_MS);
        assert!(matches!(
            decide(&asked, &policy, ends),
            Step::End {
                reason: EndReason::TrialNotConverted,
                ..
            }
        ));
        let mut agreed = asked.clone();
        agreed.change.as_mut().unwrap().status = ChangeStatus::Accepted;
        match decide(&agreed, &policy, ends) {
            Step::Open {
                period_no: 1,
                period,
                amount: 9_900,
                applies: Some(7),
                ..
            } => assert_eq!(period, period::period(Cycle::Monthly, ends, 0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn consent_counts_only_within_the_thirty_days_before() {
        let effective = T0 + 40 * DAY_MS;
        assert!(!consent_counts(T0, effective), "ten days too early");
        assert!(consent_counts(effective - CONSENT_WINDOW_MS, effective));
        assert!(consent_counts(effective - 1, effective));
        assert!(!consent_counts(effective, effective), "too late");
    }

    #[test]
    fn a_price_increase_applies_only_if_accepted() {
        let policy = RetryPolicy::default();
        let mut s = monthly(Status::Active);
        s.period_paid = true;
        let end = s.period.1;
        s.change = Some(Change {
            id: 3,
            kind: ChangeKind::PriceIncrease,
            status: ChangeStatus::Pending,
            to_amount: 12_900,
            to_plan_id: "p".into(),
            to_cycle: None,
            effective_at: end,
            consent_opens_at: Some(end - CONSENT_WINDOW_MS),
            requested_at: Some(end - CONSENT_WINDOW_MS),
        });
        assert_eq!(
            decide(&s, &policy, end),
            Step::End {
                to: Status::Canceled,
                reason: EndReason::PriceIncreaseNotAccepted,
                trigger: Trigger::ChangeNotAccepted,
                lapses: Some(3)
            }
        );
        s.change.as_mut().unwrap().status = ChangeStatus::Accepted;
        assert!(matches!(
            decide(&s, &policy, end),
            Step::Open {
                amount: 12_900,
                applies: Some(3),
                ..
            }
        ));
        s.change.as_mut().unwrap().kind = ChangeKind::PriceDecrease;
        s.change.as_mut().unwrap().status = ChangeStatus::Pending;
        s.change.as_mut().unwrap().to_amount = 7_900;
        assert!(matches!(
            decide(&s, &policy, end),
            Step::Open {
                amount: 7_900,
                applies: Some(3),
                ..
            }
        ));
    }

    #[test]
    fn the_transition_table_has_no_duplicates_and_every_status_is_reachable() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert!(!TRANSITIONS[i + 1..].contains(a), "{a:?} twice");
        }
        for status in Status::ALL {
            assert!(
                TRANSITIONS.iter().any(|&(_, _, to)| to == status),
                "{status:?} unreachable"
            );
            assert_eq!(
                status.is_live(),
                TRANSITIONS.iter().any(|&(from, _, _)| from == Some(status)),
                "{status:?}: only live statuses have a way out"
            );
        }
    }

    /// server/README.md's diagram is the transition table, edge for edge.
    #[test]
    fn the_readme_diagram_is_the_transition_table() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("stateDiagram-v2")
            .expect("the lifecycle diagram");
        let block = &readme[start..start + readme[start..].find("```").expect("closed")];
        let status = |name: &str| {
            Status::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .unwrap_or_else(|| panic!("unknown status {name}"))
        };
        let trigger = |name: &str| match name {
            "registered" => Trigger::Registered,
            "paid" => Trigger::Paid,
            "declined" => Trigger::Declined,
            "retries_exhausted" => Trigger::RetriesExhausted,
            "incomplete_expired" => Trigger::IncompleteExpired,
            "canceled_at_period_end" => Trigger::CanceledAtPeriodEnd,
            "trial_not_converted" => Trigger::TrialNotConverted,
            "change_not_accepted" => Trigger::ChangeNotAccepted,
            "canceled_now" => Trigger::CanceledNow,
            "superseded" => Trigger::Superseded,
            other => panic!("unknown trigger {other}"),
        };
        let mut drawn = Vec::new();
        for line in block.lines().filter(|l| l.contains("-->")) {
            let (edge, label) = line.split_once(':').expect("a labelled edge");
            let (from, to) = edge.split_once("-->").unwrap();
            let from = from.trim();
            let from = (from != "[*]").then(|| status(from));
            drawn.push((from, trigger(label.trim()), status(to.trim())));
        }
        assert_eq!(
            drawn, TRANSITIONS,
            "server/README.md's diagram, in the table's order"
        );
    }

    /// What can happen to a subscription between two decisions.
    #[derive(Debug, Clone)]
    enum Happening {
        /// Time passes.
        Wait(i64),
        /// A charge's outcome arrives (or stays unknown).
        Outcome(u8),
        /// The customer answers the open change.
        Answer(bool),
        /// A new card.
        NewCard,
        /// The operator announces an increase (needs consent) or a decrease.
        Reprice(i64),
        /// 일반해지.
        CancelAtEnd,
    }

    fn happening() -> impl Strategy<Value = Happening> {
        prop_oneof![
            (1i64..40 * DAY_MS).prop_map(Happening::Wait),
            (0u8..4).prop_map(Happening::Outcome),
            any::<bool>().prop_map(Happening::Answer),
            Just(Happening::NewCard),
            (1_000i64..30_000).prop_map(Happening::Reprice),
            Just(Happening::CancelAtEnd),
        ]
    }

    /// Plays `happenings` against the decision, performing each step the way the shell does,
    /// and checks the invariants at every step.
    fn play(start: Snapshot, happenings: &[Happening]) -> Result<(), TestCaseError> {
        let policy = RetryPolicy::default();
        let mut s = start;
        let mut now = T0;
        // What the customer agreed to pay per period: nothing yet during a trial.
        let mut consented = if s.status == Status::Trialing {
            0
        } else {
            s.amount
        };
        let mut paid_periods = std::collections::HashSet::new();
        let mut next_change_id = 100;
        let mut accepted_at: Option<Millis> = None;
        for happening in happenings {
            match happening {
                Happening::Wait(ms) => now += ms,
                Happening::Outcome(which) => {
                    if let Some(last) = s.attempts.last_mut() {
                        if !last.status.is_final() {
                            last.status = match which {
                                0 => ChargeStatus::Done,
                                1 => ChargeStatus::Failed,
                                2 => ChargeStatus::Unknown,
                                _ => ChargeStatus::Pending,
                            };
                            if last.status == ChargeStatus::Failed {
                                last.code = Some(if *which % 2 == 1 {
                                    "REJECT_CARD_PAYMENT".into()
                                } else {
                                    "INVALID_STOPPED_CARD".into()
                                });
                            }
                        }
                    }
                }
                Happening::Answer(yes) => {
                    if let Some(change) = s.change.as_mut() {
                        if change.kind.needs_consent() && change.status.is_outstanding() {
                            // The customer API refuses a "yes" outside the window.
                            if *yes && consent_counts(now, change.effective_at) {
                                change.status = ChangeStatus::Accepted;
                                accepted_at = Some(now);
                            } else if !*yes {
                                change.status = ChangeStatus::Declined;
                            }
                        }
                    }
                }
                Happening::NewCard => {
                    s.billing_key_id += 1;
                    s.card_changed_at = Some(now);
                }
                Happening::Reprice(to) => {
                    if s.change.is_none() && s.status.is_live() {
                        let effective = first_period_start_on_or_after(&s, now + 30 * DAY_MS);
                        let kind = if *to > s.amount {
                            ChangeKind::PriceIncrease
                        } else {
                            ChangeKind::PriceDecrease
                        };
                        next_change_id += 1;
                        s.change = Some(Change {
                            id: next_change_id,
                            kind,
                            status: ChangeStatus::Pending,
                            to_amount: *to,
                            to_plan_id: "p".into(),
                            to_cycle: None,
                            effective_at: effective,
                            consent_opens_at: Some(consent_opens_at(effective)),
                            requested_at: None,
                        });
                    }
                }
                Happening::CancelAtEnd => s.cancel_at_period_end = true,
            }
            // Decide until the subscription sleeps, as the shell does.
            for _ in 0..50 {
                let step = decide(&s, &policy, now);
                if let Some((trigger, to)) = step.transition() {
                    prop_assert!(
                        is_allowed(Some(s.status), trigger, to),
                        "{:?} --{:?}--> {:?} is not declared",
                        s.status,
                        trigger,
                        to
                    );
                }
                match step {
                    Step::Sleep { until } => {
                        if let Some(until) = until {
                            prop_assert!(until > now || !s.status.is_live() || until == now);
                        }
                        break;
                    }
                    Step::Notify(Notice::TrialWillEnd) => s.trial_notice_at = Some(now),
                    Step::Notify(Notice::ConsentRequested { .. }) => {
                        s.change.as_mut().unwrap().requested_at = Some(now)
                    }
                    Step::Charge { attempt_no, amount } => {
                        prop_assert!(
                            amount <= consented,
                            "charged {} above the consented {}",
                            amount,
                            consented
                        );
                        prop_assert!(
                            !paid_periods.contains(&s.period_no),
                            "a second paid attempt"
                        );
                        prop_assert!(
                            s.trial_ends_at.is_none_or(|ends| now >= ends),
                            "charged during the trial"
                        );
                        prop_assert!(s.attempts.iter().all(|a| a.status == ChargeStatus::Failed));
                        s.attempts.push(Attempt {
                            attempt_no,
                            status: ChargeStatus::Pending,
                            code: None,
                            created_at: now,
                            billing_key_id: s.billing_key_id,
                            order_id: format!("o{}-{attempt_no}", s.period_no),
                        });
                        break; // the outcome arrives as a happening
                    }
                    Step::Await { .. } => break,
                    Step::Paid { to, .. } => {
                        paid_periods.insert(s.period_no);
                        s.status = to;
                        s.period_paid = true;
                    }
                    Step::Declined { to, .. } => {
                        s.status = to;
                        break;
                    }
                    Step::Open {
                        period_no,
                        period,
                        amount,
                        applies,
                        ..
                    } => {
                        prop_assert_eq!(period.0, s.period.1, "periods are contiguous");
                        if let Some(id) = applies {
                            let change = s.change.take().expect("the applied change");
                            prop_assert_eq!(id, change.id);
                            prop_assert!(change.effective_at <= period.0);
                            if change.kind.needs_consent() {
                                let at = accepted_at.expect("applied with consent");
                                prop_assert!(consent_counts(at, change.effective_at));
                                consented = change.to_amount;
                            } else {
                                consented = consented.min(change.to_amount);
                            }
                        }
                        prop_assert!(amount <= consented);
                        s.period_no = period_no;
                        s.period = period;
                        s.period_paid = false;
                        s.amount = amount;
                        s.attempts.clear();
                    }
                    Step::End { to, .. } => {
                        s.status = to;
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn registered_subscriptions_keep_the_invariants(
            happenings in proptest::collection::vec(happening(), 1..60)
        ) {
            play(monthly(Status::Incomplete), &happenings)?;
        }

        #[test]
        fn trials_keep_the_invariants(
            days in 1i64..45,
            happenings in proptest::collection::vec(happening(), 1..60)
        ) {
            let mut s = trial(days);
            let ends = s.trial_ends_at.unwrap();
            s.change.as_mut().unwrap().consent_opens_at = Some(T0.max(consent_opens_at(ends)));
            play(s, &happenings)?;
        }
    }
}
