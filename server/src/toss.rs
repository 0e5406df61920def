//! A small client for the two Toss billing APIs, with timeouts and bounded retries.
//!
//! Both calls are safe to retry: the issue call is keyed by the one-time authKey and carries an
//! `Idempotency-Key`, the charge call always carries one. Retries happen only after a 5xx/429
//! answer or a connection error. A timed-out call is *not* retried here (Toss may still be
//! processing it); the caller reports it and a later retry with the same Idempotency-Key gets
//! Toss's first answer.

use crate::util;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use std::time::Duration;

/// Characters kept as-is in a path segment; everything else (including `=`, `/`, `+`) is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why a Toss call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TossError {
    /// Toss answered 4xx with `{code, message}`: a definitive refusal.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// Toss answered 5xx/429 (after retries) or could not be reached.
    Unavailable {
        status: Option<u16>,
        code: Option<String>,
    },
    /// Toss did not answer in time.
    Timeout,
    /// Toss answered 2xx with a body we cannot use.
    BadResponse(String),
}

/// One HTTP attempt, for the record.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub http_status: Option<u16>,
    /// `DONE`, `REFUSED`, `SERVER_ERROR`, `NETWORK_ERROR` or `TIMEOUT`.
    pub outcome: &'static str,
    pub code: Option<String>,
}

/// A Toss API client bound to one base URL and secret key.
#[derive(Clone)]
pub struct TossClient {
    http: reqwest::Client,
    base: String,
    authorization: String,
    max_retries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for TossClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TossClient")
            .field("base", &self.base)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

/// `Basic base64(secretKey + ":")`.
pub fn basic_auth(secret_key: &str) -> String {
    format!("Basic {}", util::b64(format!("{secret_key}:").as_bytes()))
}

impl TossClient {
    pub fn new(
        base: &str,
        secret_key: &str,
        timeout: Duration,
        max_retries: u32,
        backoff: Duration,
    ) -> Result<TossClient, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("billing-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(TossClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            authorization: basic_auth(secret_key),
            max_retries,
            backoff,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /v1/billing/authorizations/issue`.
    pub async fn issue_billing_key(
        &self,
        auth_key: &str,
        customer_key: &str,
        idempotency_key: &str,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Value, TossError> {
        let body = serde_json::json!({ "authKey": auth_key, "customerKey": customer_key });
        self.post(
            "/v1/billing/authorizations/issue",
            &body,
            idempotency_key,
            attempts,
        )
        .await
    }

    /// `POST /v1/billing/{billingKey}` (the billing key percent-encoded).
    pub async fn charge(
        &self,
        billing_key: &str,
        body: &Value,
        idempotency_key: &str,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Value, TossError> {
        let path = format!("/v1/billing/{}", utf8_percent_encode(billing_key, SEGMENT));
        self.post(&path, body, idempotency_key, attempts).await
    }

    async fn post(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: &str,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Value, TossError> {
        let url = format!("{}{}", self.base, path);
        let mut try_no = 0u32;
        loop {
            let result = self.post_once(&url, body, idempotency_key).await;
            let (attempt, outcome) = match result {
                Ok((status, v)) => (
                    Attempt {
                        http_status: Some(status),
                        outcome: "DONE",
                        code: None,
                    },
                    Ok(v),
                ),
                Err(e) => {
                    let a = match &e {
                        TossError::Refused { status, code, .. } => Attempt {
                            http_status: Some(*status),
                            outcome: "REFUSED",
                            code: Some(code.clone()),
                        },
                        TossError::Unavailable { status, code } => Attempt {
                            http_status: *status,
                            outcome: if status.is_some() {
                                "SERVER_ERROR"
                            } else {
                                "NETWORK_ERROR"
                            },
                            code: code.clone(),
                        },
                        TossError::Timeout => Attempt {
                            http_status: None,
                            outcome: "TIMEOUT",
                            code: None,
                        },
                        TossError::BadResponse(_) => Attempt {
                            http_status: None,
                            outcome: "BAD_RESPONSE",
                            code: None,
                        },
                    };
                    (a, Err(e))
                }
            };
            attempts.push(attempt);
            match outcome {
                Err(TossError::Unavailable { .. }) if try_no < self.max_retries => {
                    let factor = 1u32 << try_no.min(6);
                    let jitter =
                        Duration::from_millis(u64::from(util::random_bytes::<1>()[0]) % 50);
                    tokio::time::sleep(self.backoff * factor + jitter).await;
                    try_no += 1;
                }
                other => return other,
            }
        }
    }

    async fn post_once(
        &self,
        url: &str,
        body: &Value,
        idempotency_key: &str,
    ) -> Result<(u16, Value), TossError> {
        let resp = self
            .http
            .post(url)
            .header("Authorization", &self.authorization)
            .header("Idempotency-Key", idempotency_key)
            .header("Accept", "application/json")
            .json(body)
            .send()
            .await
            .map_err(map_reqwest_error)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(map_reqwest_error)?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return match parsed {
                Some(v @ Value::Object(_)) => Ok((status, v)),
                _ => Err(TossError::BadResponse(format!(
                    "Toss answered {status} with a body that is not a JSON object"
                ))),
            };
        }
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("code"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if status >= 500 || status == 429 {
            return Err(TossError::Unavailable {
                status: Some(status),
                code,
            });
        }
        Err(TossError::Refused {
            status,
            code: code.unwrap_or_else(|| "UNKNOWN_ERROR".into()),
            message: message.unwrap_or_else(|| "Toss refused the request".into()),
        })
    }
}

fn map_reqwest_error(e: reqwest::Error) -> TossError {
    if e.is_timeout() {
        TossError::Timeout
    } else {
        TossError::Unavailable {
            status: None,
            code: None,
        }
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
    fn billing_key_is_encoded() {
        let s = utf8_percent_encode("ab+/c=", SEGMENT).to_string();
        assert_eq!(s, "ab%2B%2Fc%3D");
    }
}
