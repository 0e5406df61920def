//! The operator's charges: `POST /api/admin/charges` charges a customer's card once per orderId,
//! `GET /api/admin/charges/{orderId}` reads one without charging (`crate::charge` does the work).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use toss_billing_contract::{
    check_customer_key, is_valid_idempotency_key, is_valid_order_id, ErrorBody,
};
use utoipa::ToSchema;

use super::AppContext;
use crate::charge::{ChargeError, ChargeRequest};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::ids;
use crate::store::charges::{ChargeRow, ChargeStatus};

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/api/admin/charges", post(create))
        .route("/api/admin/charges/{order_id}", get(read))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, read))]
pub(super) struct Doc;

/// The answers' shapes, for the OpenAPI description (the handlers build them with `json!`, so
/// nothing here is constructed).
#[allow(dead_code)]
pub(super) mod schema {
    use serde::Serialize;
    use utoipa::ToSchema;

    use super::super::refunds::schema::OperatorRefund;

    /// A charge as the operator sees it, with every call made to Toss for it and its refunds;
    /// never the billing key.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct OperatorCharge {
        /// Its orderId.
        order_id: String,
        /// `PENDING`, `UNKNOWN` (being confirmed), `DONE`, `FAILED`.
        status: String,
        /// The customer.
        customer_key: String,
        /// KRW.
        amount: i64,
        /// Its name at Toss.
        order_name: String,
        /// Every call made to Toss for it.
        calls: Vec<ChargeCall>,
        /// Its refunds.
        refunds: Vec<OperatorRefund>,
        /// KRW refunded (`DONE`).
        refunded_amount: i64,
        /// The card charged (masked).
        card: Option<Card>,
        /// Toss's paymentKey.
        payment_key: Option<String>,
        /// When Toss approved it.
        approved_at: Option<String>,
        /// Toss's code when declined.
        code: Option<String>,
        /// Toss's message when declined.
        message: Option<String>,
        /// When it was recorded.
        created_at: String,
        /// When it last changed.
        updated_at: String,
    }

    /// One call made to Toss for a charge.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct ChargeCall {
        /// `CHARGE` or `LOOKUP`.
        kind: String,
        /// The HTTP status Toss answered, if it answered.
        http_status: Option<i64>,
        /// What it meant.
        outcome: String,
        /// Toss's code.
        code: Option<String>,
    }

    /// A card, masked.
    #[derive(Serialize, ToSchema)]
    pub struct Card {
        /// Card company.
        company: Option<String>,
        /// Masked number.
        number: Option<String>,
    }
}

/// The body of `POST /api/admin/charges`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateCharge {
    /// 6-64 of `A-Z a-z 0-9 - _`; required, unless an `Idempotency-Key` header names the charge
    /// instead. One orderId is charged at most once, for ever.
    order_id: Option<String>,
    /// Whose card (the last one registered).
    customer_key: String,
    /// KRW, 1-1000000000.
    amount: i64,
    /// Toss's `orderName`, 1-100 characters.
    order_name: String,
}

/// The orderId of a charge named only by its `Idempotency-Key`: derived, so a retry with the same
/// key is the same charge.
fn order_id_for_key(key: &str) -> String {
    format!("idem-{}", &ids::sha256_hex(key.as_bytes())[..40])
}

#[utoipa::path(
    post,
    path = "/api/admin/charges",
    tag = "operator",
    summary = "Charge a customer's card, exactly once per orderId",
    description = "Charges the customer's card once per orderId for ever (an unclear outcome is looked up before anything is sent again). Asking again with the same orderId answers the same charge.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Names the charge instead of `orderId` (1-300 visible ASCII characters): a retry with the same key is the same charge.")),
    request_body = CreateCharge,
    responses(
        (status = 200, description = "Approved (`DONE`).", body = schema::OperatorCharge),
        (status = 202, description = "Still being sent or confirmed: ask again with `GET` (`Location`, `Retry-After`).", body = schema::OperatorCharge),
        (status = 400, description = "`INVALID_REQUEST`: no orderId and no Idempotency-Key (a retry would charge twice), or a malformed field.", body = ErrorBody),
        (status = 404, description = "`NO_BILLING_KEY`: the customer has no registered card.", body = ErrorBody),
        (status = 409, description = "`ORDER_ID_CONFLICT`: the orderId was used for a different charge.", body = ErrorBody),
        (status = 422, description = "Declined (`FAILED`): Toss's `code` and `message` in the charge.", body = schema::OperatorCharge),
    )
)]
async fn create(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateCharge>,
) -> ApiResult<Response> {
    let order_id = match (body.order_id, headers.get("idempotency-key")) {
        (Some(order_id), _) if is_valid_order_id(&order_id) => order_id,
        (Some(_), _) => {
            return Err(ApiError::InvalidRequest(
                "orderId must be 6-64 characters of A-Z a-z 0-9 - _".into(),
            ))
        }
        (None, Some(key)) => match key.to_str() {
            Ok(key) if is_valid_idempotency_key(key) => order_id_for_key(key),
            _ => return Err(ApiError::InvalidRequest("Idempotency-Key must be 1-300 visible ASCII characters".into())),
        },
        (None, None) => {
            return Err(ApiError::InvalidRequest(
                "orderId (or an Idempotency-Key header) is required: a retry without one would charge twice"
                    .into(),
            ))
        }
    };
    check_customer_key(&body.customer_key).map_err(|_| {
        ApiError::InvalidRequest(
            "customerKey must be 2-50 characters of A-Z a-z 0-9 - _ = . @".into(),
        )
    })?;
    if !(1..=1_000_000_000).contains(&body.amount) {
        return Err(ApiError::InvalidRequest(
            "amount must be an integer from 1 to 1000000000".into(),
        ));
    }
    if body.order_name.trim().is_empty() || body.order_name.chars().count() > 100 {
        return Err(ApiError::InvalidRequest(
            "orderName must be 1-100 characters".into(),
        ));
    }
    let request = ChargeRequest {
        order_id,
        customer_key: body.customer_key,
        amount: body.amount,
        order_name: body.order_name,
        billing_key_id: None,
        subscription: None,
        purpose: crate::store::charges::ChargePurpose::Period,
    };
    let row = ctx.charges.submit(&request).await.map_err(|e| match e {
        ChargeError::NoBillingKey => ApiError::NoBillingKey,
        ChargeError::OrderIdConflict => ApiError::OrderIdConflict,
        ChargeError::Store(e) => ApiError::Unavailable(e),
    })?;
    charge_answer(&ctx, &row).await
}

