//! What the checkout component (in the browser) and the merchant backend (`server/`) both check,
//! written once so the two cannot drift: the Toss key rules (`customerKey`, `authKey`, `orderId`),
//! which page an address gets, and the wire types of the hand-off (`docs/handoff-contract.md`).
//!
//! No I/O and no platform code: the component compiles this to wasm, the server natively. With the
//! `openapi` feature (billing-server's, never the browser's) the wire types also derive
//! `utoipa::ToSchema`, so the server's OpenAPI description uses these very types.

#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

/// The Toss non-member customer marker (`TossPayments.ANONYMOUS`); billing needs a stable key.
pub const ANONYMOUS_CUSTOMER_KEY: &str = "@@ANONYMOUS";

/// Toss never issues a longer authKey (contract §5).
pub const MAX_AUTH_KEY_LEN: usize = 300;

/// Toss's limit on an `Idempotency-Key` (contract §9).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 300;

/// Why a customerKey cannot own a billing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKeyProblem {
    /// Shorter than 2 or longer than 50 characters (the count is given).
    Length(usize),
    /// A character outside `A-Z a-z 0-9 - _ = . @`.
    Characters,
    /// `@@ANONYMOUS`: Toss's non-member marker cannot hold a billing key.
    Anonymous,
    /// It contains a Toss secret key: somebody pasted the wrong thing.
    SecretKey,
}

/// Whether `value` has the shape of a Toss secret key (API or payment-widget) anywhere in it.
pub fn looks_like_secret_key(value: &str) -> bool {
    ["test_sk_", "live_sk_", "test_gsk_", "live_gsk_"]
        .iter()
        .any(|prefix| contains_bytes(value, prefix))
}

/// Whether `needle` occurs in `haystack`, by comparing every window. For a few short needles in a
/// short text this is as good as `str::contains`, whose two-way searcher is ~1 KB of the page's
/// wasm (the page checks every configuration string with this).
pub fn contains_bytes(haystack: &str, needle: &str) -> bool {
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
}

/// `text` before and after its first `byte` (an ASCII delimiter): `str::split_once` for one byte.
/// The page splits with this and [`split_ascii`], not with `str`'s char patterns: their searcher
/// brings core's `memchr` (~900 B of wasm with its helpers) onto the page for a few short splits.
pub fn split_once_ascii(text: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let at = text.bytes().position(|b| b == byte)?;
    Some((&text[..at], &text[at + 1..]))
}

/// Whether `byte` is in `set`: `<[u8]>::contains`, which calls core's `memchr` (see
/// [`split_once_ascii`]).
pub fn is_one_of(byte: u8, set: &[u8]) -> bool {
    for &member in set {
        if member == byte {
            return true;
        }
    }
    false
}

/// The parts of `text` between its `byte`s (an ASCII delimiter): `str::split` for one byte.
pub fn split_ascii(text: &str, byte: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let (part, after) = split_once_ascii(current, byte)
            .map_or((current, None), |(part, after)| (part, Some(after)));
        rest = after;
        Some(part)
    })
}

/// Whether `c` may appear in a customerKey.
pub fn is_customer_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '.' | '@')
}

/// The shape rule alone (2–50 characters of `A-Z a-z 0-9 - _ = . @`), exactly as Toss checks it.
pub fn check_customer_key_shape(raw: &str) -> Result<(), CustomerKeyProblem> {
    let count = raw.chars().count();
    if !(2..=50).contains(&count) {
        return Err(CustomerKeyProblem::Length(count));
    }
    if !raw.chars().all(is_customer_key_char) {
        return Err(CustomerKeyProblem::Characters);
    }
    Ok(())
}

/// The rule for a customerKey that can own a billing key: the Toss shape, not anonymous, and not
/// a secret key pasted by mistake.
pub fn check_customer_key(raw: &str) -> Result<(), CustomerKeyProblem> {
    if raw == ANONYMOUS_CUSTOMER_KEY {
        return Err(CustomerKeyProblem::Anonymous);
    }
    check_customer_key_shape(raw)?;
    if looks_like_secret_key(raw) {
        return Err(CustomerKeyProblem::SecretKey);
    }
    Ok(())
}

/// Why a string cannot be an authKey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKeyProblem {
    /// Nothing was given.
    Empty,
    /// Longer than Toss ever issues ([`MAX_AUTH_KEY_LEN`]).
    TooLong,
    /// A character Toss never uses (only visible ASCII, no spaces).
    Characters,
}

