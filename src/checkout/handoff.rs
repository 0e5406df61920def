//! The exactly-once hand-off of the authKey to the merchant backend: what a tab stores, what a
//! success page does on arrival, and when to retry. See `docs/handoff-contract.md`.

use serde::{Deserialize, Serialize};

use super::keys::CustomerKey;
use super::query::parse_query;
use super::redirect::{parse_success, single, AuthKey, PendingRegistration, RedirectError};
use super::sha256::sha256;
use super::urls::hex;
use super::words::decimal;

/// `Idempotency-Key` for the hand-off: `ak-` + hex SHA-256 of the authKey. Derived, so every retry
/// and every tab sends the same one, and the key itself never appears in a header.
pub fn idempotency_key(auth_key: &AuthKey) -> String {
    ["ak-", &hex(&sha256(auth_key.expose().as_bytes()))].concat()
}

/// The hand-off's wire types are the contract crate's, shared with the backend (re-exported so
/// `checkout::handoff::{CardSummary, ErrorBody}` keep working). Every display field of
/// [`CardSummary`] is optional: a `200 {"card": {}}` is a registered card with no details.
pub use toss_billing_contract::{
    classify_answer, AnswerKind, CardSummary, DeclineClass, ErrorBody, SubscriptionOutcome,
    HANDOFF_PENDING,
};

/// Where a hand-off stands, as stored in the tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum HandoffStatus {
    /// Posted (or about to be) with no answer yet. Found like this after a reload, it means the
    /// page went away mid-request: we show that and offer a manual retry instead of posting again.
    Sending,
    /// The backend stored the billing key.
    Registered {
        /// What to show the customer.
        card: CardSummary,
        /// What the registration did to the customer's subscription, when the backend runs
        /// subscriptions: the page says "paid", "trial" or "declined" from this, never guesses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription: Option<SubscriptionOutcome>,
    },
    /// The backend gave a final no (4xx): retrying the same authKey cannot help.
    Refused {
        /// The backend's error.
        error: ErrorBody,
    },
    /// No final answer (the attempts or the time ran out): the authKey is kept for a manual retry.
    Unconfirmed {
        /// The last error seen.
        error: ErrorBody,
        /// The confirmation's time ran out (rather than its attempts): the page says the card is
        /// still being confirmed, not that confirming failed.
        #[serde(
            rename = "stillConfirming",
            default,
            skip_serializing_if = "std::ops::Not::not"
        )]
        still_confirming: bool,
    },
}

impl HandoffStatus {
    /// Whether the outcome is final, so the authKey can be forgotten.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Registered { .. } | Self::Refused { .. })
    }
}

/// One hand-off, kept in the tab's sessionStorage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoffRecord {
    /// The registration's `state`; a second arrival with the same state is a replay.
    pub state: String,
    /// The customer the card belongs to.
    pub customer_key: CustomerKey,
    /// Kept only until the backend gives a final answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<AuthKey>,
    /// Derived from the authKey; sent with every attempt.
    pub idempotency_key: String,
    /// The checkout session of the registration, sent with every attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_session: Option<String>,
    /// Where it stands.
    #[serde(flatten)]
    pub status: HandoffStatus,
}

impl HandoffRecord {
    /// Records a new outcome, dropping the authKey once the outcome is final.
    pub fn settle(&mut self, status: HandoffStatus) {
        if status.is_final() {
            self.auth_key = None;
        }
        self.status = status;
    }
}

/// What the success page does when it mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuccessArrival {
    /// A fresh, valid redirect: store the record, then post it.
    Send(HandoffRecord),
    /// A reload, back/forward, second mount or replayed URL: show what is stored, post nothing.
    Show(HandoffRecord),
    /// Refused: nothing is posted, the reason is shown.
    Reject(RedirectError),
}

/// The names the success redirect adds; scrubbed from the address bar at once.
pub const SUCCESS_PARAMETERS: [&str; 3] = ["authKey", "customerKey", "state"];

