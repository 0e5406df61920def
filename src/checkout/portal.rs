//! The subscription portal's rules, pure: what the customer API says about a subscription (the
//! shapes of `docs/portal-contract.md`), which actions the customer has now, and what each one
//! sends. The portal's views (`src/portal.rs`) only render these and perform the requests.
//!
//! The cancellation rules are the law's (toss-billing-contract.md §11): 일반해지 (at the period's
//! end) and 중도해지 (now, the unused days refunded) are offered side by side with the same weight
//! whenever both exist, each with its exact amount, confirmed in one step; 청약철회 while its window
//! is open. A price increase or a trial's conversion is answered with two explicit buttons showing
//! the four items the law names; closing or ignoring the panel is not an answer.

use super::copy::{portal_refusal_text, Locale, Text};
use super::handoff::CardSummary;
use super::plan::PlanCycle;

/// A plan as the portal shows it (`GET /api/plans`, and the subscription's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// KRW per period.
    pub amount: u64,
    /// Its cycle.
    pub cycle: PlanCycle,
}

/// What an answer to `GET {subscriptionUrl}` means, by its status (`docs/portal-contract.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionAnswer {
    /// `2xx`: the subscription, in the body.
    Found,
    /// `404`: the customer has none (the portal offers to subscribe).
    NoSubscription,
    /// `401`: the backend does not know who this is (no session: a new browser, an expired
    /// cookie, a shop's login missing). Not a failure to retry: "try again shortly" would be
    /// untrue.
    NotSignedIn,
    /// Anything else, or no answer: worth retrying.
    Failed,
}

impl SubscriptionAnswer {
    /// The meaning of `status` (`None`: no answer at all).
    pub fn of(status: Option<u16>) -> SubscriptionAnswer {
        match status {
            Some(200..=299) => SubscriptionAnswer::Found,
            Some(404) => SubscriptionAnswer::NoSubscription,
            Some(401) => SubscriptionAnswer::NotSignedIn,
            _ => SubscriptionAnswer::Failed,
        }
    }
}

/// Where a subscription stands: the contract's statuses, the server's own list.
pub use toss_billing_contract::SubscriptionStatus as Status;

/// The status the server names `name`; one this page does not know reads as ended, so nothing
/// is offered on a guess.
pub fn status_named(name: &str) -> Status {
    Status::parse(name).unwrap_or(Status::Canceled)
}

/// A change waiting for its date (`pendingChange`), with the four items the law names: the date,
/// the price before and after, and the payment method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    /// Its id (for the answer).
    pub id: u32,
    /// `TRIAL_CONVERSION`, `PRICE_INCREASE`, `PRICE_DECREASE`, `DOWNGRADE`, `UPGRADE`.
    pub kind: String,
    /// `PENDING`, `ACCEPTED`, `DECLINED`.
    pub status: String,
    /// The date it takes effect, `YYYY-MM-DD`.
    pub effective_date: String,
    /// KRW per period before.
    pub price_before: u64,
    /// KRW per period after.
    pub price_after: u64,
    /// The plan after, by name.
    pub to_plan: String,
    /// The card it will be charged to.
    pub payment_method: CardSummary,
    /// Whether it needs the customer's answer.
    pub needs_consent: bool,
    /// A "yes" counts from this moment (ISO 8601, KST).
    pub consent_opens_at: Option<String>,
    /// The server says an answer counts now (its clock, not the page's: `answerable`).
    pub answerable: bool,
    /// How to cancel, in the merchant's words (in the page's language when the server has it:
    /// `translations.<tag>`).
    pub how_to_cancel: String,
    /// What declining does, in the merchant's words (likewise).
    pub if_declined: String,
}

impl PendingChange {
    /// Whether the customer is asked to answer it now: it needs consent, is still open, and the
    /// server says an answer counts now (an earlier "yes" would not, so none is asked for; the
    /// page's clock is not asked: it may be wrong, and the server's decides).
    pub fn asks_now(&self) -> bool {
        self.needs_consent
            && self.answerable
            && matches!(self.status.as_str(), "PENDING" | "ACCEPTED" | "DECLINED")
    }
}