/// The authKey rule: 1–300 visible ASCII characters.
pub fn check_auth_key(raw: &str) -> Result<(), AuthKeyProblem> {
    if raw.is_empty() {
        return Err(AuthKeyProblem::Empty);
    }
    if raw.len() > MAX_AUTH_KEY_LEN {
        return Err(AuthKeyProblem::TooLong);
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AuthKeyProblem::Characters);
    }
    Ok(())
}

/// The orderId rule of `POST /v1/billing/{billingKey}`: 6–64 characters of `A-Z a-z 0-9 - _`.
pub fn is_valid_order_id(raw: &str) -> bool {
    (6..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An `Idempotency-Key` the hand-off accepts: 1–300 visible ASCII characters.
pub fn is_valid_idempotency_key(raw: &str) -> bool {
    (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic())
}

/// Which page an address shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The button that opens the card window.
    Register,
    /// Toss redirected here after a registered card (`successUrl`).
    Success,
    /// Toss redirected here after a failure (`failUrl`).
    Fail,
}

/// The default `successPath`.
pub const DEFAULT_SUCCESS_PATH: &str = "/billing/success";
/// The default `failPath`.
pub const DEFAULT_FAIL_PATH: &str = "/billing/fail";

/// A path as the page rule compares it: without its own query and trailing slashes.
pub fn bare_path(path: &str) -> &str {
    let mut path = split_once_ascii(path, b'?').map_or(path, |(path, _)| path);
    while let Some(shorter) = path.strip_suffix('/') {
        path = shorter;
    }
    path
}

/// The one rule for which page `pathname` gets: the configured success and fail paths (without
/// their own query) match exactly, a trailing slash tolerated; every other address is the
/// registration page, so the checkout can sit on any storefront URL. The component mounts by it,
/// the loader picks a bundle by it, and billing-server picks a document by it (the loader's copy
/// in JavaScript is checked against this one by a test).
pub fn page_for(success_path: &str, fail_path: &str, pathname: &str) -> Page {
    let here = bare_path(pathname);
    if here == bare_path(success_path) {
        Page::Success
    } else if here == bare_path(fail_path) {
        Page::Fail
    } else {
        Page::Register
    }
}

/// The hand-off request body: `POST {backendUrl}` with `{"authKey", "customerKey"}`, and the
/// checkout session the registration was started on, if the page had one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueRequest {
    /// The one-time key from Toss's success redirect.
    pub auth_key: String,
    /// The customer the card belongs to.
    pub customer_key: String,
    /// The checkout session (`GET /api/checkout`'s `checkoutSession`, opaque to the page): the
    /// terms the subscription starts on. Without one, a card only replaces the card of the
    /// customer's live subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_session: Option<String>,
}

/// The terms a checkout session fixes, as the page shows them above the button
/// (`GET /api/checkout`, `docs/handoff-contract.md` §1). The subscription starts on exactly these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CheckoutTerms {
    /// The plan's id.
    pub plan_id: String,
    /// Its name, e.g. `프리미엄 플랜`.
    pub name: String,
    /// KRW per period.
    pub amount: u64,
    /// The cycle.
    pub cycle: PlanCycle,
    /// Free days before the first charge (0: charged at registration).
    #[serde(default)]
    pub trial_days: u32,
    /// The first charge's date, `YYYY-MM-DD` (KST).
    pub first_charge_date: String,
    /// The version of the cancellation terms' text shown.
    pub terms_version: String,
    /// The session must be used (the card window opened and returned) before this.
    pub expires_at: String,
    /// How to cancel, in the merchant's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_note: Option<String>,
}

impl CheckoutTerms {
    /// The plan summary the page renders from these terms.
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            name: self.name.clone(),
            amount: self.amount,
            cycle: self.cycle,
            first_charge_date: Some(self.first_charge_date.clone()),
            cancel_note: self.cancel_note.clone(),
        }
    }
}

/// `GET /api/checkout?plan=…`: who the customer is and the signed terms of their checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSession {
    /// The customer's key (as `GET /api/customer` gives it).
    pub customer_key: String,
    /// The signed session, to send back with the hand-off (opaque).
    pub checkout_session: String,
    /// What the customer is shown.
    pub terms: CheckoutTerms,
}

