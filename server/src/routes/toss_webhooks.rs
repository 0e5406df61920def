//! `POST {TOSS_WEBHOOK_PATH}` (default `/api/toss/webhooks`): Toss's webhooks. Cross-site by
//! nature, so it is mounted outside the same-site check (`api_router`). It only queues: the body
//! (at most [`MAX_BODY_BYTES`]) is written to the inbox under its
//! `tosspayments-webhook-transmission-id` and the answer is `200 {"received": true}` at once —
//! the same answer whatever the body names, so it tells nobody whether a billing key or payment
//! matched. `crate::toss_webhooks` processes the inbox in the background. With
//! `TOSS_WEBHOOK_ALLOWLIST=on` only Toss's published source addresses are served (behind
//! `TRUST_PROXY_HEADERS=1`, the forwarded client address); others get `403`. If the database
//! cannot take the row the answer is `503`, and Toss delivers again later.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use toss_billing_contract::ErrorBody;
use tower_governor::key_extractor::KeyExtractor;

use super::{AppContext, ClientIp};
use crate::error::{error_response, ApiError};
use crate::ids;
use crate::settings::TOSS_WEBHOOK_SOURCES;

/// Webhook bodies are refused above this (Toss's are a few KiB: a Payment at most).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(ctx: &AppContext) -> Router<AppContext> {
    Router::new().route(&ctx.settings.toss_webhook_path, post(receive))
}

/// The OpenAPI description of this route, at the default `TOSS_WEBHOOK_PATH`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(receive))]
pub(super) struct Doc;

/// `{"received": true}`.
#[allow(dead_code)]
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Received {
    /// Always true: the same answer whatever the body names.
    received: bool,
}

#[utoipa::path(
    post,
    path = "/api/toss/webhooks",
    tag = "toss",
    summary = "Toss's webhooks (PAYMENT_STATUS_CHANGED, BILLING_DELETED)",
    description = "Called by Toss, not part of the merchant's API. The path is `TOSS_WEBHOOK_PATH` (this is its default); register `https://<your host>{TOSS_WEBHOOK_PATH}` in Toss's developer console. Exempt from the same-site check. The body (at most 64 KiB, any content) is written to the inbox under its `tosspayments-webhook-transmission-id` and processed in the background; amounts are never taken from it. With `TOSS_WEBHOOK_ALLOWLIST=on` only Toss's published addresses are served.",
    security(()),
    params(
        ("tosspayments-webhook-transmission-id" = Option<String>, Header, description = "One per event; a repeat only counts the delivery."),
        ("tosspayments-webhook-transmission-retried-count" = Option<i64>, Header, description = "Toss's retry count."),
    ),
    request_body(content = Object, description = "Toss's webhook payload (`eventType`, `createdAt`, `data`), read as text.", content_type = "application/json"),
    responses(
        (status = 200, description = "Received (whatever the body names).", body = Received),
        (status = 403, description = "`FORBIDDEN_SOURCE`: `TOSS_WEBHOOK_ALLOWLIST=on` and the caller is not one of Toss's addresses.", body = ErrorBody),
        (status = 413, description = "`BODY_TOO_LARGE`: above 64 KiB.", body = ErrorBody),
    )
)]
async fn receive(State(ctx): State<AppContext>, request: Request) -> Response {
    if ctx.settings.toss_webhook_allowlist {
        let ip = ClientIp {
            trust_proxy: ctx.settings.trust_proxy_headers,
        }
        .extract(&request)
        .ok();
        if !ip.is_some_and(|ip| TOSS_WEBHOOK_SOURCES.contains(&ip.to_canonical())) {
            tracing::warn!(
                ?ip,
                "a Toss webhook from an address Toss does not publish was refused"
            );
            return error_response(
                StatusCode::FORBIDDEN,
                "FORBIDDEN_SOURCE",
                "this endpoint accepts Toss's webhooks only",
                None,
            );
        }
    }
    let (parts, body) = request.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let transmission_id = header("tosspayments-webhook-transmission-id");
    let retried_count = header("tosspayments-webhook-transmission-retried-count")
        .and_then(|v| v.trim().parse::<i64>().ok());
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_TOO_LARGE",
                "a webhook body is at most 64 KiB",
                None,
            )
        }
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    // Toss sends one on every delivery; without one, the body itself identifies the event.
    let transmission_id = match transmission_id {
        Some(id) if !id.is_empty() && id.len() <= 200 => id,
        Some(id) => format!("sha256:{}", ids::sha256_hex(id.as_bytes())),
        None => format!("body-sha256:{}", ids::sha256_hex(body.as_bytes())),
    };
    match ctx
        .toss_inbox
        .receive(&transmission_id, &body, retried_count)
        .await
    {
        Ok(_) => (StatusCode::OK, Json(json!({ "received": true }))).into_response(),
        Err(e) => ApiError::Unavailable(e).into_response(),
    }
}