/// Decides, from the address and the tab's storage, what the success page does.
pub fn success_arrival(
    query: &str,
    pending: Option<&PendingRegistration>,
    stored: Option<HandoffRecord>,
) -> SuccessArrival {
    let pairs = match parse_query(query) {
        Ok(pairs) => pairs,
        Err(error) => return SuccessArrival::Reject(error.into()),
    };
    let has_redirect = pairs
        .iter()
        .any(|(name, _)| SUCCESS_PARAMETERS.contains(&name.as_str()));
    if !has_redirect {
        return match stored {
            Some(record) => SuccessArrival::Show(record),
            None => SuccessArrival::Reject(RedirectError::NotStartedHere),
        };
    }
    if let (Some(record), Ok(Some(state))) = (&stored, single(&pairs, "state")) {
        if record.state == state {
            return SuccessArrival::Show(record.clone());
        }
    }
    match parse_success(query, pending) {
        Ok(redirect) => SuccessArrival::Send(HandoffRecord {
            idempotency_key: idempotency_key(&redirect.auth_key),
            state: redirect.state,
            customer_key: redirect.customer_key,
            auth_key: Some(redirect.auth_key),
            checkout_session: pending.and_then(|p| p.checkout_session.clone()),
            status: HandoffStatus::Sending,
        }),
        Err(error) => SuccessArrival::Reject(error),
    }
}

/// Why an attempt got no final answer. Each one counts against `backendMaxAttempts`; a
/// `202 HANDOFF_PENDING` is not a failure and never counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptFailure {
    /// No answer: the connection failed.
    Network,
    /// No whole answer in time (headers and body).
    Timeout,
    /// An answer that is not final: 408, 409, 425, 429, 5xx, or a 4xx without the documented
    /// `{code, message}` body (a proxy's page).
    Status(u16),
    /// A 2xx whose body is not the documented one.
    BadResponse,
}

impl AttemptFailure {
    /// The `{code, message}` stored for it when the backend sent none of its own.
    pub fn error_body(self) -> ErrorBody {
        let code = match self {
            Self::Network => "NETWORK_ERROR".to_owned(),
            Self::Timeout => "TIMEOUT".to_owned(),
            Self::Status(status) => ["HTTP_", &decimal(u64::from(status))].concat(),
            Self::BadResponse => "BAD_RESPONSE".to_owned(),
        };
        ErrorBody {
            code,
            message: String::new(),
            retry_after_ms: None,
        }
    }
}

/// What one answer to the hand-off means, by the contract's one rule
/// ([`classify_answer`], `docs/handoff-contract.md` §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `200 {card}`: registered (its display fields kept only where plausible), with the
    /// subscription's outcome when the body had a readable one.
    Registered(CardSummary, Option<SubscriptionOutcome>),
    /// A documented 4xx with a code: a final no for this authKey.
    Refused(ErrorBody),
    /// `202 HANDOFF_PENDING`: the backend is still exchanging; ask again after its `retryAfterMs`.
    Pending(ErrorBody),
    /// Anything else: no final answer, keep the authKey.
    Failed {
        /// What went wrong.
        failure: AttemptFailure,
        /// The backend's documented `{code, message}`, if it sent one (never for a 2xx).
        error: Option<ErrorBody>,
    },
}

impl Answer {
    /// Reads an HTTP answer: `card` is the body's `{card}` if the body had one, `error` its
    /// `{code, message}` if it had one. An error body whose code is not of the documented shape
    /// counts as no error body.
    pub fn of_response(status: u16, card: Option<CardSummary>, error: Option<ErrorBody>) -> Self {
        let error = error.filter(|e| toss_billing_contract::is_error_code(&e.code));
        let code = error.as_ref().map(|e| e.code.as_str());
        match (classify_answer(status, card.is_some(), code), card, error) {
            (AnswerKind::Registered, Some(card), _) => Self::Registered(card.plausible(), None),
            (AnswerKind::Refused, _, Some(error)) => Self::Refused(error),
            (_, _, Some(error)) if status == 202 && error.code == HANDOFF_PENDING => {
                Self::Pending(error)
            }
            (_, _, _) if (200..300).contains(&status) => Self::Failed {
                failure: AttemptFailure::BadResponse,
                error: None,
            },
            (_, _, error) => Self::Failed {
                failure: AttemptFailure::Status(status),
                error,
            },
        }
    }