/// Whether a declined charge may succeed later on the same card (contract §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum DeclineClass {
    /// Limit, balance, a passing failure: the same card may work later.
    Soft,
    /// Stopped, lost, expired, wrong card: it never will.
    Hard,
}

/// What happened to the subscription when the card was registered: part of the hand-off's
/// final answer (`docs/handoff-contract.md` §2), so the page tells the truth about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum SubscriptionOutcome {
    /// The first period is paid.
    #[serde(rename_all = "camelCase")]
    Active {
        /// The plan's name.
        plan_name: String,
        /// KRW charged.
        amount: u64,
        /// When Toss approved it (ISO 8601, KST).
        paid_at: String,
        /// The card sales slip (Toss's `receipt.url`), if Toss gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt_url: Option<String>,
        /// The next charge's date, `YYYY-MM-DD` (KST).
        next_charge_date: String,
    },
    /// A free trial: nothing charged.
    #[serde(rename_all = "camelCase")]
    Trialing {
        /// The plan's name.
        plan_name: String,
        /// KRW per period after the trial.
        amount: u64,
        /// The first charge's date, `YYYY-MM-DD` (KST), if the customer agrees to it before then
        /// (the server asks first).
        first_charge_date: String,
    },
    /// The first charge was declined: nothing charged, the subscription is not active. Another
    /// card on the same checkout session may still start it until `retryUntil`.
    #[serde(rename_all = "camelCase")]
    Incomplete {
        /// The plan's name.
        plan_name: String,
        /// KRW that was to be charged.
        amount: u64,
        /// Toss's code.
        code: String,
        /// Whether the same card may work later.
        decline: DeclineClass,
        /// Until when another card can be registered on the same session (ISO 8601, KST).
        retry_until: String,
    },
    /// The card now pays the customer's existing subscription.
    #[serde(rename_all = "camelCase")]
    CardChanged {
        /// The plan's name.
        plan_name: String,
        /// The subscription's status now (`ACTIVE`, `PAST_DUE`, …).
        subscription_status: String,
    },
    /// The card is stored but no subscription started (e.g. `TRIAL_ALREADY_USED`).
    #[serde(rename_all = "camelCase")]
    NotStarted {
        /// Why.
        code: String,
    },
}

impl SubscriptionOutcome {
    /// Longest plan name a page renders.
    pub const MAX_PLAN_NAME_CHARS: usize = 80;

    /// The outcome if every field a page renders is plausible: a short non-blank plan name, dates
    /// of the documented shape, codes of the error-code shape. A receipt link that is not
    /// `http(s)://` is dropped (a page must never render a `javascript:` link), not the outcome.
    pub fn plausible(self) -> Option<Self> {
        let name_ok = |name: &str| {
            !name.trim().is_empty() && name.chars().count() <= Self::MAX_PLAN_NAME_CHARS
        };
        let date_ok = |date: &str| {
            date.len() >= 10
                && date.len() <= 40
                && date.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        *b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
        };
        let ok = match &self {
            Self::Active {
                plan_name,
                paid_at,
                next_charge_date,
                ..
            } => name_ok(plan_name) && date_ok(paid_at) && date_ok(next_charge_date),
            Self::Trialing {
                plan_name,
                first_charge_date,
                ..
            } => name_ok(plan_name) && date_ok(first_charge_date),
            Self::Incomplete {
                plan_name,
                code,
                retry_until,
                ..
            } => name_ok(plan_name) && is_error_code(code) && date_ok(retry_until),
            Self::CardChanged {
                plan_name,
                subscription_status,
            } => name_ok(plan_name) && is_error_code(subscription_status),
            Self::NotStarted { code } => is_error_code(code),
        };
        if !ok {
            return None;
        }
        Some(match self {
            Self::Active {
                plan_name,
                amount,
                paid_at,
                receipt_url,
                next_charge_date,
            } => Self::Active {
                plan_name,
                amount,
                paid_at,
                receipt_url: receipt_url.filter(|url| {
                    (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048
                }),
                next_charge_date,
            },
            other => other,
        })
    }
}

/// The registered card as the customer may see it: the number already masked by Toss. Every field
/// is optional: the billing key is what matters, and a Toss answer missing a display field must
/// not lose it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CardSummary {
    /// Card company, e.g. `현대`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Masked number, e.g. `433012******123*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// e.g. `신용`, `체크`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    /// e.g. `개인`, `법인`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_type: Option<String>,
}

