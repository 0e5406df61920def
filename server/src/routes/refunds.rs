//! The operator's refunds: `POST /api/admin/charges/{orderId}/refunds` refunds all or part of a
//! charge once per refund id, `GET /api/admin/refunds[?orderId=&subscriptionId=&customerKey=]`
//! lists them, `GET /api/admin/refunds/{id}` reads one with every call made to Toss for it
//! (`crate::refund` does the work); `GET /api/admin/toss-webhooks` shows Toss's webhooks as
//! received and what processing them did.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use toss_billing_contract::{is_valid_idempotency_key, is_valid_order_id, ErrorBody};
use utoipa::{IntoParams, ToSchema};

use super::{check_operator, AppContext};
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::ids;
use crate::refund::{RefundError, RefundRequest};
use crate::store::refunds::{RefundKind, RefundRow, RefundStatus};

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/api/admin/charges/{order_id}/refunds", post(create))
        .route("/api/admin/refunds", get(list))
        .route("/api/admin/refunds/{id}", get(read))
        .route("/api/admin/toss-webhooks", get(webhooks))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, read, webhooks))]
pub(super) struct Doc;

/// The answers' shapes, for the OpenAPI description (the handlers build them with `json!`, so
/// nothing here is constructed).
#[allow(dead_code)]
pub(super) mod schema {
    use serde::Serialize;
    use utoipa::ToSchema;

    /// A refund as the operator sees it.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct OperatorRefund {
        /// Its id (it names the refund for ever: one Toss cancel at most).
        refund_id: String,
        /// The charge.
        order_id: String,
        /// Toss's paymentKey of the charge.
        payment_key: String,
        /// The customer.
        customer_key: String,
        /// The charge's subscription.
        subscription_id: Option<i64>,
        /// KRW.
        amount: i64,
        /// Toss's `cancelReason`.
        reason: String,
        /// `OPERATOR`, `MID_TERM` (중도해지), `WITHDRAWAL` (청약철회), `EXTERNAL` (Toss's console).
        kind: String,
        /// `PENDING`, `UNKNOWN` (being confirmed), `DONE`, `FAILED`.
        status: String,
        /// Who asked (`operator`, `customer`, `toss`).
        requested_by: String,
        /// Toss's transactionKey of the cancel.
        transaction_key: Option<String>,
        /// When Toss cancelled.
        canceled_at: Option<String>,
        /// Toss's code when refused.
        code: Option<String>,
        /// Toss's message when refused.
        message: Option<String>,
        /// How often it was sent to Toss (one Idempotency-Key for every send).
        sends: i64,
        /// When it was recorded.
        created_at: String,
        /// When it last changed.
        updated_at: String,
        /// Every call made to Toss for it (not in a charge's list).
        calls: Option<Vec<RefundCall>>,
    }

    /// One call made to Toss for a refund.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct RefundCall {
        /// `CANCEL` or `LOOKUP`.
        kind: String,
        /// The HTTP status Toss answered, if it answered.
        http_status: Option<i64>,
        /// What it meant.
        outcome: String,
        /// Toss's code.
        code: Option<String>,
        /// When.
        at: String,
    }

    /// A list of refunds.
    #[derive(Serialize, ToSchema)]
    pub struct RefundList {
        /// Newest first.
        refunds: Vec<OperatorRefund>,
    }

    /// A Toss webhook as received, and what processing it did.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct ReceivedWebhook {
        /// Its id.
        id: i64,
        /// `tosspayments-webhook-transmission-id`.
        transmission_id: String,
        /// `PAYMENT_STATUS_CHANGED`, `BILLING_DELETED`, …
        event_type: Option<String>,
        /// `PENDING`, `DONE`, …
        status: String,
        /// How often Toss delivered it.
        deliveries: i64,
        /// How often it was processed.
        attempts: i64,
        /// What processing did.
        outcome: Option<String>,
        /// Toss's retry count on the last delivery.
        retried_count: Option<i64>,
        /// When it first arrived.
        received_at: String,
        /// When it was processed.
        processed_at: Option<String>,
    }

    /// Toss's webhooks.
    #[derive(Serialize, ToSchema)]
    pub struct WebhookList {
        /// Newest first.
        webhooks: Vec<ReceivedWebhook>,
    }
}

/// The body of `POST /api/admin/charges/{orderId}/refunds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRefund {
    /// 6-64 of `A-Z a-z 0-9 - _`; required, unless an `Idempotency-Key` header names the refund
    /// instead. The same id again is the same refund (another charge or amount:
    /// `REFUND_ID_CONFLICT`).
    refund_id: Option<String>,
    /// KRW; omitted: whatever is left of the charge.
    amount: Option<i64>,
    /// Toss's `cancelReason`, 1–200 characters.
    reason: String,
}

