//! Runtime configuration: what a storefront sets per page, no rebuild. Every field is documented in
//! the README; [`RawConfig`] is what the page gives, [`Config`] what survived validation.

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::copy::Locale;
use super::handoff::{RetryPolicy, DEFAULT_CONFIRM_TIMEOUT_MS};
use super::keys::{looks_like_secret_key, ClientKey, CustomerKey, KeyError};
use super::plan::{check_plan, tidy_plan, PlanSummary};
use super::query::parse_query;
use super::request::CardOwnerType;
use super::urls::{check_extra_query, check_path, UrlError, WindowTarget};
use super::words::write_all;
use toss_billing_contract::{is_one_of, split_once_ascii};

/// The real TossPayments SDK v2 script.
pub const TOSS_SDK_URL: &str = "https://js.tosspayments.com/v2/standard";

/// The configuration as the page gives it (JSON, camelCase). Unknown fields are refused, so a typo
/// is an error that names the field instead of a silently ignored setting.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawConfig {
    /// `test_ck_…`/`live_ck_…`. Required.
    pub client_key: Option<String>,
    /// The customer's stable key, from the merchant's server. Either this or `customerKeyUrl`.
    pub customer_key: Option<String>,
    /// A same-site URL answering `{"customerKey": "…"}` for the signed-in customer, or a checkout
    /// session `{"customerKey", "checkoutSession", "terms"}` (billing-server's `/api/checkout`).
    pub customer_key_url: Option<String>,
    /// The plan the checkout is for, by id: added to `customerKeyUrl` as `plan=<id>`.
    pub plan_id: Option<String>,
    /// Where the success page posts `{authKey, customerKey}`. Default `/api/billing/issue`.
    pub backend_url: Option<String>,
    /// Registration page path, for "try again" links. Default `/`.
    pub register_path: Option<String>,
    /// Default `/billing/success`.
    pub success_path: Option<String>,
    /// Default `/billing/fail`.
    pub fail_path: Option<String>,
    /// The integrator's own query on the success/fail URLs, in the page's order.
    #[serde(default, deserialize_with = "pairs_in_order")]
    pub callback_query: Option<Vec<(String, String)>>,
    /// Optional, ≤ 100 characters.
    pub customer_name: Option<String>,
    /// Optional, ≤ 100 characters.
    pub customer_email: Option<String>,
    /// `ko` (default) or `en`.
    pub locale: Option<String>,
    /// The SDK script. Default: the real one.
    pub sdk_url: Option<String>,
    /// CSP nonce for the SDK `<script>`.
    pub sdk_nonce: Option<String>,
    /// Default 15000.
    pub sdk_timeout_ms: Option<u32>,
    /// `iframe` or `self`; never iframe on mobile.
    pub window_target: Option<WindowTarget>,
    /// `PERSONAL`/`CORPORATE`; the first is preselected.
    pub selectable_card_types: Option<Vec<CardOwnerType>>,
    /// Extra headers for the backend calls (e.g. a CSRF token), in the page's order.
    #[serde(default, deserialize_with = "pairs_in_order")]
    pub backend_headers: Option<Vec<(String, String)>>,
    /// `same-origin` (default), `include` or `omit`.
    pub credentials: Option<String>,
    /// Per attempt. Default 10000.
    pub backend_timeout_ms: Option<u32>,
    /// Failed hand-off attempts in all. Default 3.
    pub backend_max_attempts: Option<u32>,
    /// The longest one confirmation keeps the customer waiting. Default 20000.
    pub confirm_timeout_ms: Option<u32>,
    /// What the customer signs up for, shown beside the register button (the contract's
    /// `PlanSummary`: `{name, amount, cycle, firstChargeDate?, cancelNote?}`). Optional.
    pub plan: Option<PlanSummary>,
    /// Where the success page's "continue" link goes once the card is registered: a same-site
    /// path or an absolute http(s) URL. Optional: no link without it.
    pub continue_url: Option<String>,
    /// The continue link's text, ≤ 40 characters. Default: 계속하기 / Continue.
    pub continue_label: Option<String>,
    /// The portal: the customer's subscription (`GET`, and its actions under it). Default
    /// `/api/subscription`.
    pub subscription_url: Option<String>,
    /// The portal: the plans to switch to. Default `/api/plans`.
    pub plans_url: Option<String>,
    /// The portal: the customer's card (`DELETE` removes it). Default `/api/customer/card`.
    pub card_url: Option<String>,
}