    /// The same answer with the body's subscription outcome attached (registered answers only;
    /// an outcome with an implausible field is dropped, and the page says only "registered").
    pub fn with_subscription(self, outcome: Option<SubscriptionOutcome>) -> Self {
        match self {
            Self::Registered(card, _) => {
                Self::Registered(card, outcome.and_then(SubscriptionOutcome::plausible))
            }
            other => other,
        }
    }

    /// No answer at all.
    pub fn failed(failure: AttemptFailure) -> Self {
        Self::Failed {
            failure,
            error: None,
        }
    }
}

/// Bounded retries with exponential backoff after failed attempts (network errors, timeouts,
/// answers that are not final). Final answers end the confirmation; `202 HANDOFF_PENDING` waits
/// as the backend asks, outside this policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failed attempts in all, the first included (`backendMaxAttempts`).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles after that.
    pub base_delay_ms: u32,
    /// Upper bound of a single delay.
    pub max_delay_ms: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay_ms: 400,
            max_delay_ms: 4_000,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt number `next_attempt` (2 for the first retry) after a failed one,
    /// or `None` when the attempts are used up.
    pub fn delay_before(&self, next_attempt: u32) -> Option<u32> {
        if next_attempt > self.max_attempts || next_attempt < 2 {
            return None;
        }
        let doublings = (next_attempt - 2).min(16);
        Some(
            self.base_delay_ms
                .saturating_mul(1 << doublings)
                .min(self.max_delay_ms),
        )
    }
}

/// The longest the customer watches the spinner for one confirmation (`confirmTimeoutMs`).
pub const DEFAULT_CONFIRM_TIMEOUT_MS: u32 = 20_000;

/// Less time than this left is not worth another attempt: the confirmation stops instead.
pub const MIN_ATTEMPT_MS: u32 = 500;

/// The wait after a `202 HANDOFF_PENDING` without `retryAfterMs`.
pub const DEFAULT_PENDING_WAIT_MS: u32 = 1_000;

/// The bounds of the wait after a `202 HANDOFF_PENDING`, whatever `retryAfterMs` says.
pub const PENDING_WAIT_BOUNDS_MS: (u32, u32) = (250, 3_000);

/// The wait before asking again after a `202 HANDOFF_PENDING` with this `retryAfterMs`.
pub fn pending_wait(retry_after_ms: Option<u32>) -> u32 {
    let (low, high) = PENDING_WAIT_BOUNDS_MS;
    retry_after_ms
        .unwrap_or(DEFAULT_PENDING_WAIT_MS)
        .clamp(low, high)
}

/// One confirmation's time: it starts when the spinner appears and ends `total_ms` later. Times
/// are milliseconds on a monotonic clock (the page's `performance.now()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmBudget {
    deadline_ms: u64,
}

impl ConfirmBudget {
    /// A budget of `total_ms` from `now_ms`.
    pub fn starting_at(now_ms: u64, total_ms: u32) -> Self {
        Self {
            deadline_ms: now_ms.saturating_add(u64::from(total_ms)),
        }
    }

    /// When the spinner must stop.
    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// Time left at `now_ms` (0 once spent).
    pub fn remaining(&self, now_ms: u64) -> u64 {
        self.deadline_ms.saturating_sub(now_ms)
    }

    /// The timeout of an attempt starting at `now_ms`: `per_attempt_ms`, cut to the time left;
    /// `None` when less than [`MIN_ATTEMPT_MS`] is left.
    pub fn attempt_timeout(&self, now_ms: u64, per_attempt_ms: u32) -> Option<u32> {
        let left = self.remaining(now_ms);
        (left >= u64::from(MIN_ATTEMPT_MS))
            .then(|| u32::try_from(left).map_or(per_attempt_ms, |left| left.min(per_attempt_ms)))
    }