/// The customer's subscription (`GET {subscriptionUrl}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Where it stands.
    pub status: Status,
    /// The customer (for the card window).
    pub customer_key: String,
    /// The plan.
    pub plan: Option<PlanInfo>,
    /// The consented price per period.
    pub amount: u64,
    /// The current period's end (ISO 8601).
    pub period_end: String,
    /// The next charge: when (ISO 8601) and how much.
    pub next_charge: Option<(String, u64)>,
    /// When it ends, if that is settled.
    pub ends_at: Option<String>,
    /// When its trial ends.
    pub trial_ends_at: Option<String>,
    /// 일반해지 scheduled.
    pub cancel_at_period_end: bool,
    /// The card on file.
    pub card: Option<CardSummary>,
    /// The change waiting for its date.
    pub pending_change: Option<PendingChange>,
}

/// One way to end the subscription, from `GET {subscriptionUrl}/cancel/preview`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOption {
    /// What `cancel` sends: `period_end` (일반해지), `now` (중도해지) or `withdraw` (청약철회).
    pub when: &'static str,
    /// KRW refunded.
    pub refund: u64,
    /// When the service ends (ISO 8601): the period's end for 일반해지, else now.
    pub ends_at: Option<String>,
    /// Until when this option is open (청약철회).
    pub until: Option<String>,
}

/// A charge and its receipt (`GET {subscriptionUrl}/charges`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// What it paid for.
    pub order_name: String,
    /// KRW.
    pub amount: u64,
    /// `DONE`, `FAILED`, `PENDING`, `UNKNOWN`.
    pub status: String,
    /// When (ISO 8601).
    pub at: String,
    /// The card sales slip.
    pub receipt_url: Option<String>,
    /// KRW refunded of it, in all.
    pub refunded: u64,
}

/// The actions of a customer without a subscription: removing a card left on file (one
/// registered without a plan, `GET {cardUrl}`) is all there is.
pub fn actions_without_subscription(card: Option<&CardSummary>) -> Actions {
    Actions {
        remove_card: card.is_some(),
        ..Actions::default()
    }
}

/// What the customer can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Actions {
    /// Register another card for it (Toss's card window).
    pub change_card: bool,
    /// Move to another plan.
    pub switch_plan: bool,
    /// Cancel (the options come from the preview).
    pub cancel: bool,
    /// Undo a scheduled 일반해지.
    pub undo_cancel: bool,
    /// Remove the card (nothing live).
    pub remove_card: bool,
}

/// The actions of a subscription, or of a customer without one (`None`).
pub fn actions(subscription: Option<&Subscription>) -> Actions {
    let Some(s) = subscription else {
        return Actions::default();
    };
    let live = s.status.is_live();
    Actions {
        change_card: live,
        switch_plan: s.status == Status::Active && !s.cancel_at_period_end,
        cancel: live && !s.cancel_at_period_end,
        undo_cancel: live && s.cancel_at_period_end,
        remove_card: !live && s.card.is_some(),
    }
}

/// What the customer asked for: each is one request, a safe retry (the server makes it
/// idempotent), reported as the DOM event `toss-billing-portal:<event>` and to the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `POST {subscriptionUrl}/cancel {"when", "expectedRefund"}`: what the preview showed.
    Cancel {
        /// `period_end`, `now` or `withdraw`.
        when: &'static str,
        /// The refund the customer confirmed.
        expected_refund: u64,
    },
    /// `POST {subscriptionUrl}/cancel/undo`.
    UndoCancel,
    /// `POST {subscriptionUrl}/changes/{id}/accept|decline {"textVersion"}`.
    Answer {
        /// The change.
        change: u32,
        /// 동의 (`true`) or 거부.
        accept: bool,
        /// The language the customer read the terms in (the answer's `textVersion` says it).
        locale: Locale,
    },
    /// `POST {subscriptionUrl}/switch {"planId", "expectedCharge"}`.
    Switch {
        /// The plan.
        plan: String,
        /// The preview's charge, confirmed.
        expected_charge: u64,
    },
    /// `DELETE {cardUrl}`.
    RemoveCard,
}

/// The version of the portal's consent copy in Korean, recorded with each answer (`textVersion`).
pub const CONSENT_TEXT_VERSION: &str = "portal-2026-12-07";
/// The same in English.
pub const CONSENT_TEXT_VERSION_EN: &str = "portal-2026-12-08-en";