/// A JSON object of strings as `(name, value)` pairs in the document's order, the order the
/// browser's `Object.keys` gives the wasm reader (`js_data`) too. A repeated name keeps its first
/// place and its last value, as `JSON.parse` does. (Pairs rather than a map: a map type's code
/// is kilobytes of wasm for a handful of entries.)
fn pairs_in_order<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<(String, String)>>, D::Error> {
    Ok(Option::<PairsInOrder>::deserialize(deserializer)?.map(|pairs| pairs.0))
}

/// What [`pairs_in_order`] reads, and its own serde visitor.
struct PairsInOrder(Vec<(String, String)>);

impl<'de> Deserialize<'de> for PairsInOrder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PairsInOrderVisitor)
    }
}

struct PairsInOrderVisitor;

impl<'de> Visitor<'de> for PairsInOrderVisitor {
    type Value = PairsInOrder;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PairsInOrder, A::Error> {
        let mut pairs: Vec<(String, String)> = vec![];
        while let Some((name, value)) = map.next_entry::<String, String>()? {
            match pairs.iter_mut().find(|(seen, _)| *seen == name) {
                Some(pair) => pair.1 = value,
                None => pairs.push((name, value)),
            }
        }
        Ok(PairsInOrder(pairs))
    }
}

impl RawConfig {
    /// Every field name the page may use (the serde names above; a native test keeps them equal).
    pub const FIELDS: [&'static str; 28] = [
        "clientKey",
        "customerKey",
        "customerKeyUrl",
        "planId",
        "backendUrl",
        "registerPath",
        "successPath",
        "failPath",
        "callbackQuery",
        "customerName",
        "customerEmail",
        "locale",
        "sdkUrl",
        "sdkNonce",
        "sdkTimeoutMs",
        "windowTarget",
        "selectableCardTypes",
        "backendHeaders",
        "credentials",
        "backendTimeoutMs",
        "backendMaxAttempts",
        "confirmTimeoutMs",
        "plan",
        "continueUrl",
        "continueLabel",
        "subscriptionUrl",
        "plansUrl",
        "cardUrl",
    ];
}

