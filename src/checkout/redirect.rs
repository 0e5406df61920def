//! Strict parsing of Toss's redirects back to us (contract §1.5–1.6, §4).

use std::fmt;

use super::keys::{CustomerKey, KeyError};
use super::query::{parse_query, QueryError};
use super::words::write_all;

use toss_billing_contract::AuthKeyProblem;
/// The longest authKey Toss issues.
pub use toss_billing_contract::MAX_AUTH_KEY_LEN;
/// How much of a fail `message` is ever shown.
pub const MAX_FAIL_MESSAGE_CHARS: usize = 200;

/// The one-time key Toss puts on the success redirect. Its `Debug` never prints it, so it cannot
/// reach a log by accident.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct AuthKey(String);

impl AuthKey {
    /// 1–300 visible ASCII characters (`toss_billing_contract`, the backend's rule too).
    pub fn parse(raw: &str) -> Result<Self, RedirectError> {
        toss_billing_contract::check_auth_key(raw).map_err(|problem| match problem {
            AuthKeyProblem::Empty => RedirectError::Missing("authKey"),
            AuthKeyProblem::TooLong => RedirectError::AuthKeyTooLong,
            AuthKeyProblem::Characters => RedirectError::AuthKeyMalformed,
        })?;
        Ok(Self(raw.to_owned()))
    }

    /// The key itself, for the hand-off body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

/// Why a success redirect was refused. Nothing is sent to the backend in any of these cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// The query could not be decoded.
    #[error(fmt = malformed)]
    Query(#[from] QueryError),
    /// A required parameter is absent or empty.
    #[error(fmt = missing)]
    Missing(&'static str),
    /// A parameter appears more than once.
    #[error(fmt = duplicated)]
    Duplicated(&'static str),
    /// The authKey is longer than Toss ever issues.
    #[error("the authKey is longer than 300 characters")]
    AuthKeyTooLong,
    /// The authKey has characters Toss never uses.
    #[error("the authKey contains characters that are not allowed")]
    AuthKeyMalformed,
    /// The customerKey breaks the rule.
    #[error(fmt = invalid_customer_key)]
    CustomerKey(KeyError),
    /// This tab never started a card registration (or already finished it).
    #[error("this browser tab did not start a card registration")]
    NotStartedHere,
    /// The customerKey is not the one this tab started with.
    #[error("the customerKey is not the one this registration started with")]
    CustomerKeyMismatch,
    /// The `state` is not the one this tab put in the successUrl.
    #[error("the state value does not match the registration this tab started")]
    StateMismatch,
    /// The address also carries the fail redirect's `code` or `message`: not one of Toss's two
    /// shapes, so it is neither a success nor a failure to act on.
    #[error("the address carries the fail page's parameters too")]
    BothShapes,
}

// The messages with a value in them, without `write!` (see `super::words`).
fn malformed(error: &QueryError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("the address is malformed: ")?;
    fmt::Display::fmt(error, f)
}

fn missing(name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write_all(f, &["the address has no ", name])
}

fn duplicated(name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write_all(f, &["the address has more than one ", name])
}

fn invalid_customer_key(error: &KeyError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("the customerKey is invalid: ")?;
    fmt::Display::fmt(error, f)
}

/// What this tab remembers, before opening the card window, to recognise its own redirect.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRegistration {
    /// The customerKey given to `payment()`.
    pub customer_key: CustomerKey,
    /// A one-time random value, also in the successUrl's own query.
    pub state: String,
    /// The checkout session the page was given with the customerKey (the terms the subscription
    /// starts on), sent back with the hand-off. Opaque here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_session: Option<String>,
}

/// A success redirect that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuccessRedirect {
    /// The one-time key to hand to the backend.
    pub auth_key: AuthKey,
    /// Equal to the pending registration's.
    pub customer_key: CustomerKey,
    /// Equal to the pending registration's.
    pub state: String,
}

/// The single value of `name`: `Ok(None)` when absent, an error when repeated.
pub fn single<'a>(
    pairs: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, RedirectError> {
    let mut values = pairs
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(RedirectError::Duplicated(name));
    }
    Ok(first)
}

