//! successUrl / failUrl building and the window-target choice (contract §2, §7).

use super::query::append_query;

/// Query parameters that Toss or this component put on the callback URLs; an integrator's own query
/// must not use them, or the success page could not tell them apart.
pub const RESERVED_PARAMETERS: [&str; 6] = [
    "customerKey",
    "authKey",
    "code",
    "message",
    "orderId",
    "state",
];

/// Why a callback URL could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The page origin is not `http(s)://host[:port]`.
    #[error("the page origin is not an http(s) origin, so Toss cannot redirect back to it")]
    BadOrigin,
    /// A configured path is not an absolute path on this origin.
    #[error("must be a path on this site that starts with a single '/' (no spaces, '#' or '\\')")]
    BadPath,
    /// The integrator's query uses a name Toss or the component needs.
    #[error(fmt = reserved_parameter)]
    ReservedParameter(String),
}

/// "the query parameter name `NAME` is reserved for the Toss redirect", without `write!`.
fn reserved_parameter(name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    super::words::write_all(
        f,
        &[
            "the query parameter name `",
            name,
            "` is reserved for the Toss redirect",
        ],
    )
}

/// Accepts `http://host[:port]` and `https://host[:port]` with nothing after the authority.
pub fn check_origin(origin: &str) -> Result<(), UrlError> {
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or(UrlError::BadOrigin)?;
    let ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok {
        Ok(())
    } else {
        Err(UrlError::BadOrigin)
    }
}

/// Accepts a site-absolute path such as `/billing/success` or `/billing/success?plan=pro`.
/// Refuses `//evil.example` (protocol-relative: it would leave the site), backslashes, fragments,
/// whitespace and control characters.
pub fn check_path(path: &str) -> Result<(), UrlError> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 512
        && !path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\\' | '#'));
    if ok {
        Ok(())
    } else {
        Err(UrlError::BadPath)
    }
}

/// Whether `url` is an absolute http(s) URL, as `requestBillingAuth` requires.
pub fn is_absolute_http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    // The authority (up to the first `/`, `?` or `#`) is empty exactly when one of those comes first.
    let authority_empty = matches!(rest.bytes().next(), None | Some(b'/' | b'?' | b'#'));
    !authority_empty && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Refuses an integrator query that reuses a reserved name.
pub fn check_extra_query(pairs: &[(String, String)]) -> Result<(), UrlError> {
    match pairs
        .iter()
        .find(|(name, _)| RESERVED_PARAMETERS.contains(&name.as_str()))
    {
        Some((name, _)) => Err(UrlError::ReservedParameter(name.clone())),
        None => Ok(()),
    }
}

/// The two absolute URLs Toss redirects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrls {
    /// Toss appends `customerKey` and `authKey`.
    pub success_url: String,
    /// Toss appends `code` and `message`.
    pub fail_url: String,
}

/// Builds the callback URLs from the page origin and the configured paths.
///
/// The success URL carries the integrator's own query and the one-time `state`, like OAuth's state
/// parameter, so the success page can tell a redirect this tab started from a crafted link.
pub fn callback_urls(
    origin: &str,
    success_path: &str,
    fail_path: &str,
    extra_query: &[(String, String)],
    state: &str,
) -> Result<CallbackUrls, UrlError> {
    check_origin(origin)?;
    check_path(success_path)?;
    check_path(fail_path)?;
    check_extra_query(extra_query)?;
    let extra = extra_query.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    let success_url = append_query(
        &[origin, success_path].concat(),
        extra.clone().chain([("state", state)]),
    );
    let fail_url = append_query(&[origin, fail_path].concat(), extra);
    Ok(CallbackUrls {
        success_url,
        fail_url,
    })
}

/// Lowercase hex of `bytes` (state values, hashes).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

/// Where Toss shows its card window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowTarget {
    /// An overlay in the page; desktop only.
    Iframe,
    /// The page navigates to Toss and back (mobile).
    #[serde(rename = "self")]
    SelfWindow,
}

impl WindowTarget {
    /// The wire name (`iframe`, `self`), as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iframe => "iframe",
            Self::SelfWindow => "self",
        }
    }
}

/// The window target to request: whatever is configured on desktop, never `iframe` on mobile (Toss
/// refuses it there), and `self` when nothing is configured on mobile.
pub fn choose_window_target(
    configured: Option<WindowTarget>,
    is_mobile: bool,
) -> Option<WindowTarget> {
    if is_mobile {
        Some(WindowTarget::SelfWindow)
    } else {
        configured
    }
}

/// A user-agent guess of "mobile", the same kind of test Toss's SDK makes to pick its default window.
pub fn is_mobile_user_agent(user_agent: &str) -> bool {
    ["Mobi", "Android", "iPhone", "iPad", "iPod"]
        .iter()
        .any(|marker| toss_billing_contract::contains_bytes(user_agent, marker))
}