/// Why the configuration was refused. The message names the field, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The configuration could not be read at all: "the checkout configuration could not be
    /// read: …".
    Unreadable(String),
    /// A required field is missing: "configuration field `…` is required".
    Missing(&'static str),
    /// A field has a bad value: "configuration field `…`: …".
    Invalid {
        /// The camelCase field name.
        field: &'static str,
        /// What is wrong, without repeating the value.
        problem: Cow<'static, str>,
    },
    /// The page loaded a bundle that lacks the page its address asks for (e.g. the registration
    /// bundle at the success address); the text says which and what to load instead.
    NotInBundle(&'static str),
}

impl fmt::Display for ConfigError {
    /// Written piece by piece (no `write!`: its machinery is kilobytes of the page's wasm).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(why) => {
                write_all(f, &["the checkout configuration could not be read: ", why])
            }
            Self::Missing(field) => {
                write_all(f, &["configuration field `", field, "` is required"])
            }
            Self::Invalid { field, problem } => {
                write_all(f, &["configuration field `", field, "`: ", problem])
            }
            Self::NotInBundle(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for ConfigError {}

fn invalid(field: &'static str, problem: impl Into<Problem>) -> ConfigError {
    ConfigError::Invalid {
        field,
        problem: problem.into().0,
    }
}

/// A problem's words: static text is kept as it is (no copy, no formatting code at each of the
/// many call sites); an error value is written once, with its `Display`.
struct Problem(Cow<'static, str>);

impl From<&'static str> for Problem {
    fn from(text: &'static str) -> Self {
        Problem(Cow::Borrowed(text))
    }
}

impl From<String> for Problem {
    fn from(text: String) -> Self {
        Problem(Cow::Owned(text))
    }
}

macro_rules! problem_from_error {
    ($($error:ty),*) => {$(
        impl From<$error> for Problem {
            fn from(error: $error) -> Self {
                Problem(Cow::Owned(error.to_string()))
            }
        }
    )*};
}
problem_from_error!(KeyError, UrlError, super::query::QueryError);

/// Where the customerKey comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerSource {
    /// Given by the page.
    Fixed(CustomerKey),
    /// Fetched from the merchant's backend.
    Url(String),
}

/// `fetch` credentials mode for backend calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Cookies for same-origin backends only (default).
    SameOrigin,
    /// Cookies for a cross-origin backend too.
    Include,
    /// Never cookies.
    Omit,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The client key.
    pub client_key: ClientKey,
    /// Where the customerKey comes from.
    pub customer: CustomerSource,
    /// The hand-off endpoint.
    pub backend_url: String,
    /// Registration page path.
    pub register_path: String,
    /// Success page path.
    pub success_path: String,
    /// Fail page path.
    pub fail_path: String,
    /// Integrator's own callback query.
    pub callback_query: Vec<(String, String)>,
    /// Optional name for the card window.
    pub customer_name: Option<String>,
    /// Optional email for the card window.
    pub customer_email: Option<String>,
    /// Copy language.
    pub locale: Locale,
    /// SDK script URL.
    pub sdk_url: String,
    /// CSP nonce for the SDK script.
    pub sdk_nonce: Option<String>,
    /// SDK load timeout.
    pub sdk_timeout_ms: u32,
    /// Requested window target (mobile always gets `self`).
    pub window_target: Option<WindowTarget>,
    /// Card owner types offered.
    pub card_types: Vec<CardOwnerType>,
    /// Extra backend headers.
    pub backend_headers: Vec<(String, String)>,
    /// Credentials mode for backend calls.
    pub credentials: Credentials,
    /// Per-attempt backend timeout (body included).
    pub backend_timeout_ms: u32,
    /// Hand-off retries.
    pub retry: RetryPolicy,
    /// The most one confirmation of the hand-off may take, waits and attempts included.
    pub confirm_timeout_ms: u32,
    /// The plan summary shown beside the register button, if any.
    pub plan: Option<PlanSummary>,
    /// The success page's continue link, if any.
    pub continue_url: Option<String>,
    /// The continue link's own text (else the default copy).
    pub continue_label: Option<String>,
    /// The portal's subscription endpoint.
    pub subscription_url: String,
    /// The portal's plans endpoint.
    pub plans_url: String,
    /// The portal's card endpoint.
    pub card_url: String,
}

/// The portal's endpoints' defaults (billing-server's customer API).
pub const DEFAULT_SUBSCRIPTION_URL: &str = "/api/subscription";
/// See [`DEFAULT_SUBSCRIPTION_URL`].
pub const DEFAULT_PLANS_URL: &str = "/api/plans";
/// See [`DEFAULT_SUBSCRIPTION_URL`].
pub const DEFAULT_CARD_URL: &str = "/api/customer/card";

/// Headers the component sets itself; configuration may not override them.
const OWN_HEADERS: [&str; 4] = [
    "content-type",
    "accept",
    "idempotency-key",
    "content-length",
];

