//! The SDK boundary's one error enum and its classification. Plain data (strings only), so it is
//! built and tested natively and shown by any view; `sdk::sdk_error_from_js` (the browser side)
//! turns a thrown `JsValue` into its parts and then into this. Re-exported as `sdk::SdkError`.

/// Everything that can go wrong between us and the TossPayments SDK: loading its script, and every
/// documented error `code` its calls throw or reject with (contract §3). Unknown codes are kept
/// verbatim in [`SdkError::Other`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkError {
    /// The `<script>` failed to load (network, 404, CSP). Retrying may help.
    #[error("the TossPayments script could not be loaded from {url}")]
    ScriptLoadFailed {
        /// The script URL that failed.
        url: String,
    },
    /// The script loaded but did not define `window.TossPayments`.
    #[error("the script at {url} loaded but did not define TossPayments")]
    NamespaceMissing {
        /// The script URL that loaded.
        url: String,
    },
    /// The script did not finish loading in time.
    #[error("the TossPayments script did not load within {timeout_ms} ms")]
    LoadTimedOut {
        /// The timeout that elapsed.
        timeout_ms: u32,
    },
    /// `USER_CANCEL`: the buyer closed the card window.
    #[error("the buyer closed the card window ({message})")]
    UserCancel {
        /// Toss's message.
        message: String,
    },
    /// `PAYMENT_REQUEST_ABORTED`: `destroy()` while the window was open.
    #[error("the card window was closed by the page ({message})")]
    PaymentRequestAborted {
        /// Toss's message.
        message: String,
    },
    /// `NOT_SUPPORTED_METHOD`: the client key has no billing contract.
    #[error("this client key has no card billing contract ({message})")]
    NotSupportedMethod {
        /// Toss's message.
        message: String,
    },
    /// `INCORRECT_SUCCESS_URL_FORMAT`.
    #[error("Toss refused the successUrl ({message})")]
    IncorrectSuccessUrlFormat {
        /// Toss's message.
        message: String,
    },
    /// `INCORRECT_FAIL_URL_FORMAT`.
    #[error("Toss refused the failUrl ({message})")]
    IncorrectFailUrlFormat {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_METHOD_TRANSACTION`: another request is already running (double click).
    #[error("another card window is already open ({message})")]
    InvalidMethodTransaction {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_PARAMETERS`: a missing, unknown or mistyped parameter.
    #[error("Toss refused the request parameters ({message})")]
    InvalidParameters {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_CLIENT_KEY`.
    #[error("Toss refused the client key ({message})")]
    InvalidClientKey {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_CUSTOMER_KEY`.
    #[error("Toss refused the customerKey ({message})")]
    InvalidCustomerKey {
        /// Toss's message.
        message: String,
    },
    /// `INSECURE_KEY_USAGE`: a secret key where a client/customer key belongs.
    #[error("a secret key was used in the browser ({message})")]
    InsecureKeyUsage {
        /// Toss's message.
        message: String,
    },
    /// `NOT_SUPPORTED_WIDGET_KEY`: a payment-widget key was given to `payment()`.
    #[error("a payment-widget key cannot be used for billing ({message})")]
    NotSupportedWidgetKey {
        /// Toss's message.
        message: String,
    },
    /// `UNKNOWN`.
    #[error("Toss reported an unknown error ({message})")]
    Unknown {
        /// Toss's message.
        message: String,
    },
    /// Any other code, kept verbatim for support.
    #[error("Toss reported {code} ({message})")]
    Other {
        /// The code as Toss sent it.
        code: String,
        /// Toss's message.
        message: String,
    },
    /// A throw or rejection that is not an object with a code or a known class name.
    #[error("the TossPayments SDK failed: {description}")]
    Unexpected {
        /// What was thrown, as text.
        description: String,
    },
}

impl SdkError {
    /// Classifies a thrown/rejected value from its parts: branch on `code`, fall back on the class
    /// `name` (`UserCancelError`, `PaymentRequestAbortedError`), and accept neither.
    pub fn from_parts(code: Option<&str>, name: Option<&str>, message: Option<&str>) -> Self {
        let message = message
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect::<String>();
        let code = code.filter(|c| !c.is_empty()).or(match name {
            Some("UserCancelError") => Some("USER_CANCEL"),
            Some("PaymentRequestAbortedError") => Some("PAYMENT_REQUEST_ABORTED"),
            _ => None,
        });
        let Some(code) = code else {
            let description = match (name, message.is_empty()) {
                (Some(name), false) => format!("{name}: {message}"),
                (Some(name), true) => name.to_owned(),
                (None, false) => message,
                (None, true) => "an error without a code".to_owned(),
            };
            return Self::Unexpected { description };
        };
        match code {
            "USER_CANCEL" => Self::UserCancel { message },
            "PAYMENT_REQUEST_ABORTED" => Self::PaymentRequestAborted { message },
            "NOT_SUPPORTED_METHOD" => Self::NotSupportedMethod { message },
            "INCORRECT_SUCCESS_URL_FORMAT" => Self::IncorrectSuccessUrlFormat { message },
            "INCORRECT_FAIL_URL_FORMAT" => Self::IncorrectFailUrlFormat { message },
            "INVALID_METHOD_TRANSACTION" => Self::InvalidMethodTransaction { message },
            "INVALID_PARAMETERS" => Self::InvalidParameters { message },
            "INVALID_CLIENT_KEY" => Self::InvalidClientKey { message },
            "INVALID_CUSTOMER_KEY" => Self::InvalidCustomerKey { message },
            "INSECURE_KEY_USAGE" => Self::InsecureKeyUsage { message },
            "NOT_SUPPORTED_WIDGET_KEY" => Self::NotSupportedWidgetKey { message },
            "UNKNOWN" => Self::Unknown { message },
            other => Self::Other {
                code: other.chars().take(64).collect(),
                message,
            },
        }
    }

    /// The Toss code this error stands for, if it came from the SDK.
    pub fn code(&self) -> Option<&str> {
        Some(match self {
            Self::UserCancel { .. } => "USER_CANCEL",
            Self::PaymentRequestAborted { .. } => "PAYMENT_REQUEST_ABORTED",
            Self::NotSupportedMethod { .. } => "NOT_SUPPORTED_METHOD",
            Self::IncorrectSuccessUrlFormat { .. } => "INCORRECT_SUCCESS_URL_FORMAT",
            Self::IncorrectFailUrlFormat { .. } => "INCORRECT_FAIL_URL_FORMAT",
            Self::InvalidMethodTransaction { .. } => "INVALID_METHOD_TRANSACTION",
            Self::InvalidParameters { .. } => "INVALID_PARAMETERS",
            Self::InvalidClientKey { .. } => "INVALID_CLIENT_KEY",
            Self::InvalidCustomerKey { .. } => "INVALID_CUSTOMER_KEY",
            Self::InsecureKeyUsage { .. } => "INSECURE_KEY_USAGE",
            Self::NotSupportedWidgetKey { .. } => "NOT_SUPPORTED_WIDGET_KEY",
            Self::Unknown { .. } => "UNKNOWN",
            Self::Other { code, .. } => code,
            Self::ScriptLoadFailed { .. }
            | Self::NamespaceMissing { .. }
            | Self::LoadTimedOut { .. }
            | Self::Unexpected { .. } => return None,
        })
    }

    /// The buyer (or the page) closed the window: not an error to shout about.
    pub fn is_cancel(&self) -> bool {
        matches!(
            self,
            Self::UserCancel { .. } | Self::PaymentRequestAborted { .. }
        )
    }

    /// Loading the script failed in a way a retry can fix.
    pub fn is_load_failure(&self) -> bool {
        matches!(
            self,
            Self::ScriptLoadFailed { .. }
                | Self::NamespaceMissing { .. }
                | Self::LoadTimedOut { .. }
        )
    }

    /// A mistake in the integration (keys, URLs, parameters): retrying cannot help.
    pub fn is_integration_error(&self) -> bool {
        matches!(
            self,
            Self::NotSupportedMethod { .. }
                | Self::IncorrectSuccessUrlFormat { .. }
                | Self::IncorrectFailUrlFormat { .. }
                | Self::InvalidParameters { .. }
                | Self::InvalidClientKey { .. }
                | Self::InvalidCustomerKey { .. }
                | Self::InsecureKeyUsage { .. }
                | Self::NotSupportedWidgetKey { .. }
        )
    }
}
