//! Key kinds (contract §5): which key may appear in a browser, and the customerKey rule.
//!
//! Error messages never repeat the key they refuse: a secret key pasted by mistake must not end up in
//! a page, a screenshot or a support ticket.

use std::fmt;

/// Why a client key or customerKey was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Nothing was given.
    #[error("the client key is empty")]
    ClientKeyMissing,
    /// A `test_sk_`/`live_sk_`/`test_gsk_`/`live_gsk_` key: it belongs on the server only.
    #[error(
        "a secret key (…_sk_… or …_gsk_…) was given where the client key belongs; secret keys stay on \
         the server and must never be put in a page — use the API individual-integration client key \
         (test_ck_… or live_ck_…)"
    )]
    SecretKeyInBrowser,
    /// A payment-widget client key (`_gck_`): `payment()` refuses it.
    #[error(
        "a payment-widget client key (…_gck_…) cannot be used for card billing; use the API \
         individual-integration client key (test_ck_… or live_ck_…)"
    )]
    WidgetClientKey,
    /// Not a key of any known kind.
    #[error("the client key must start with test_ck_ or live_ck_ followed by letters and digits")]
    UnknownClientKeyKind,
    /// customerKey shorter than 2 or longer than 50 characters.
    #[error(fmt = customer_key_length)]
    CustomerKeyLength(usize),
    /// customerKey with a character outside `A-Z a-z 0-9 - _ = . @`.
    #[error("the customerKey may only contain A-Z, a-z, 0-9 and - _ = . @")]
    CustomerKeyCharacters,
    /// `@@ANONYMOUS` cannot hold a billing key.
    #[error(
        "the anonymous customerKey (@@ANONYMOUS) cannot register a card for automatic payments"
    )]
    AnonymousCustomer,
}

/// "the customerKey must be 2 to 50 characters long (it has N)", without `write!`.
fn customer_key_length(count: &usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let count = super::words::decimal(*count as u64);
    super::words::write_all(
        f,
        &[
            "the customerKey must be 2 to 50 characters long (it has ",
            &count,
            ")",
        ],
    )
}

use toss_billing_contract::CustomerKeyProblem;
pub use toss_billing_contract::{looks_like_secret_key, ANONYMOUS_CUSTOMER_KEY};

/// An API individual-integration client key (`test_ck_…` or `live_ck_…`), the only kind billing takes.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKey(String);

impl ClientKey {
    /// Accepts only `test_ck_`/`live_ck_` keys; refuses secret and widget keys with a specific error.
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(KeyError::ClientKeyMissing);
        }
        if looks_like_secret_key(key) {
            return Err(KeyError::SecretKeyInBrowser);
        }
        if key.starts_with("test_gck_") || key.starts_with("live_gck_") {
            return Err(KeyError::WidgetClientKey);
        }
        let rest = key
            .strip_prefix("test_ck_")
            .or_else(|| key.strip_prefix("live_ck_"))
            .ok_or(KeyError::UnknownClientKeyKind)?;
        if rest.is_empty() || rest.len() > 100 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyError::UnknownClientKeyKind);
        }
        Ok(Self(key.to_owned()))
    }

    /// The key as Toss expects it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Test keys talk to Toss's test environment: no real charge ever happens.
    pub fn is_test(&self) -> bool {
        self.0.starts_with("test_")
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public, but there is no reason to spread it through logs either.
        f.write_str(if self.is_test() {
            "ClientKey(test_ck_…)"
        } else {
            "ClientKey(live_ck_…)"
        })
    }
}

pub use toss_billing_contract::is_customer_key_char;

impl From<CustomerKeyProblem> for KeyError {
    fn from(problem: CustomerKeyProblem) -> Self {
        match problem {
            CustomerKeyProblem::Length(count) => Self::CustomerKeyLength(count),
            CustomerKeyProblem::Characters => Self::CustomerKeyCharacters,
            CustomerKeyProblem::Anonymous => Self::AnonymousCustomer,
            CustomerKeyProblem::SecretKey => Self::SecretKeyInBrowser,
        }
    }
}

/// The shape rule alone (2–50 characters of `A-Z a-z 0-9 - _ = . @`), as Toss checks it
/// (`toss_billing_contract`, the backend's rule too).
pub fn check_customer_key_shape(raw: &str) -> Result<(), KeyError> {
    toss_billing_contract::check_customer_key_shape(raw).map_err(KeyError::from)
}

/// A customerKey that can own a billing key: valid shape, not anonymous, not a secret key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerKey(String);

impl CustomerKey {
    /// Validates the rule of `toss_billing_contract` (the backend checks the same one).
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        toss_billing_contract::check_customer_key(raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// The key as Toss expects it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CustomerKey {
    type Error = KeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CustomerKey> for String {
    fn from(key: CustomerKey) -> Self {
        key.0
    }
}