    /// Whether waiting `delay_ms` from `now_ms` still leaves time for an attempt.
    pub fn can_wait(&self, now_ms: u64, delay_ms: u32) -> bool {
        self.attempt_timeout(now_ms.saturating_add(u64::from(delay_ms)), u32::MAX)
            .is_some()
    }
}

/// What to do after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send the same body and `Idempotency-Key` again after `delay_ms`. `pending`: the backend
    /// said it is still working (rather than the last attempt failing).
    AskAgain {
        /// How long to wait first.
        delay_ms: u32,
        /// Why: a `202 HANDOFF_PENDING` (true) or a failed attempt (false).
        pending: bool,
    },
    /// Stop: store and show this.
    Settle(HandoffStatus),
}

/// One confirmation of a hand-off, from its first attempt until a final answer, until its
/// failed attempts are used up (`backendMaxAttempts`), or until its time is (`confirmTimeoutMs`):
/// the rules of `docs/handoff-contract.md` §2 without the I/O. A manual "check again" starts a
/// new one, with a fresh budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    policy: RetryPolicy,
    per_attempt_ms: u32,
    budget: ConfirmBudget,
    failed: u32,
    last: Option<ErrorBody>,
}

impl Confirmation {
    /// A confirmation starting at `now_ms`, with attempts of at most `per_attempt_ms`
    /// (`backendTimeoutMs`) and `total_ms` in all.
    pub fn start(policy: RetryPolicy, per_attempt_ms: u32, total_ms: u32, now_ms: u64) -> Self {
        Self {
            policy,
            per_attempt_ms,
            budget: ConfirmBudget::starting_at(now_ms, total_ms),
            failed: 0,
            last: None,
        }
    }

    /// The timeout of an attempt starting at `now_ms` (the per-attempt timeout or the time left,
    /// whichever is less), or the outcome when no time is left for one (boxed: a status is large
    /// and this is the rare path).
    pub fn attempt_timeout(&self, now_ms: u64) -> Result<u32, Box<HandoffStatus>> {
        self.budget
            .attempt_timeout(now_ms, self.per_attempt_ms)
            .ok_or_else(|| Box::new(self.out_of_time()))
    }

    /// What to do after `answer`, which arrived at `now_ms`.
    pub fn after(&mut self, answer: Answer, now_ms: u64) -> Next {
        match answer {
            Answer::Registered(card, subscription) => {
                Next::Settle(HandoffStatus::Registered { card, subscription })
            }
            Answer::Refused(error) => Next::Settle(HandoffStatus::Refused { error }),
            Answer::Pending(error) => {
                let delay_ms = pending_wait(error.retry_after_ms);
                self.last = Some(error);
                self.wait(now_ms, delay_ms, true)
            }
            Answer::Failed { failure, error } => {
                self.failed = self.failed.saturating_add(1);
                self.last = Some(error.unwrap_or_else(|| failure.error_body()));
                match self.policy.delay_before(self.failed.saturating_add(1)) {
                    // Time ran out before the attempts did: say so, not "could not confirm".
                    _ if self.budget.attempt_timeout(now_ms, u32::MAX).is_none() => {
                        Next::Settle(self.out_of_time())
                    }
                    Some(delay_ms) => self.wait(now_ms, delay_ms, false),
                    None => Next::Settle(HandoffStatus::Unconfirmed {
                        error: self.last_error(),
                        still_confirming: false,
                    }),
                }
            }
        }
    }

    fn wait(&self, now_ms: u64, delay_ms: u32, pending: bool) -> Next {
        if self.budget.can_wait(now_ms, delay_ms) {
            Next::AskAgain { delay_ms, pending }
        } else {
            Next::Settle(self.out_of_time())
        }
    }

    fn last_error(&self) -> ErrorBody {
        self.last
            .clone()
            .unwrap_or_else(|| AttemptFailure::Timeout.error_body())
    }

    fn out_of_time(&self) -> HandoffStatus {
        HandoffStatus::Unconfirmed {
            error: self.last_error(),
            still_confirming: true,
        }
    }
}
