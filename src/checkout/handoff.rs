//! The exactly-once hand-off of the authKey to the merchant backend: what a tab stores, what a
//! success page does on arrival, and when to retry. See `docs/handoff-contract.md`.

use serde::{Deserialize, Serialize};

use super::keys::CustomerKey;
use super::query::parse_query;
use super::redirect::{parse_success, single, AuthKey, PendingRegistration, RedirectError};
use super::sha256::sha256;
use super::urls::hex;

/// `Idempotency-Key` for the hand-off: `ak-` + hex SHA-256 of the authKey. Derived, so every retry
/// and every tab sends the same one, and the key itself never appears in a header.
pub fn idempotency_key(auth_key: &AuthKey) -> String {
    format!("ak-{}", hex(&sha256(auth_key.expose().as_bytes())))
}

/// What the backend says about the registered card (already masked by Toss).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardSummary {
    /// Card company, e.g. `현대`.
    pub company: String,
    /// Masked number, e.g. `433012******123*`.
    pub number: String,
    /// e.g. `신용`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    /// e.g. `개인`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_type: Option<String>,
}

impl CardSummary {
    /// Refuses an answer that is empty or absurdly long rather than render it.
    pub fn is_plausible(&self) -> bool {
        let ok = |s: &str| !s.trim().is_empty() && s.chars().count() <= 40;
        ok(&self.company)
            && ok(&self.number)
            && self.card_type.as_deref().is_none_or(ok)
            && self.owner_type.as_deref().is_none_or(ok)
    }
}

/// The backend's (and Toss's) error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code to branch on.
    pub code: String,
    /// Human text; shown only when we have no copy of our own.
    #[serde(default)]
    pub message: String,
}

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
    },
    /// The backend gave a final no (4xx): retrying the same authKey cannot help.
    Refused {
        /// The backend's error.
        error: ErrorBody,
    },
    /// Retries ran out on network errors/5xx: the authKey is kept for a manual retry.
    Unconfirmed {
        /// The last error seen.
        error: ErrorBody,
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
            status: HandoffStatus::Sending,
        }),
        Err(error) => SuccessArrival::Reject(error),
    }
}

/// How one hand-off attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptFailure {
    /// No answer: the connection failed.
    Network,
    /// No answer in time.
    Timeout,
    /// An HTTP error status.
    Status(u16),
    /// A 2xx whose body is not the documented one.
    BadResponse,
}

/// Bounded retries with exponential backoff, on network errors, timeouts and 5xx only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
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
    /// Whether this failure may be retried at all (4xx and odd 2xx bodies may not).
    pub fn is_retryable(failure: AttemptFailure) -> bool {
        match failure {
            AttemptFailure::Network | AttemptFailure::Timeout => true,
            AttemptFailure::Status(status) => status >= 500,
            AttemptFailure::BadResponse => false,
        }
    }

    /// The delay before attempt number `next_attempt` (2 for the first retry), or `None` when the
    /// failure is final or the attempts are used up.
    pub fn delay_before(&self, next_attempt: u32, failure: AttemptFailure) -> Option<u32> {
        if !Self::is_retryable(failure) || next_attempt > self.max_attempts || next_attempt < 2 {
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