/// The refund id of a refund named only by its `Idempotency-Key`: derived, so a retry with the
/// same key is the same refund.
fn refund_id_for_key(key: &str) -> String {
    format!("key-{}", &ids::sha256_hex(key.as_bytes())[..40])
}

/// Maps a refusal to its answer.
impl From<RefundError> for ApiError {
    fn from(e: RefundError) -> ApiError {
        match e {
            RefundError::NotRefundable => ApiError::Refused {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "NOT_REFUNDABLE",
                message: e.to_string(),
            },
            RefundError::OverBalance { .. } => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "REFUND_EXCEEDS_BALANCE",
                message: e.to_string(),
            },
            RefundError::IdConflict => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "REFUND_ID_CONFLICT",
                message: e.to_string(),
            },
            RefundError::Store(e) => ApiError::Unavailable(e),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/admin/charges/{orderId}/refunds",
    tag = "operator",
    summary = "Refund all or part of a charge, exactly once per refund id",
    description = "Toss is asked to cancel with one Idempotency-Key per refund for ever, never more than the charge's balance; an unclear outcome is looked up before anything is sent again (`server/README.md`, Refunds).",
    params(
        ("orderId" = String, Path, description = "The charge."),
        ("Idempotency-Key" = Option<String>, Header, description = "Names the refund instead of `refundId` (1-300 visible ASCII characters)."),
    ),
    request_body = CreateRefund,
    responses(
        (status = 200, description = "Refunded (`DONE`).", body = schema::OperatorRefund),
        (status = 202, description = "Still being sent or confirmed: ask again (`Location: /api/admin/refunds/{id}`, `Retry-After`).", body = schema::OperatorRefund),
        (status = 400, description = "`INVALID_REQUEST`: no refundId and no Idempotency-Key (a retry would refund twice), or a malformed field.", body = ErrorBody),
        (status = 409, description = "`REFUND_EXCEEDS_BALANCE`: more than is left of the charge. `REFUND_ID_CONFLICT`: the refund id names a different charge or amount.", body = ErrorBody),
        (status = 422, description = "Refused by Toss (`FAILED`, Toss's `code` in the refund); or `NOT_REFUNDABLE` (an `ErrorBody`): the charge was never approved.", body = schema::OperatorRefund),
    )
)]
async fn create(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateRefund>,
) -> ApiResult<Response> {
    check_operator(&ctx, &headers)?;
    let id = match (body.refund_id, headers.get("idempotency-key")) {
        (Some(id), _) if is_valid_order_id(&id) => id,
        (Some(_), _) => {
            return Err(ApiError::InvalidRequest(
                "refundId must be 6-64 characters of A-Z a-z 0-9 - _".into(),
            ))
        }
        (None, Some(key)) => match key.to_str() {
            Ok(key) if is_valid_idempotency_key(key) => refund_id_for_key(key),
            _ => {
                return Err(ApiError::InvalidRequest(
                    "Idempotency-Key must be 1-300 visible ASCII characters".into(),
                ))
            }
        },
        (None, None) => {
            return Err(ApiError::InvalidRequest(
                "refundId (or an Idempotency-Key header) is required: a retry without one would refund twice"
                    .into(),
            ))
        }
    };
    if body
        .amount
        .is_some_and(|a| !(1..=1_000_000_000).contains(&a))
    {
        return Err(ApiError::InvalidRequest(
            "amount must be an integer from 1 to 1000000000 (or omitted: everything left)".into(),
        ));
    }
    if body.reason.trim().is_empty() || body.reason.chars().count() > 200 {
        return Err(ApiError::InvalidRequest(
            "reason must be 1-200 characters".into(),
        ));
    }
    let row = ctx
        .refunds
        .submit(&RefundRequest {
            id,
            order_id,
            amount: body.amount,
            reason: body.reason,
            kind: RefundKind::Operator,
            requested_by: "operator".into(),
        })
        .await?;
    refund_answer(&ctx, &row).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this charge's.
    order_id: Option<String>,
    /// Only this subscription's.
    subscription_id: Option<i64>,
    /// Only this customer's.
    customer_key: Option<String>,
    /// At most this many (1-500, default 100).
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/admin/refunds",
    tag = "operator",
    summary = "List refunds",
    params(ListQuery),
    responses(
        (status = 200, description = "The refunds, with their calls.", body = schema::RefundList),
        (status = 400, description = "`INVALID_REQUEST`: an unknown or malformed parameter.", body = ErrorBody),
    )
)]
async fn list(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    let rows = ctx
        .store
        .list_refunds(
            q.order_id.as_deref(),
            q.subscription_id,
            q.customer_key.as_deref(),
            q.limit.unwrap_or(100).clamp(1, 500),
        )
        .await?;
    let mut refunds = Vec::with_capacity(rows.len());
    for row in &rows {
        refunds.push(refund_json(&ctx, row, true).await?);
    }
    Ok(Json(json!({ "refunds": refunds })))
}