impl CardSummary {
    /// Longest display field the page renders (anything longer is dropped, not shown).
    pub const MAX_FIELD_CHARS: usize = 40;

    /// Keeps only display fields that are plausible to render: non-blank and short.
    pub fn plausible(self) -> CardSummary {
        let keep = |s: Option<String>| {
            s.filter(|s| !s.trim().is_empty() && s.chars().count() <= Self::MAX_FIELD_CHARS)
        };
        CardSummary {
            company: keep(self.company),
            number: keep(self.number),
            card_type: keep(self.card_type),
            owner_type: keep(self.owner_type),
        }
    }
}

/// `200` body of the hand-off: the card was registered (final; every replay gets the same), and
/// what that did to the customer's subscription, if the backend runs subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssueRegistered {
    /// What to show the customer.
    pub card: CardSummary,
    /// The subscription's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionOutcome>,
}

/// Every error answer (and the `202` "still pending" answer): `{"code", "message"}`, plus
/// `retryAfterMs` when asking again later is the point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Machine-readable code to branch on (`A-Z 0-9 _`).
    pub code: String,
    /// Human text; the component shows its own copy instead where it has one.
    #[serde(default)]
    pub message: String,
    /// When to ask again, for answers that say "not yet".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u32>,
}

/// The code of the `202` answer: the exchange is running; ask again with the same body.
pub const HANDOFF_PENDING: &str = "HANDOFF_PENDING";

/// Whether an error code has the documented shape (1–64 of `A-Z 0-9 _`).
pub fn is_error_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// How the page must treat a hand-off answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// `200` with a readable `{card}`: registered. Forget the authKey.
    Registered,
    /// A documented 4xx with a `code`: a final no for this authKey. Forget it.
    Refused,
    /// Anything else: still pending (`202`), retryable (`408`, `409`, `425`, `429`, `5xx`), or
    /// unreadable (a proxy's HTML page, a 2xx body that is not the documented one). Keep the
    /// authKey and ask again: the card may well be registered.
    Unconfirmed,
}

/// The one rule for what a hand-off answer means (`docs/handoff-contract.md` §2): `status` is the
/// HTTP status, `card_readable` whether a 2xx body was the documented `{card}`, `code` the error
/// body's code if the body was the documented `{code, message}`.
pub fn classify_answer(status: u16, card_readable: bool, code: Option<&str>) -> AnswerKind {
    let documented_code = code.is_some_and(is_error_code);
    match status {
        200 if card_readable => AnswerKind::Registered,
        408 | 409 | 425 | 429 => AnswerKind::Unconfirmed,
        400..=499 if documented_code => AnswerKind::Refused,
        _ => AnswerKind::Unconfirmed,
    }
}

/// How often a plan charges, as the plan summary states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum PlanCycle {
    /// Every month, on the first charge's day (clamped to the month's length).
    Monthly,
    /// Every year, on the first charge's date.
    Yearly,
    /// Every `n` days.
    EveryDays(u32),
}

/// What the customer signs up for, shown next to the register button: the component's
/// `plan` configuration, and what billing-server's `GET /api/plan` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanSummary {
    /// e.g. `프리미엄 플랜`.
    pub name: String,
    /// KRW per period (an integer: the won has no minor unit).
    pub amount: u64,
    /// The cycle.
    pub cycle: PlanCycle,
    /// The first charge's date, `YYYY-MM-DD` (KST), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_charge_date: Option<String>,
    /// How to cancel, in the merchant's words (the component has a default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_note: Option<String>,
}

/// Where a subscription stands: the names billing-server stores (a database enum, with the
/// `sqlx` feature) and its APIs show, and the portal reads (`docs/portal-contract.md` §1). One
/// list, so the page and the server cannot disagree about a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(
    feature = "sqlx",
    sqlx(type_name = "subscription_status", rename_all = "SCREAMING_SNAKE_CASE")
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    /// A free trial: the card is stored, nothing has been charged.
    Trialing,
    /// The first period is not paid yet: its charge is running, or was declined (no dunning for a
    /// customer who never paid; another card on the same checkout session may still pay it).
    Incomplete,
    /// Paid up.
    Active,
    /// A renewal's charge was declined; retrying (soft) or waiting for a new card (hard).
    PastDue,
    /// Ended: by the customer, the operator, a change not agreed to, or retries that ran out.
    Canceled,
    /// Retries ran out; kept, charged no more (billing-server's `DUNNING_FINAL_STATE=unpaid`).
    Unpaid,
    /// The first charge was never paid in time; nothing was charged.
    IncompleteExpired,
}