/// The version of the consent copy a customer read in `locale`.
pub fn consent_text_version(locale: Locale) -> &'static str {
    match locale {
        Locale::Ko => CONSENT_TEXT_VERSION,
        Locale::En => CONSENT_TEXT_VERSION_EN,
    }
}

/// A value of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A string.
    Text(&'static str),
    /// A string of the customer's data.
    Owned(String),
    /// A whole number.
    Number(u64),
}

/// Where a request goes: after the subscription URL, or the card URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `{subscriptionUrl}` + this path.
    Subscription(String),
    /// `{cardUrl}`.
    Card,
}

impl Action {
    /// The DOM event's name after `toss-billing-portal:`.
    pub fn event(&self) -> &'static str {
        match self {
            Action::Cancel {
                when: "period_end", ..
            } => "cancel-scheduled",
            Action::Cancel {
                when: "withdraw", ..
            } => "withdrawn",
            Action::Cancel { .. } => "canceled",
            Action::UndoCancel => "cancel-undone",
            Action::Answer { accept: true, .. } => "change-accepted",
            Action::Answer { accept: false, .. } => "change-declined",
            Action::Switch { .. } => "plan-switched",
            Action::RemoveCard => "card-removed",
        }
    }

    /// The request: method, where, and the JSON body's fields.
    pub fn request(&self) -> (&'static str, Target, Vec<(&'static str, Field)>) {
        let post = |path: &str, fields| ("POST", Target::Subscription(path.to_owned()), fields);
        match self {
            Action::Cancel {
                when,
                expected_refund,
            } => post(
                "/cancel",
                vec![
                    ("when", Field::Text(when)),
                    ("expectedRefund", Field::Number(*expected_refund)),
                ],
            ),
            Action::UndoCancel => post("/cancel/undo", vec![]),
            Action::Answer {
                change,
                accept,
                locale,
            } => {
                // The decimal writer, not `to_string` (core::fmt is kilobytes of the page's wasm).
                let mut path = String::from("/changes/");
                super::words::push_number(&mut path, u64::from(*change), false);
                path.push_str(if *accept { "/accept" } else { "/decline" });
                post(
                    &path,
                    vec![("textVersion", Field::Text(consent_text_version(*locale)))],
                )
            }
            Action::Switch {
                plan,
                expected_charge,
            } => post(
                "/switch",
                vec![
                    ("planId", Field::Owned(plan.clone())),
                    ("expectedCharge", Field::Number(*expected_charge)),
                ],
            ),
            Action::RemoveCard => ("DELETE", Target::Card, vec![]),
        }
    }
}

/// The cancellation options in the order the portal shows them: 일반해지 and 중도해지 side by
/// side (the same weight: the law forbids hiding one behind the other), then 청약철회 while open.
pub fn cancel_options(mut options: Vec<CancelOption>) -> Vec<CancelOption> {
    let rank = |o: &CancelOption| match o.when {
        "period_end" => 0,
        "now" => 1,
        _ => 2,
    };
    options.sort_by_key(rank);
    options
}

/// What a refused action's answer means for the customer: retry at once (the server was busy for
/// a moment), our copy for a documented code, or the merchant's message for any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `409 BUSY`, `429`, `5xx`, no answer: try again (the request is idempotent).
    Retry,
    /// The preview is out of date (`PREVIEW_CHANGED`): show the fresh one.
    Stale,
    /// A documented refusal: our copy, in the page's language.
    Known(Text),
    /// A refusal our copy does not know: the merchant's message (the merchant's own backend),
    /// empty when it gave none.
    Said(String),
}

/// Reads an action's failed answer by its status and documented `{code, message}`.
pub fn refusal(status: u16, code: Option<&str>, message: Option<&str>) -> Refusal {
    match (status, code) {
        (_, Some("BUSY")) | (429 | 500..=599, _) | (0, _) => Refusal::Retry,
        (_, Some("PREVIEW_CHANGED")) => Refusal::Stale,
        _ => match code.and_then(portal_refusal_text) {
            Some(text) => Refusal::Known(text),
            None => Refusal::Said(
                message
                    .map(|m| m.chars().take(MESSAGE_CHARS).collect())
                    .unwrap_or_default(),
            ),
        },
    }
}

/// The longest backend message a page shows.
pub const MESSAGE_CHARS: usize = 200;