#[utoipa::path(
    get,
    path = "/api/admin/refunds/{id}",
    tag = "operator",
    summary = "One refund, with every call made to Toss for it",
    params(("id" = String, Path, description = "The refund id.")),
    responses(
        (status = 200, description = "Refunded.", body = schema::OperatorRefund),
        (status = 202, description = "Still being sent or confirmed.", body = schema::OperatorRefund),
        (status = 404, description = "`NOT_FOUND`: no such refund.", body = ErrorBody),
        (status = 422, description = "Refused by Toss: its `code`.", body = schema::OperatorRefund),
    )
)]
async fn read(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    check_operator(&ctx, &headers)?;
    let row = ctx.store.refund(&id).await?.ok_or(ApiError::NotFound)?;
    refund_answer(&ctx, &row).await
}

/// A refund as the operator sees it, with every call made to Toss for it if `calls`.
pub(super) async fn refund_json(
    ctx: &AppContext,
    row: &RefundRow,
    calls: bool,
) -> ApiResult<Value> {
    let mut out = json!({
        "refundId": row.id, "orderId": row.order_id, "paymentKey": row.payment_key,
        "customerKey": row.customer_key, "subscriptionId": row.subscription_id,
        "amount": row.amount, "reason": row.reason, "kind": row.kind, "status": row.status,
        "requestedBy": row.requested_by, "transactionKey": row.transaction_key,
        "canceledAt": row.canceled_at, "code": row.result_code, "message": row.result_message,
        "sends": row.sends, "createdAt": iso_kst(row.created_at), "updatedAt": iso_kst(row.updated_at),
    });
    if calls {
        let calls: Vec<Value> = ctx
            .store
            .refund_calls(&row.id)
            .await?
            .into_iter()
            .map(|(kind, http_status, outcome, code, at)| {
                json!({ "kind": format!("{kind:?}").to_uppercase(), "httpStatus": http_status,
                        "outcome": outcome, "code": code, "at": iso_kst(at) })
            })
            .collect();
        out["calls"] = Value::Array(calls);
    }
    Ok(out)
}

/// A refund as JSON: `200` refunded, `422` refused by Toss, `202` still being sent or confirmed
/// (ask again with `GET`, `Location`).
async fn refund_answer(ctx: &AppContext, row: &RefundRow) -> ApiResult<Response> {
    let body = refund_json(ctx, row, true).await?;
    let status = match row.status {
        RefundStatus::Done => StatusCode::OK,
        RefundStatus::Failed => StatusCode::UNPROCESSABLE_ENTITY,
        RefundStatus::Pending | RefundStatus::Unknown => StatusCode::ACCEPTED,
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::ACCEPTED {
        if let Ok(location) = format!("/api/admin/refunds/{}", row.id).parse() {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("2"),
        );
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WebhookQuery {
    /// At most this many (1-500, default 50).
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/admin/toss-webhooks",
    tag = "operator",
    summary = "Toss's webhooks as received, and what processing did",
    params(WebhookQuery),
    responses(
        (status = 200, description = "The webhooks.", body = schema::WebhookList),
        (status = 400, description = "`INVALID_REQUEST`: an unknown or malformed parameter.", body = ErrorBody),
    )
)]
async fn webhooks(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<WebhookQuery>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    let rows = ctx
        .store
        .webhooks(q.limit.unwrap_or(50).clamp(1, 500))
        .await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|w| {
            json!({
                "id": w.id, "transmissionId": w.transmission_id, "eventType": w.event_type,
                "status": w.status, "deliveries": w.deliveries, "attempts": w.attempts,
                "outcome": w.outcome, "retriedCount": w.retried_count,
                "receivedAt": iso_kst(w.received_at), "processedAt": w.processed_at.map(iso_kst),
            })
        })
        .collect();
    Ok(Json(json!({ "webhooks": list })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn idempotency_keys_name_one_refund() {
        let a = super::refund_id_for_key("retry-me-1");
        assert_eq!(a, super::refund_id_for_key("retry-me-1"));
        assert_ne!(a, super::refund_id_for_key("retry-me-2"));
        assert!(toss_billing_contract::is_valid_order_id(&a));
    }
}
