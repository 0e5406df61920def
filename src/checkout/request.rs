//! The card billing request (contract §2), validated before it crosses to JS: only documented
//! fields, absent optionals omitted rather than sent as `undefined`/`null`.

use serde::Serialize;

use super::config::Config;
#[cfg(doc)]
use super::urls::callback_urls;
use super::urls::{choose_window_target, is_absolute_http_url, CallbackUrls, WindowTarget};

/// Card owner kinds the window may offer; the first one given is preselected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CardOwnerType {
    /// 개인카드.
    Personal,
    /// 법인카드.
    Corporate,
}

impl CardOwnerType {
    /// The wire name (`PERSONAL`, `CORPORATE`), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "PERSONAL",
            Self::Corporate => "CORPORATE",
        }
    }
}

/// Easy-pay apps that `DIRECT` flow can open straight away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EasyPay {
    /// 토스페이.
    Tosspay,
    /// 네이버페이.
    Naverpay,
}

impl EasyPay {
    /// The wire name (`TOSSPAY`, `NAVERPAY`), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tosspay => "TOSSPAY",
            Self::Naverpay => "NAVERPAY",
        }
    }
}

/// `flowMode`. `easyPay` and `cardCompany` exist only with `DIRECT`, so they live in that variant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Flow {
    /// Toss's own window (the default; `flowMode` is then omitted).
    #[default]
    Default,
    /// Skip Toss's picker and open one card company's or easy-pay app's window directly.
    Direct {
        /// The easy-pay app to open, if any.
        easy_pay: Option<EasyPay>,
        /// The card company code to open, if any.
        card_company: Option<String>,
    },
}

/// Why a billing request was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// successUrl is not absolute.
    #[error("successUrl must be an absolute http(s) URL")]
    SuccessUrlNotAbsolute,
    /// failUrl is not absolute.
    #[error("failUrl must be an absolute http(s) URL")]
    FailUrlNotAbsolute,
    /// A name or email over 100 characters.
    #[error(fmt = too_long)]
    TooLong(&'static str),
    /// An empty card-type list, or one with repeats.
    #[error("selectableCardTypes must list PERSONAL and/or CORPORATE, each at most once")]
    BadCardTypes,
    /// An empty or oversize card company code.
    #[error("cardCompany must be a non-empty code of at most 20 characters")]
    BadCardCompany,
}

/// "FIELD must be at most 100 characters", without `write!`.
fn too_long(field: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    super::words::write_all(f, &[field, " must be at most 100 characters"])
}

/// A validated `requestBillingAuth({ method: "CARD", … })` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardBillingRequest {
    success_url: String,
    fail_url: String,
    customer_name: Option<String>,
    customer_email: Option<String>,
    window_target: Option<WindowTarget>,
    card_types: Vec<CardOwnerType>,
    flow: Flow,
}

/// The inputs of a [`CardBillingRequest`], before validation.
#[derive(Debug, Clone, Default)]
pub struct CardBillingParams {
    /// Absolute URL Toss redirects to on success.
    pub success_url: String,
    /// Absolute URL Toss redirects to on failure.
    pub fail_url: String,
    /// Optional, at most 100 characters.
    pub customer_name: Option<String>,
    /// Optional, at most 100 characters.
    pub customer_email: Option<String>,
    /// `None` lets Toss pick (iframe on PC, self on mobile).
    /// `iframe` or `self`.
    pub window_target: Option<WindowTarget>,
    /// Empty = Toss's default choice.
    pub card_types: Vec<CardOwnerType>,
    /// `DEFAULT` or `DIRECT`.
    pub flow: Flow,
}

fn optional_text(
    value: Option<String>,
    field: &'static str,
) -> Result<Option<String>, RequestError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > 100 => Err(RequestError::TooLong(field)),
        other => Ok(other),
    }
}

impl CardBillingRequest {
    /// Validates the parameters against the contract.
    pub fn new(params: CardBillingParams) -> Result<Self, RequestError> {
        if !is_absolute_http_url(&params.success_url) {
            return Err(RequestError::SuccessUrlNotAbsolute);
        }
        if !is_absolute_http_url(&params.fail_url) {
            return Err(RequestError::FailUrlNotAbsolute);
        }
        let types = &params.card_types;
        if types.len() > 2 || (types.len() == 2 && types[0] == types[1]) {
            return Err(RequestError::BadCardTypes);
        }
        if let Flow::Direct {
            card_company: Some(code),
            ..
        } = &params.flow
        {
            if code.is_empty() || code.len() > 20 {
                return Err(RequestError::BadCardCompany);
            }
        }
        Ok(Self {
            success_url: params.success_url,
            fail_url: params.fail_url,
            customer_name: optional_text(params.customer_name, "customerName")?,
            customer_email: optional_text(params.customer_email, "customerEmail")?,
            window_target: params.window_target,
            card_types: params.card_types,
            flow: params.flow,
        })
    }

    /// The request of a validated configuration, to the URLs [`callback_urls`] built for it, with
    /// the window target for this browser ([`choose_window_target`]). Nothing [`Self::new`]
    /// checks can fail here: `Config::validate` checked the name, the email and the card types,
    /// and `callback_urls` writes absolute URLs (a native test keeps the two equal).
    pub fn for_config(config: &Config, urls: CallbackUrls, is_mobile: bool) -> Self {
        Self {
            success_url: urls.success_url,
            fail_url: urls.fail_url,
            customer_name: config.customer_name.clone(),
            customer_email: config.customer_email.clone(),
            window_target: choose_window_target(config.window_target, is_mobile),
            card_types: config.card_types.clone(),
            flow: Flow::Default,
        }
    }

    /// The object that crosses to `requestBillingAuth`, borrowing from `self`.
    pub fn wire(&self) -> WireRequest<'_> {
        let (flow_mode, easy_pay, card_company) = match &self.flow {
            Flow::Default => (None, None, None),
            Flow::Direct {
                easy_pay,
                card_company,
            } => (Some("DIRECT"), *easy_pay, card_company.as_deref()),
        };
        WireRequest {
            method: "CARD",
            success_url: &self.success_url,
            fail_url: &self.fail_url,
            customer_name: self.customer_name.as_deref(),
            customer_email: self.customer_email.as_deref(),
            window_target: self.window_target,
            selectable_card_types: (!self.card_types.is_empty()).then_some(&self.card_types[..]),
            flow_mode,
            easy_pay,
            card_company,
        }
    }

    /// The URL Toss redirects to on success.
    pub fn success_url(&self) -> &str {
        &self.success_url
    }
}

/// Exactly the documented fields; `None` fields are left out of the object entirely. The serde
/// derive is the shape's definition (tests compare it); the page builds the JS object by hand
/// (`js_data::wire_request`), which costs far less wasm than a generic serializer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireRequest<'a> {
    /// Always `CARD`.
    pub method: &'static str,
    /// Where Toss redirects after a registered card (absolute).
    pub success_url: &'a str,
    /// Where Toss redirects after a failure (absolute).
    pub fail_url: &'a str,
    /// Shown in Toss's window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<&'a str>,
    /// Shown in Toss's window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<&'a str>,
    /// `iframe` or `self`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_target: Option<WindowTarget>,
    /// `PERSONAL` / `CORPORATE`, the first preselected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selectable_card_types: Option<&'a [CardOwnerType]>,
    /// `DIRECT` for a direct flow; absent for Toss's default window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_mode: Option<&'static str>,
    /// The easy-pay app of a direct flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub easy_pay: Option<EasyPay>,
    /// The card company of a direct flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_company: Option<&'a str>,
}