#[utoipa::path(
    get,
    path = "/api/admin/charges/{orderId}",
    tag = "operator",
    summary = "One charge, with every call made to Toss and its refunds (never charges)",
    params(("orderId" = String, Path, description = "The charge's orderId.")),
    responses(
        (status = 200, description = "Approved.", body = schema::OperatorCharge),
        (status = 202, description = "Still being sent or confirmed.", body = schema::OperatorCharge),
        (status = 404, description = "`NOT_FOUND`: no such charge.", body = ErrorBody),
        (status = 422, description = "Declined: Toss's `code`.", body = schema::OperatorCharge),
    )
)]
async fn read(
    State(ctx): State<AppContext>,
    ApiPath(order_id): ApiPath<String>,
) -> ApiResult<Response> {
    let row = ctx
        .charges
        .get(&order_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    charge_answer(&ctx, &row).await
}

/// A charge as JSON: `200` approved, `422` declined, `202` still being sent or confirmed (ask
/// again with `GET`). Never the billing key.
async fn charge_answer(ctx: &AppContext, row: &ChargeRow) -> ApiResult<Response> {
    let card = ctx.store.billing_key(row.billing_key_id).await?;
    let calls: Vec<Value> = ctx
        .store
        .charge_calls(&row.order_id)
        .await?
        .into_iter()
        .map(|(kind, http_status, outcome, code)| {
            json!({ "kind": format!("{kind:?}").to_uppercase(), "httpStatus": http_status, "outcome": outcome, "code": code })
        })
        .collect();
    let refunds = ctx.store.refunds_of_charge(&row.order_id).await?;
    let refunded: i64 = refunds
        .iter()
        .filter(|r| r.status == crate::store::refunds::RefundStatus::Done)
        .map(|r| r.amount)
        .sum();
    let mut refund_list = Vec::with_capacity(refunds.len());
    for r in &refunds {
        refund_list.push(super::refunds::refund_json(ctx, r, false).await?);
    }
    let mut out = json!({
        "refunds": refund_list,
        "refundedAmount": refunded,
        "orderId": row.order_id,
        "status": row.status,
        "customerKey": row.customer_key,
        "amount": row.amount,
        "orderName": row.order_name,
        "calls": calls,
        "createdAt": crate::clock::iso_kst(row.created_at),
        "updatedAt": crate::clock::iso_kst(row.updated_at),
    });
    let object = out.as_object_mut().expect("an object");
    if let Some(card) = card {
        object.insert(
            "card".into(),
            json!({ "company": card.card_company, "number": card.card_number }),
        );
    }
    for (name, value) in [
        ("paymentKey", &row.payment_key),
        ("approvedAt", &row.approved_at),
        ("code", &row.result_code),
        ("message", &row.result_message),
    ] {
        if let Some(value) = value {
            object.insert(name.into(), value.clone().into());
        }
    }
    let status = match row.status {
        ChargeStatus::Done => StatusCode::OK,
        ChargeStatus::Failed => StatusCode::UNPROCESSABLE_ENTITY,
        ChargeStatus::Pending | ChargeStatus::Unknown => StatusCode::ACCEPTED,
    };
    let mut response = (status, Json(out)).into_response();
    if status == StatusCode::ACCEPTED {
        if let Ok(location) = format!("/api/admin/charges/{}", row.order_id).parse() {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("2"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn idempotency_keys_name_one_order_id() {
        let a = super::order_id_for_key("retry-me-1");
        assert_eq!(a, super::order_id_for_key("retry-me-1"));
        assert_ne!(a, super::order_id_for_key("retry-me-2"));
        assert!(toss_billing_contract::is_valid_order_id(&a));
    }
}