/// A same-site path, or an absolute http(s) URL (for a backend on another origin); trimmed.
fn check_endpoint<'a>(field: &'static str, value: &'a str) -> Result<&'a str, ConfigError> {
    let value = value.trim();
    let absolute = value.starts_with("https://") || value.starts_with("http://");
    if absolute && !super::urls::is_absolute_http_url(value) {
        return Err(invalid(
            field,
            "must be a path starting with '/' or an absolute http(s) URL",
        ));
    }
    if !absolute {
        check_path(value).map_err(|e| invalid(field, e))?;
    }
    Ok(value)
}

/// `url` with `plan=<id>` added to its query; the id is 1–40 of `A-Z a-z 0-9 - _`.
fn with_plan(url: &str, id: &str) -> Result<String, ConfigError> {
    if id.is_empty()
        || id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || is_one_of(b, b"-_"))
    {
        return Err(invalid("planId", "must be 1-40 of A-Z a-z 0-9 - _"));
    }
    let joiner = if split_once_ascii(url, b'?').is_some() {
        "&"
    } else {
        "?"
    };
    Ok([url, joiner, "plan=", id].concat())
}

/// A configured path (or its default), whose own query may not use the names Toss or we append.
fn check_path_field<'a>(
    field: &'static str,
    value: &'a Option<String>,
    default: &'a str,
) -> Result<&'a str, ConfigError> {
    let path = value.as_deref().unwrap_or(default);
    check_path(path).map_err(|e| invalid(field, e))?;
    if let Some((_, query)) = split_once_ascii(path, b'?') {
        let pairs = parse_query(query).map_err(|e| invalid(field, e))?;
        check_extra_query(&pairs).map_err(|e| invalid(field, e))?;
    }
    Ok(path)
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || is_one_of(b, b"!#$%&'*+-.^_`|~"))
}

/// A free-text field: trimmed, `None` when blank.
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn locale_of(value: Option<&str>) -> Option<Locale> {
    match value {
        None | Some("ko") | Some("ko-KR") => Some(Locale::Ko),
        Some("en") | Some("en-US") => Some(Locale::En),
        Some(_) => None,
    }
}

fn credentials_of(value: Option<&str>) -> Option<Credentials> {
    match value {
        None | Some("same-origin") => Some(Credentials::SameOrigin),
        Some("include") => Some(Credentials::Include),
        Some("omit") => Some(Credentials::Omit),
        Some(_) => None,
    }
}

/// The field's error if it is given and outside `range` (every default is inside its range).
fn in_range(
    field: &'static str,
    value: Option<u32>,
    range: std::ops::RangeInclusive<u32>,
    problem: &'static str,
) -> Result<(), ConfigError> {
    match value {
        Some(value) if !range.contains(&value) => Err(invalid(field, problem)),
        _ => Ok(()),
    }
}

/// `sdkTimeoutMs` when not given.
const DEFAULT_SDK_TIMEOUT_MS: u32 = 15_000;
/// `backendTimeoutMs` when not given.
const DEFAULT_BACKEND_TIMEOUT_MS: u32 = 10_000;

const DEFAULT_BACKEND_URL: &str = "/api/billing/issue";

