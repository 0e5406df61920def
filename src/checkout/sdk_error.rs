//! The SDK boundary's one error enum and its classification. Plain data (strings only), so it is
//! built and tested natively and shown by any view; `sdk::sdk_error_from_js` (the browser side)
//! turns a thrown `JsValue` into its parts and then into this. Re-exported as `sdk::SdkError`.

use super::words::{decimal, write_all};

/// Everything that can go wrong between us and the TossPayments SDK: loading its script, and every
/// documented error `code` its calls throw or reject with (contract §3). Unknown codes are kept
/// verbatim in [`SdkError::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkError {
    /// The `<script>` failed to load (network, 404, CSP). Retrying may help.
    ScriptLoadFailed {
        /// The script URL that failed.
        url: String,
    },
    /// The script loaded but did not define `window.TossPayments`.
    NamespaceMissing {
        /// The script URL that loaded.
        url: String,
    },
    /// The script did not finish loading in time.
    LoadTimedOut {
        /// The timeout that elapsed.
        timeout_ms: u32,
    },
    /// `USER_CANCEL`: the buyer closed the card window.
    UserCancel {
        /// Toss's message.
        message: String,
    },
    /// `PAYMENT_REQUEST_ABORTED`: `destroy()` while the window was open.
    PaymentRequestAborted {
        /// Toss's message.
        message: String,
    },
    /// `NOT_SUPPORTED_METHOD`: the client key has no billing contract.
    NotSupportedMethod {
        /// Toss's message.
        message: String,
    },
    /// `INCORRECT_SUCCESS_URL_FORMAT`.
    IncorrectSuccessUrlFormat {
        /// Toss's message.
        message: String,
    },
    /// `INCORRECT_FAIL_URL_FORMAT`.
    IncorrectFailUrlFormat {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_METHOD_TRANSACTION`: another request is already running (double click).
    InvalidMethodTransaction {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_PARAMETERS`: a missing, unknown or mistyped parameter.
    InvalidParameters {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_CLIENT_KEY`.
    InvalidClientKey {
        /// Toss's message.
        message: String,
    },
    /// `INVALID_CUSTOMER_KEY`.
    InvalidCustomerKey {
        /// Toss's message.
        message: String,
    },
    /// `INSECURE_KEY_USAGE`: a secret key where a client/customer key belongs.
    InsecureKeyUsage {
        /// Toss's message.
        message: String,
    },
    /// `NOT_SUPPORTED_WIDGET_KEY`: a payment-widget key was given to `payment()`.
    NotSupportedWidgetKey {
        /// Toss's message.
        message: String,
    },
    /// `UNKNOWN`.
    Unknown {
        /// Toss's message.
        message: String,
    },
    /// Any other code, kept verbatim for support.
    Other {
        /// The code as Toss sent it.
        code: String,
        /// Toss's message.
        message: String,
    },
    /// A throw or rejection that is not an object with a code or a known class name.
    Unexpected {
        /// What was thrown, as text.
        description: String,
    },
}

impl std::fmt::Display for SdkError {
    /// The developer's description (shown under "details for developers" for the errors a
    /// developer must fix), written piece by piece: no `write!`, no number formatting.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let number;
        let (before, value, after) = match self {
            Self::ScriptLoadFailed { url } => {
                ("the TossPayments script could not be loaded from ", url, "")
            }
            Self::NamespaceMissing { url } => (
                "the script at ",
                url,
                " loaded but did not define TossPayments",
            ),
            Self::LoadTimedOut { timeout_ms } => {
                number = decimal(u64::from(*timeout_ms));
                (
                    "the TossPayments script did not load within ",
                    &number,
                    " ms",
                )
            }
            Self::UserCancel { message } => ("the buyer closed the card window (", message, ")"),
            Self::PaymentRequestAborted { message } => {
                ("the card window was closed by the page (", message, ")")
            }
            Self::NotSupportedMethod { message } => (
                "this client key has no card billing contract (",
                message,
                ")",
            ),
            Self::IncorrectSuccessUrlFormat { message } => {
                ("Toss refused the successUrl (", message, ")")
            }
            Self::IncorrectFailUrlFormat { message } => {
                ("Toss refused the failUrl (", message, ")")
            }
            Self::InvalidMethodTransaction { message } => {
                ("another card window is already open (", message, ")")
            }
            Self::InvalidParameters { message } => {
                ("Toss refused the request parameters (", message, ")")
            }
            Self::InvalidClientKey { message } => ("Toss refused the client key (", message, ")"),
            Self::InvalidCustomerKey { message } => {
                ("Toss refused the customerKey (", message, ")")
            }
            Self::InsecureKeyUsage { message } => {
                ("a secret key was used in the browser (", message, ")")
            }
            Self::NotSupportedWidgetKey { message } => (
                "a payment-widget key cannot be used for billing (",
                message,
                ")",
            ),
            Self::Unknown { message } => ("Toss reported an unknown error (", message, ")"),
            Self::Other { code, message } => {
                return write_all(f, &["Toss reported ", code, " (", message, ")"])
            }
            Self::Unexpected { description } => ("the TossPayments SDK failed: ", description, ""),
        };
        write_all(f, &[before, value, after])
    }
}

impl std::error::Error for SdkError {}

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
                (Some(name), false) => [name, ": ", &message].concat(),
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
