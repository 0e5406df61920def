//! The Toss API client: issue a billing key, charge it, look an order or a payment up, refund
//! (cancel) a payment, delete a billing key. One HTTP call per method; retrying is the caller's
//! decision (`exchange`, `charge`, `refund`), always with the same Idempotency-Key. Every call is
//! timed into `billing_toss_request_duration_seconds{api, outcome}` and logged (the API, the
//! outcome, the status and the time; never a key, the body or the path, which can hold a billing
//! key), in the span of whatever asked for it — a request's, an exchange's, a charge's.

pub mod codes;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use std::time::{Duration, Instant};

use crate::metrics::{Metrics, TossApi, TossCallOutcome};

/// Characters kept as-is in a path segment; everything else (including `=`, `/`, `+`) is encoded:
/// a billing key can end in `=`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why a Toss call did not give a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TossError {
    /// Toss answered 4xx with `{code, message}` (not 408/409/425/429).
    #[error("Toss refused ({status} {code})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Toss's code.
        code: String,
        /// Toss's message.
        message: String,
    },
    /// Toss answered but could not do it now: 408, 409 (`IDEMPOTENT_REQUEST_PROCESSING`: the
    /// first request with this key is still running), 425, 429 or 5xx. The outcome of a charge is
    /// unknown after a 5xx.
    #[error("Toss was busy or failing ({status} {code:?})")]
    Busy {
        /// HTTP status.
        status: u16,
        /// Toss's code, if it sent one.
        code: Option<String>,
    },
    /// No answer in time. The call may have been processed.
    #[error("Toss did not answer in time")]
    Timeout,
    /// The connection could not be made: the call never reached Toss.
    #[error("Toss could not be reached")]
    Unreachable,
    /// The connection broke after the call was sent. It may have been processed.
    #[error("the connection to Toss broke: {0}")]
    Network(String),
    /// A 2xx whose body is not JSON of the documented shape.
    #[error("Toss answered {status} with an unreadable body")]
    BadResponse {
        /// HTTP status.
        status: u16,
    },
}

impl TossError {
    /// The code for logs and records.
    pub fn code(&self) -> String {
        match self {
            TossError::Refused { code, .. } => code.clone(),
            TossError::Busy {
                code: Some(code), ..
            } => code.clone(),
            TossError::Busy { status, .. } => format!("HTTP_{status}"),
            TossError::Timeout => "TOSS_TIMEOUT".into(),
            TossError::Unreachable => "TOSS_UNREACHABLE".into(),
            TossError::Network(_) => "TOSS_CONNECTION_LOST".into(),
            TossError::BadResponse { .. } => "TOSS_BAD_RESPONSE".into(),
        }
    }

    /// Its kind, for metrics.
    pub fn outcome(&self) -> TossCallOutcome {
        match self {
            TossError::Refused { .. } => TossCallOutcome::Refused,
            TossError::Busy { .. } => TossCallOutcome::Busy,
            TossError::Timeout => TossCallOutcome::Timeout,
            TossError::Unreachable => TossCallOutcome::Unreachable,
            TossError::Network(_) => TossCallOutcome::Network,
            TossError::BadResponse { .. } => TossCallOutcome::BadResponse,
        }
    }

    /// The HTTP status, if Toss answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            TossError::Refused { status, .. }
            | TossError::Busy { status, .. }
            | TossError::BadResponse { status } => Some(*status),
            _ => None,
        }
    }
}

/// A Toss API client bound to one base URL and secret key.
#[derive(Clone)]
pub struct TossClient {
    http: reqwest::Client,
    base: String,
    authorization: String,
    metrics: Metrics,
}

impl std::fmt::Debug for TossClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TossClient")
            .field("base", &self.base)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

/// `Basic base64(secretKey + ":")` — the trailing colon is required.
pub fn basic_auth(secret_key: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:"));
    format!("Basic {encoded}")
}

