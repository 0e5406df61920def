//! The API's one error type: every variant is an answer with its status and a documented
//! `{"code", "message"}` body. Internal details are logged, never sent.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use toss_billing_contract::ErrorBody;

use crate::store::StoreError;

/// An error answer of the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `INVALID_REQUEST`: the body or a parameter breaks the documented shape.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 `NOT_SIGNED_IN`: the merchant's login is the identity, and nobody is signed in.
    #[error("로그인이 필요합니다.")]
    NotSignedIn,
    /// 401 `UNAUTHORIZED`: the operator token is missing or wrong.
    #[error("operator token required")]
    Unauthorized,
    /// 403 `FORBIDDEN_ORIGIN`: a cross-site request.
    #[error("다른 사이트에서 보낸 요청은 처리하지 않습니다.")]
    ForbiddenOrigin,
    /// 403 `CUSTOMER_KEY_MISMATCH`: the customerKey is not the caller's.
    #[error("{0}")]
    CustomerKeyMismatch(&'static str),
    /// 404 `NOT_FOUND`.
    #[error("no such resource")]
    NotFound,
    /// 404 `NO_BILLING_KEY`: the customer has no registered card.
    #[error("no card is registered for this customer")]
    NoBillingKey,
    /// 409 `ORDER_ID_CONFLICT`: the orderId was used for a different charge.
    #[error("this orderId was used for a different charge")]
    OrderIdConflict,
    /// 409 `CONFLICT`: the action does not fit the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// A refusal with its own code (`409` unless said otherwise): the action does not fit the
    /// subscription's state (`ALREADY_SUBSCRIBED`, `CONSENT_WINDOW_NOT_OPEN`, `PREVIEW_CHANGED`, …)
    /// or a checkout session cannot be used (`CHECKOUT_SESSION_USED`: 422, `…_EXPIRED`: 410).
    #[error("{message}")]
    Refused {
        /// The status.
        status: StatusCode,
        /// The code.
        code: &'static str,
        /// Why, in words.
        message: String,
    },
    /// A refusal that offers something else instead (`offer`, JSON, beside `code` and
    /// `message`): 청약철회 after its window (`WITHDRAWAL_PERIOD_OVER`, 409) offers 중도해지 with its
    /// exact refund.
    #[error("{message}")]
    RefusedWithOffer {
        /// The status.
        status: StatusCode,
        /// The code.
        code: &'static str,
        /// Why, in words.
        message: String,
        /// What the client may do instead.
        offer: serde_json::Value,
    },
    /// 429 `TOO_MANY_REQUESTS`: the client's rate limit (retryable).
    #[error("요청이 너무 많습니다. 잠시 후 다시 시도해주세요.")]
    TooManyRequests {
        /// Milliseconds until a request is allowed again.
        retry_after_ms: u32,
    },
    /// 503 `SERVICE_UNAVAILABLE`: the database failed (retryable; logged).
    #[error("일시적인 문제로 처리하지 못했습니다. 잠시 후 다시 시도해주세요.")]
    Unavailable(#[from] StoreError),
}

impl ApiError {
    /// The status and code of this answer.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            ApiError::NotSignedIn => (StatusCode::UNAUTHORIZED, "NOT_SIGNED_IN"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ApiError::ForbiddenOrigin => (StatusCode::FORBIDDEN, "FORBIDDEN_ORIGIN"),
            ApiError::CustomerKeyMismatch(_) => (StatusCode::FORBIDDEN, "CUSTOMER_KEY_MISMATCH"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::NoBillingKey => (StatusCode::NOT_FOUND, "NO_BILLING_KEY"),
            ApiError::OrderIdConflict => (StatusCode::CONFLICT, "ORDER_ID_CONFLICT"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::Refused { status, code, .. }
            | ApiError::RefusedWithOffer { status, code, .. } => (*status, code),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
        }
    }
}

/// `{"code", "message"}` with a status: the shape of every error answer.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after_ms: Option<u32>,
) -> Response {
    let mut response = (
        status,
        Json(ErrorBody {
            code: code.to_owned(),
            message: message.to_owned(),
            retry_after_ms,
        }),
    )
        .into_response();
    if let Some(ms) = retry_after_ms {
        let seconds = ms.div_ceil(1000).max(1);
        if let Ok(value) = seconds.to_string().parse() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Unavailable(e) = &self {
            tracing::error!(error = %e, "storage failed; answered 503");
        }
        if let ApiError::RefusedWithOffer { offer, .. } = &self {
            let body =
                serde_json::json!({ "code": code, "message": self.to_string(), "offer": offer });
            return (status, Json(body)).into_response();
        }
        let retry = match &self {
            ApiError::TooManyRequests { retry_after_ms } => Some(*retry_after_ms),
            ApiError::Unavailable(_) => Some(1000),
            _ => None,
        };
        error_response(status, code, &self.to_string(), retry)
    }
}

/// `Json<T>` whose rejections are [`ApiError::InvalidRequest`] answers in the documented shape
/// (axum's own are plain text). `T` should `deny_unknown_fields`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::InvalidRequest(match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    "Content-Type must be application/json".to_owned()
                }
                JsonRejection::BytesRejection(_) => {
                    "request body too large or unreadable".to_owned()
                }
                other => without_values(&other.body_text()),
            })),
        }
    }
}

/// `Path<T>` whose rejection is a plain `404 NOT_FOUND` (axum's names the Rust type and echoes
/// the segment): a path that does not parse names no resource.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// `Query<T>` whose rejections are [`ApiError::InvalidRequest`] answers in the documented shape,
/// naming fields, never echoing values.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::InvalidRequest(without_values(
                rejection
                    .body_text()
                    .trim_start_matches("Failed to deserialize query string: "),
            ))),
        }
    }
}

/// serde's messages quote the offending value (`invalid type: string "…"`): keep the field names
/// and the expectation, drop every quoted value, so nothing a client sent — a pasted secret key
/// included — is echoed back.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        match c {
            '"' if !inside => {
                inside = true;
                out.push_str("\"…");
            }
            '"' => {
                inside = false;
                out.push('"');
            }
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// `Result` of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    #[test]
    fn rejections_never_echo_values() {
        let m =
            super::without_values(r#"invalid type: string "test_sk_abc", expected u32 at line 1"#);
        assert_eq!(m, r#"invalid type: string "…", expected u32 at line 1"#);
    }
}
