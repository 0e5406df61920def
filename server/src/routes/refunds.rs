//! The operator's refunds: `POST /api/admin/charges/{orderId}/refunds` refunds all or part of a
//! charge once per refund id, `GET /api/admin/refunds[?orderId=&subscriptionId=&customerKey=]`
//! lists them, `GET /api/admin/refunds/{id}` reads one with every call made to Toss for it
//! (`crate::refund` does the work); `GET /api/admin/toss-webhooks` shows Toss's webhooks as
//! received and what processing them did.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use toss_billing_contract::{is_valid_idempotency_key, is_valid_order_id};

use super::{check_operator, AppContext};
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiResult};
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

/// The body of `POST /api/admin/charges/{orderId}/refunds`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRefund {
    /// Required, unless an `Idempotency-Key` header names the refund instead.
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

async fn create(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListQuery {
    order_id: Option<String>,
    subscription_id: Option<i64>,
    customer_key: Option<String>,
    limit: Option<i64>,
}

async fn list(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
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

async fn read(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookQuery {
    limit: Option<i64>,
}

async fn webhooks(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Query(q): Query<WebhookQuery>,
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