fn required<'a>(
    pairs: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, RedirectError> {
    single(pairs, name)?
        .filter(|v| !v.is_empty())
        .ok_or(RedirectError::Missing(name))
}

/// Parses `?customerKey=…&authKey=…&state=…` and checks it against what this tab started.
pub fn parse_success(
    query: &str,
    pending: Option<&PendingRegistration>,
) -> Result<SuccessRedirect, RedirectError> {
    let pairs = parse_query(query)?;
    if pairs
        .iter()
        .any(|(name, _)| name == "code" || name == "message")
    {
        return Err(RedirectError::BothShapes);
    }
    let auth_key = AuthKey::parse(required(&pairs, "authKey")?)?;
    let customer_key =
        CustomerKey::parse(required(&pairs, "customerKey")?).map_err(RedirectError::CustomerKey)?;
    let state = required(&pairs, "state")?;
    let pending = pending.ok_or(RedirectError::NotStartedHere)?;
    if pending.customer_key != customer_key {
        return Err(RedirectError::CustomerKeyMismatch);
    }
    if pending.state != state {
        return Err(RedirectError::StateMismatch);
    }
    Ok(SuccessRedirect {
        auth_key,
        customer_key,
        state: state.to_owned(),
    })
}

/// The fail redirect's `code`, with our own copy for the documented ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailCode {
    /// The buyer cancelled.
    PayProcessCanceled,
    /// The process failed on Toss's side.
    PayProcessAborted,
    /// The card company refused the card.
    RejectCardCompany,
    /// Any other well-formed code, kept for support.
    Other(String),
    /// No code, a repeated one, or one that is not `A-Z 0-9 _`.
    Unreadable,
}

impl FailCode {
    fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some("PAY_PROCESS_CANCELED") => Self::PayProcessCanceled,
            Some("PAY_PROCESS_ABORTED") => Self::PayProcessAborted,
            Some("REJECT_CARD_COMPANY") => Self::RejectCardCompany,
            Some(code)
                if (1..=64).contains(&code.len())
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
            {
                Self::Other(code.to_owned())
            }
            _ => Self::Unreadable,
        }
    }

    /// The code as Toss sent it, when it is one worth showing.
    pub fn as_str(&self) -> Option<&str> {
        Some(match self {
            Self::PayProcessCanceled => "PAY_PROCESS_CANCELED",
            Self::PayProcessAborted => "PAY_PROCESS_ABORTED",
            Self::RejectCardCompany => "REJECT_CARD_COMPANY",
            Self::Other(code) => code,
            Self::Unreadable => return None,
        })
    }
}

/// A fail redirect, read leniently: the fail page must always be able to say something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailRedirect {
    /// What went wrong.
    pub code: FailCode,
    /// Toss's message: attacker-controllable, so plain text, control characters dropped, capped.
    pub message: Option<String>,
    /// Billing auth carries none; kept when present.
    pub order_id: Option<String>,
}

/// `raw` as plain text: control characters dropped, at most `max_chars`, trimmed; `None` if empty.
pub(crate) fn clean_text(raw: &str, max_chars: usize) -> Option<String> {
    let text: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Parses `?code=…&message=…[&orderId=…]`.
pub fn parse_fail(query: &str) -> FailRedirect {
    let Ok(pairs) = parse_query(query) else {
        return FailRedirect {
            code: FailCode::Unreadable,
            message: None,
            order_id: None,
        };
    };
    let code = single(&pairs, "code").map_or(FailCode::Unreadable, FailCode::parse);
    let message = single(&pairs, "message")
        .ok()
        .flatten()
        .and_then(|m| clean_text(m, MAX_FAIL_MESSAGE_CHARS));
    let order_id = single(&pairs, "orderId")
        .ok()
        .flatten()
        .filter(|id| {
            id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned);
    FailRedirect {
        code,
        message,
        order_id,
    }
}