impl RawConfig {
    /// The first field with a secret key in any of its strings.
    fn field_with_secret(&self) -> Option<&'static str> {
        let singles = [
            ("customerKey", &self.customer_key),
            ("customerKeyUrl", &self.customer_key_url),
            ("planId", &self.plan_id),
            ("backendUrl", &self.backend_url),
            ("registerPath", &self.register_path),
            ("successPath", &self.success_path),
            ("failPath", &self.fail_path),
            ("customerName", &self.customer_name),
            ("customerEmail", &self.customer_email),
            ("sdkUrl", &self.sdk_url),
            ("continueUrl", &self.continue_url),
            ("subscriptionUrl", &self.subscription_url),
            ("plansUrl", &self.plans_url),
            ("cardUrl", &self.card_url),
            ("continueLabel", &self.continue_label),
        ];
        let secret = |value: &String| looks_like_secret_key(value);
        if let Some((field, _)) = singles
            .iter()
            .find(|(_, value)| value.as_ref().is_some_and(secret))
        {
            return Some(field);
        }
        if let Some(plan) = &self.plan {
            if secret(&plan.name)
                || [&plan.first_charge_date, &plan.cancel_note]
                    .iter()
                    .any(|t| t.as_ref().is_some_and(secret))
            {
                return Some("plan");
            }
        }
        [
            ("backendHeaders", &self.backend_headers),
            ("callbackQuery", &self.callback_query),
        ]
        .into_iter()
        .find(|(_, pairs)| {
            pairs
                .iter()
                .flatten()
                .any(|(name, value)| secret(name) || secret(value))
        })
        .map(|(field, _)| field)
    }

    /// Validates everything; the first problem found is reported.
    /// The portal's validation: [`RawConfig::validate`], where the customerKey may be left out
    /// (the portal learns it from the subscription: it stands in for `customerKeyUrl`).
    pub fn validate_for_portal(mut self) -> Result<Config, ConfigError> {
        if self.customer_key.is_none() && self.customer_key_url.is_none() {
            self.customer_key_url = Some(
                self.subscription_url
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SUBSCRIPTION_URL.to_owned()),
            );
        }
        self.validate()
    }

    /// Checks the configuration and fills in the defaults.
    pub fn validate(self) -> Result<Config, ConfigError> {
        // Every rule first, on borrowed values; then the fields move into the Config. (One pass
        // that moves as it checks would drop every field not yet moved at each of its many early
        // returns: kilobytes of drop code in the page's wasm.)
        let (client_key, customer) = self.check()?;
        Ok(self.into_config(client_key, customer))
    }

    /// Every rule, in order; the two values only a parse can give.
    fn check(&self) -> Result<(ClientKey, CustomerSource), ConfigError> {
        // A secret key anywhere in a page is the worst mistake there is: refuse before anything else.
        if let Some(field) = self.field_with_secret() {
            return Err(invalid(field, KeyError::SecretKeyInBrowser));
        }
        let client_key = ClientKey::parse(
            self.client_key
                .as_deref()
                .ok_or(ConfigError::Missing("clientKey"))?,
        )
        .map_err(|e| invalid("clientKey", e))?;
        let customer = match (&self.customer_key, &self.customer_key_url) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "customerKey",
                    "give either customerKey or customerKeyUrl, not both",
                ))
            }
            (Some(key), None) => CustomerSource::Fixed(
                CustomerKey::parse(key).map_err(|e| invalid("customerKey", e))?,
            ),
            (None, Some(url)) => {
                let url = check_endpoint("customerKeyUrl", url)?;
                CustomerSource::Url(match &self.plan_id {
                    Some(id) => with_plan(url, id)?,
                    None => url.to_owned(),
                })
            }
            (None, None) => return Err(ConfigError::Missing("customerKey")),
        };
        if self.plan_id.is_some() && self.customer_key.is_some() {
            return Err(invalid(
                "planId",
                "a plan is chosen through customerKeyUrl (a checkout session), not with a fixed customerKey",
            ));
        }
        let backend_url = check_endpoint(
            "backendUrl",
            self.backend_url.as_deref().unwrap_or(DEFAULT_BACKEND_URL),
        )?;
        for (field, value, default) in [
            (
                "subscriptionUrl",
                &self.subscription_url,
                DEFAULT_SUBSCRIPTION_URL,
            ),
            ("plansUrl", &self.plans_url, DEFAULT_PLANS_URL),
            ("cardUrl", &self.card_url, DEFAULT_CARD_URL),
        ] {
            check_endpoint(field, value.as_deref().unwrap_or(default))?;
        }
        let register_path = check_path_field("registerPath", &self.register_path, "/")?;
        let success_path = check_path_field(
            "successPath",
            &self.success_path,
            toss_billing_contract::DEFAULT_SUCCESS_PATH,
        )?;
        let fail_path = check_path_field(
            "failPath",
            &self.fail_path,
            toss_billing_contract::DEFAULT_FAIL_PATH,
        )?;
        if success_path == fail_path || success_path == register_path || fail_path == register_path
        {
            return Err(invalid(
                "successPath",
                "registerPath, successPath and failPath must all differ",
            ));
        }
        check_extra_query(self.callback_query.as_deref().unwrap_or_default())
            .map_err(|e: UrlError| invalid("callbackQuery", e))?;
        for (field, value) in [
            ("customerName", &self.customer_name),
            ("customerEmail", &self.customer_email),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.trim().chars().count() > 100)
            {
                return Err(invalid(field, "must be at most 100 characters"));
            }
        }
        locale_of(self.locale.as_deref())
            .ok_or_else(|| invalid("locale", "must be \"ko\" or \"en\""))?;
        let sdk_url = check_endpoint("sdkUrl", self.sdk_url.as_deref().unwrap_or(TOSS_SDK_URL))?;
        if !client_key.is_test() {
            // A live key charges real cards: only the real SDK, and only over https.
            if sdk_url != TOSS_SDK_URL {
                return Err(invalid(
                    "sdkUrl",
                    "a live client key must load the real TossPayments SDK, \
                     https://js.tosspayments.com/v2/standard",
                ));
            }
            let customer_url = match &customer {
                CustomerSource::Url(url) => url.as_str(),
                CustomerSource::Fixed(_) => "",
            };
            for (field, url) in [
                ("backendUrl", backend_url),
                ("customerKeyUrl", customer_url),
            ] {
                if url.starts_with("http://") {
                    return Err(invalid(field, "a live client key needs an https backend"));
                }
            }
        }
        if self.sdk_nonce.as_deref().is_some_and(|n| {
            !n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || is_one_of(b, b"+/=-_"))
        }) {
            return Err(invalid("sdkNonce", "must be a base64 value"));
        }
        in_range(
            "sdkTimeoutMs",
            self.sdk_timeout_ms,
            1_000..=120_000,
            "must be between 1000 and 120000",
        )?;
        if let Some(types) = &self.selectable_card_types {
            if types.len() > 2 || (types.len() == 2 && types[0] == types[1]) {
                return Err(invalid(
                    "selectableCardTypes",
                    "list PERSONAL and/or CORPORATE, each at most once",
                ));
            }
        }
        for (name, value) in self.backend_headers.iter().flatten() {
            if !header_name_ok(name) || OWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(invalid(
                    "backendHeaders",
                    ["`", name, "` is not a header the page may set"].concat(),
                ));
            }
            if value.chars().any(|c| c.is_control()) {
                return Err(invalid(
                    "backendHeaders",
                    ["the value of `", name, "` has control characters"].concat(),
                ));
            }
        }
        credentials_of(self.credentials.as_deref()).ok_or_else(|| {
            invalid(
                "credentials",
                "must be \"same-origin\", \"include\" or \"omit\"",
            )
        })?;
        in_range(
            "backendTimeoutMs",
            self.backend_timeout_ms,
            500..=120_000,
            "must be between 500 and 120000",
        )?;
        in_range(
            "backendMaxAttempts",
            self.backend_max_attempts,
            1..=6,
            "must be between 1 and 6",
        )?;
        in_range(
            "confirmTimeoutMs",
            self.confirm_timeout_ms,
            5_000..=DEFAULT_CONFIRM_TIMEOUT_MS,
            "must be between 5000 and 20000",
        )?;
        if let Some(plan) = &self.plan {
            check_plan(plan).map_err(|p| invalid(p.field, p.problem))?;
        }
        if let Some(url) = &self.continue_url {
            check_endpoint("continueUrl", url)?;
        }
        match self.continue_label.as_deref().map(str::trim) {
            None | Some("") => {}
            Some(_) if self.continue_url.is_none() => {
                return Err(invalid("continueLabel", "is used only with continueUrl"))
            }
            Some(label) if label.chars().count() > 40 => {
                return Err(invalid("continueLabel", "must be at most 40 characters"))
            }
            Some(_) => {}
        }
        Ok((client_key, customer))
    }

    /// The checked configuration, its defaults filled in (`check` has accepted it).
    fn into_config(self, client_key: ClientKey, customer: CustomerSource) -> Config {
        let endpoint = |value: Option<String>, default: &str| {
            value.as_deref().unwrap_or(default).trim().to_owned()
        };
        let path =
            |value: Option<String>, default: &str| value.unwrap_or_else(|| default.to_owned());
        Config {
            client_key,
            customer,
            backend_url: endpoint(self.backend_url, DEFAULT_BACKEND_URL),
            register_path: path(self.register_path, "/"),
            success_path: path(
                self.success_path,
                toss_billing_contract::DEFAULT_SUCCESS_PATH,
            ),
            fail_path: path(self.fail_path, toss_billing_contract::DEFAULT_FAIL_PATH),
            callback_query: self.callback_query.unwrap_or_default(),
            customer_name: text(self.customer_name),
            customer_email: text(self.customer_email),
            locale: locale_of(self.locale.as_deref()).unwrap_or_default(),
            sdk_url: endpoint(self.sdk_url, TOSS_SDK_URL),
            sdk_nonce: self.sdk_nonce.filter(|n| !n.is_empty()),
            sdk_timeout_ms: self.sdk_timeout_ms.unwrap_or(DEFAULT_SDK_TIMEOUT_MS),
            window_target: self.window_target,
            card_types: self.selectable_card_types.unwrap_or_default(),
            backend_headers: self.backend_headers.unwrap_or_default(),
            credentials: credentials_of(self.credentials.as_deref())
                .unwrap_or(Credentials::SameOrigin),
            backend_timeout_ms: self
                .backend_timeout_ms
                .unwrap_or(DEFAULT_BACKEND_TIMEOUT_MS),
            retry: {
                let default = RetryPolicy::default();
                RetryPolicy {
                    max_attempts: self.backend_max_attempts.unwrap_or(default.max_attempts),
                    ..default
                }
            },
            confirm_timeout_ms: self
                .confirm_timeout_ms
                .unwrap_or(DEFAULT_CONFIRM_TIMEOUT_MS),
            plan: self.plan.map(tidy_plan),
            continue_url: self.continue_url.map(|url| url.trim().to_owned()),
            continue_label: text(self.continue_label),
            subscription_url: endpoint(self.subscription_url, DEFAULT_SUBSCRIPTION_URL),
            plans_url: endpoint(self.plans_url, DEFAULT_PLANS_URL),
            card_url: endpoint(self.card_url, DEFAULT_CARD_URL),
        }
    }
}

pub use toss_billing_contract::Page;

impl Config {
    /// The page for `pathname`: the success and fail paths (without their own query) are matched
    /// exactly, a trailing slash tolerated; everything else is the registration page, so the
    /// component can sit on any storefront URL.
    pub fn page_for(&self, pathname: &str) -> Page {
        toss_billing_contract::page_for(&self.success_path, &self.fail_path, pathname)
    }

    /// Refuses a live client key on a page not served over https (`protocol` is the page's
    /// `location.protocol`, e.g. `https:`): the browser layer reads it when a checkout mounts.
    pub fn check_page_protocol(&self, protocol: &str) -> Result<(), ConfigError> {
        if self.client_key.is_test() || protocol == "https:" {
            Ok(())
        } else {
            Err(invalid(
                "clientKey",
                "a live client key (live_ck_) needs the page served over https",
            ))
        }
    }
}