impl TossClient {
    /// A client with a per-call timeout, timing its calls into `metrics`.
    pub fn new(
        base: &str,
        secret_key: &str,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<TossClient, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("billing-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(TossClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            authorization: basic_auth(secret_key),
            metrics,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /v1/billing/authorizations/issue`.
    pub async fn issue_billing_key(
        &self,
        auth_key: &str,
        customer_key: &str,
        idempotency_key: &str,
    ) -> Result<Value, TossError> {
        let body = serde_json::json!({ "authKey": auth_key, "customerKey": customer_key });
        self.send(
            TossApi::Issue,
            self.http
                .post(format!("{}/v1/billing/authorizations/issue", self.base))
                .header("Idempotency-Key", idempotency_key)
                .json(&body),
        )
        .await
    }

    /// `POST /v1/billing/{billingKey}` (the billing key percent-encoded).
    pub async fn charge(
        &self,
        billing_key: &str,
        body: &Value,
        idempotency_key: &str,
    ) -> Result<Value, TossError> {
        let url = format!(
            "{}/v1/billing/{}",
            self.base,
            utf8_percent_encode(billing_key, SEGMENT)
        );
        self.send(
            TossApi::Charge,
            self.http
                .post(url)
                .header("Idempotency-Key", idempotency_key)
                .json(body),
        )
        .await
    }

    /// `GET /v1/payments/orders/{orderId}`: the Payment, or `None` on `404 NOT_FOUND_PAYMENT`.
    pub async fn lookup_order(&self, order_id: &str) -> Result<Option<Value>, TossError> {
        let url = format!(
            "{}/v1/payments/orders/{}",
            self.base,
            utf8_percent_encode(order_id, SEGMENT)
        );
        match self.send(TossApi::Lookup, self.http.get(url)).await {
            Ok(payment) => Ok(Some(payment)),
            Err(TossError::Refused {
                status: 404, code, ..
            }) if code == "NOT_FOUND_PAYMENT" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/payments/{paymentKey}`: the Payment, or `None` on `404 NOT_FOUND_PAYMENT`.
    pub async fn payment(&self, payment_key: &str) -> Result<Option<Value>, TossError> {
        let url = format!(
            "{}/v1/payments/{}",
            self.base,
            utf8_percent_encode(payment_key, SEGMENT)
        );
        match self.send(TossApi::Payment, self.http.get(url)).await {
            Ok(payment) => Ok(Some(payment)),
            Err(TossError::Refused {
                status: 404, code, ..
            }) if code == "NOT_FOUND_PAYMENT" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/payments/{paymentKey}/cancel` (a refund, whole or partial): the Payment after it.
    /// The body is `{cancelReason, cancelAmount}`; the Idempotency-Key is the refund's own.
    pub async fn cancel_payment(
        &self,
        payment_key: &str,
        body: &Value,
        idempotency_key: &str,
    ) -> Result<Value, TossError> {
        let url = format!(
            "{}/v1/payments/{}/cancel",
            self.base,
            utf8_percent_encode(payment_key, SEGMENT)
        );
        self.send(
            TossApi::Cancel,
            self.http
                .post(url)
                .header("Idempotency-Key", idempotency_key)
                .json(body),
        )
        .await
    }

    /// `DELETE /v1/billing/{billingKey}`: deletes a billing key at Toss. Best effort: Toss's
    /// billing guide says issued keys cannot be deleted, while its webhook reference names a
    /// deletion API (contract §10).
    pub async fn delete_billing_key(&self, billing_key: &str) -> Result<Value, TossError> {
        let url = format!(
            "{}/v1/billing/{}",
            self.base,
            utf8_percent_encode(billing_key, SEGMENT)
        );
        self.send(TossApi::Delete, self.http.delete(url)).await
    }

    /// One call to `api`, timed and logged.
    async fn send(
        &self,
        api: TossApi,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, TossError> {
        let started = Instant::now();
        let result = self.call(request).await;
        let took = started.elapsed();
        let outcome = match &result {
            Ok(_) => TossCallOutcome::Ok,
            Err(e) => e.outcome(),
        };
        self.metrics.toss_call(api, outcome, took);
        let status = match &result {
            Ok(_) => Some(200),
            Err(e) => e.status(),
        };
        tracing::info!(
            target: "toss",
            api = ?api,
            outcome = ?outcome,
            status,
            code = result.as_ref().err().map(TossError::code),
            ms = took.as_millis() as u64,
            "Toss call"
        );
        result
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, TossError> {
        let response = request
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(from_reqwest)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(from_reqwest)?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return match parsed {
                Some(v @ Value::Object(_)) => Ok(v),
                _ => Err(TossError::BadResponse { status }),
            };
        }
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let code = field("code");
        if status >= 500 || matches!(status, 408 | 409 | 425 | 429) || code.is_none() {
            return Err(TossError::Busy { status, code });
        }
        Err(TossError::Refused {
            status,
            code: code.unwrap_or_default(),
            message: field("message").unwrap_or_else(|| "Toss refused the request".into()),
        })
    }
}

fn from_reqwest(e: reqwest::Error) -> TossError {
    if e.is_timeout() {
        TossError::Timeout
    } else if e.is_connect() {
        TossError::Unreachable
    } else {
        // Without the URL: a charge's path holds the billing key.
        TossError::Network(e.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_auth_header() {
        assert_eq!(
            basic_auth("test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R"),
            "Basic dGVzdF9za196WExrS0V5cE5BcldtbzUwblgzbG1lYXhZRzVSOg=="
        );
    }

    #[test]
    fn billing_keys_are_encoded_in_the_path() {
        assert_eq!(
            utf8_percent_encode("ab+/c=", SEGMENT).to_string(),
            "ab%2B%2Fc%3D"
        );
    }
}