impl SubscriptionStatus {
    /// Every status, in the order of billing-server's README diagram.
    pub const ALL: [SubscriptionStatus; 7] = [
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::IncompleteExpired,
    ];

    /// Whether the subscription still lives: it may still be charged, and a customer has at most
    /// one such subscription.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing
                | SubscriptionStatus::Incomplete
                | SubscriptionStatus::Active
                | SubscriptionStatus::PastDue
        )
    }

    /// Its name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Trialing => "TRIALING",
            SubscriptionStatus::Incomplete => "INCOMPLETE",
            SubscriptionStatus::Active => "ACTIVE",
            SubscriptionStatus::PastDue => "PAST_DUE",
            SubscriptionStatus::Canceled => "CANCELED",
            SubscriptionStatus::Unpaid => "UNPAID",
            SubscriptionStatus::IncompleteExpired => "INCOMPLETE_EXPIRED",
        }
    }

    /// The status named `name`; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<SubscriptionStatus> {
        SubscriptionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_subscription_status_is_read_back_from_its_name_and_no_other() {
        for status in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(status.as_str()), Some(status));
            let json = format!("\"{}\"", status.as_str());
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
        }
        assert_eq!(SubscriptionStatus::parse("PAUSED"), None);
        assert_eq!(SubscriptionStatus::parse("active"), None);
    }

    #[test]
    fn customer_keys() {
        assert_eq!(check_customer_key("ab"), Ok(()));
        assert_eq!(check_customer_key("a"), Err(CustomerKeyProblem::Length(1)));
        assert_eq!(
            check_customer_key(&"a".repeat(51)),
            Err(CustomerKeyProblem::Length(51))
        );
        assert_eq!(
            check_customer_key("a b"),
            Err(CustomerKeyProblem::Characters)
        );
        assert_eq!(
            check_customer_key(ANONYMOUS_CUSTOMER_KEY),
            Err(CustomerKeyProblem::Anonymous)
        );
        assert_eq!(
            check_customer_key("test_sk_abcdef"),
            Err(CustomerKeyProblem::SecretKey)
        );
        assert_eq!(check_customer_key_shape("test_sk_abcdef"), Ok(()));
    }

    #[test]
    fn the_ascii_splits_agree_with_str_split() {
        let texts = ["", "?", "a", "a=1&b=2", "&&", "=", "가=나&", "?x?y", "&a&"];
        for text in texts {
            for byte in [b'&', b'=', b'?'] {
                let delimiter = char::from(byte);
                assert_eq!(
                    split_once_ascii(text, byte),
                    text.split_once(delimiter),
                    "{text:?} {delimiter}"
                );
                assert_eq!(
                    split_ascii(text, byte).collect::<Vec<_>>(),
                    text.split(delimiter).collect::<Vec<_>>(),
                    "{text:?} {delimiter}"
                );
            }
            assert_eq!(
                bare_path(text),
                text.split('?').next().unwrap().trim_end_matches('/')
            );
        }
        assert_eq!(bare_path("/billing/success//?x=/"), "/billing/success");
    }

    #[test]
    fn contains_bytes_agrees_with_str_contains() {
        let texts = [
            "",
            "a",
            "test_sk_",
            "xxtest_sk_yy",
            "test_s",
            "가나test_gsk_다",
            "live_gsk",
        ];
        for haystack in texts {
            for needle in texts {
                assert_eq!(
                    contains_bytes(haystack, needle),
                    haystack.contains(needle),
                    "{haystack:?} / {needle:?}"
                );
            }
        }
        assert!(looks_like_secret_key("pasted live_sk_123 here"));
        assert!(!looks_like_secret_key("live_ck_123"));
    }

    #[test]
    fn auth_keys_and_order_ids() {
        assert_eq!(check_auth_key(""), Err(AuthKeyProblem::Empty));
        assert_eq!(
            check_auth_key(&"a".repeat(301)),
            Err(AuthKeyProblem::TooLong)
        );
        assert_eq!(check_auth_key("a b"), Err(AuthKeyProblem::Characters));
        assert_eq!(check_auth_key(&"a".repeat(300)), Ok(()));
        assert!(is_valid_order_id("order_1"));
        assert!(!is_valid_order_id("ord"));
        assert!(!is_valid_order_id("order 1"));
        assert!(!is_valid_order_id(&"a".repeat(65)));
    }

    #[test]
    fn pages() {
        let p = |path| page_for("/billing/success?x=1", "/billing/fail", path);
        assert_eq!(p("/billing/success"), Page::Success);
        assert_eq!(p("/billing/success/"), Page::Success);
        assert_eq!(p("/billing/fail"), Page::Fail);
        assert_eq!(p("/billing/fail/extra"), Page::Register);
        assert_eq!(p("/"), Page::Register);
    }

    #[test]
    fn answers() {
        use AnswerKind::*;
        assert_eq!(classify_answer(200, true, None), Registered);
        assert_eq!(classify_answer(200, false, None), Unconfirmed);
        assert_eq!(
            classify_answer(202, false, Some(HANDOFF_PENDING)),
            Unconfirmed
        );
        assert_eq!(
            classify_answer(403, false, Some("INVALID_STOPPED_CARD")),
            Refused
        );
        assert_eq!(classify_answer(403, false, None), Unconfirmed);
        assert_eq!(classify_answer(400, false, Some("<html>")), Unconfirmed);
        for status in [408, 409, 425, 429, 500, 502, 503, 504] {
            assert_eq!(
                classify_answer(status, false, Some("X")),
                Unconfirmed,
                "{status}"
            );
        }
    }

    #[test]
    fn plan_summaries_on_the_wire() {
        let plan = PlanSummary {
            name: "프리미엄 플랜".into(),
            amount: 9900,
            cycle: PlanCycle::EveryDays(14),
            first_charge_date: Some("2026-12-01".into()),
            cancel_note: None,
        };
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(
            json,
            r#"{"name":"프리미엄 플랜","amount":9900,"cycle":{"everyDays":14},"firstChargeDate":"2026-12-01"}"#
        );
        assert_eq!(serde_json::from_str::<PlanSummary>(&json).unwrap(), plan);
        let monthly: PlanSummary =
            serde_json::from_str(r#"{"name":"x","amount":1,"cycle":"monthly"}"#).unwrap();
        assert_eq!(monthly.cycle, PlanCycle::Monthly);
        assert!(serde_json::from_str::<PlanSummary>(
            r#"{"name":"x","amount":1,"cycle":"monthly","x":1}"#
        )
        .is_err());
    }

    #[test]
    fn subscription_outcomes_on_the_wire() {
        let paid = IssueRegistered {
            card: CardSummary::default(),
            subscription: Some(SubscriptionOutcome::Incomplete {
                plan_name: "프리미엄 플랜".into(),
                amount: 9900,
                code: "REJECT_CARD_PAYMENT".into(),
                decline: DeclineClass::Soft,
                retry_until: "2026-12-08T10:00:00+09:00".into(),
            }),
        };
        let json = serde_json::to_string(&paid).unwrap();
        assert_eq!(
            json,
            r#"{"card":{},"subscription":{"status":"incomplete","planName":"프리미엄 플랜","amount":9900,"code":"REJECT_CARD_PAYMENT","decline":"soft","retryUntil":"2026-12-08T10:00:00+09:00"}}"#
        );
        assert_eq!(
            serde_json::from_str::<IssueRegistered>(&json).unwrap(),
            paid
        );
        let bare: IssueRegistered = serde_json::from_str(r#"{"card":{}}"#).unwrap();
        assert_eq!(bare.subscription, None, "a backend without subscriptions");
        let request: IssueRequest =
            serde_json::from_str(r#"{"authKey":"a","customerKey":"ck"}"#).unwrap();
        assert_eq!(request.checkout_session, None);
    }

    #[test]
    fn card_fields_are_optional_on_the_wire() {
        let card = CardSummary {
            company: Some("현대".into()),
            ..CardSummary::default()
        };
        let plausible = CardSummary {
            number: Some(" ".into()),
            ..card.clone()
        }
        .plausible();
        assert_eq!(plausible, card);
    }
}
