//! The customer's own subscription (by session, or the merchant's login), same-origin only for
//! anything that changes it, every action a safe retry:
//!
//! - `GET /api/subscription`: plan, status, the consented price, the current period, the next
//!   charge (date and amount, a pending change included), the card (masked), the outstanding
//!   change with the four items the law names;
//! - `GET /api/subscription/charges`: every charge with its receipt;
//! - `POST /api/subscription/cancel {"when": "period_end" | "now"}`, `POST …/cancel/undo`;
//! - `POST /api/subscription/changes/{id}/accept` and `…/decline` (`{"textVersion"?}`);
//! - `GET /api/subscription/switch?plan=…` (the preview) and `POST /api/subscription/switch
//!   {"planId", "expectedCharge"}` (charges exactly the preview).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppContext;
use crate::billing::lifecycle::Status;
use crate::checkout::wire_cycle;
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::store::subscriptions::SubscriptionRow;
use crate::subscription::changes::SwitchOutcome;
use crate::subscription::CancelWhen;

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/api/subscription", get(my_subscription))
        .route("/api/subscription/charges", get(my_charges))
        .route("/api/subscription/cancel", post(cancel_mine))
        .route("/api/subscription/cancel/undo", post(undo_cancel_mine))
        .route(
            "/api/subscription/changes/{id}/{answer}",
            post(answer_change),
        )
        .route(
            "/api/subscription/switch",
            get(preview_switch).post(switch_plan),
        )
}

/// The subscription as its customer and the operator see it.
pub(super) async fn subscription_view(ctx: &AppContext, sub: &SubscriptionRow) -> ApiResult<Value> {
    let store = &ctx.store;
    let plan = store.plan(&sub.plan_id).await?;
    let card = store.billing_key(sub.billing_key_id).await?;
    let change = store.outstanding_change(sub.id).await?;
    let pending_change = match &change {
        Some(c) => Some(ctx.subscriptions.change_terms(sub, c).await?),
        None => None,
    };
    // The next charge: when and how much, as things stand (a change that applies then included;
    // nothing while the trial waits for consent, or when it ends instead).
    let next_charge = next_charge(sub, change.as_ref());
    // When it will end, if that is settled: 일반해지, or a change the customer declined.
    let ends_at = if sub.status.is_live() && sub.cancel_at_period_end {
        Some(sub.current_period_end)
    } else {
        change
            .as_ref()
            .filter(|c| c.status == crate::billing::lifecycle::ChangeStatus::Declined)
            .map(|c| c.effective_at)
    };
    Ok(json!({
        "id": sub.id,
        "customerKey": sub.customer_key,
        "status": sub.status,
        "plan": plan.as_ref().map(|p| json!({
            "id": p.id, "name": p.name, "amount": p.amount,
            "cycle": wire_cycle(p.cycle, p.interval_days),
        })),
        "amount": sub.amount,
        "period": sub.period_no,
        "currentPeriodStart": iso_kst(sub.current_period_start),
        "currentPeriodEnd": iso_kst(sub.current_period_end),
        "periodPaid": sub.period_paid,
        "nextChargeAt": sub.next_charge_at.map(iso_kst),
        "nextCharge": next_charge,
        "trialEndsAt": sub.trial_ends_at.map(iso_kst),
        "cancelAtPeriodEnd": sub.cancel_at_period_end,
        "endsAt": ends_at.map(iso_kst),
        "canceledAt": sub.canceled_at.map(iso_kst),
        "endedReason": sub.ended_reason,
        "incompleteExpiresAt": (sub.status == Status::Incomplete).then(|| sub.incomplete_expires_at.map(iso_kst)).flatten(),
        "card": card.map(|c| json!({ "company": c.card_company, "number": c.card_number, "usable": c.is_usable() })),
        "pendingChange": pending_change,
        "termsVersion": sub.terms_version,
        "createdAt": iso_kst(sub.created_at),
    }))
}

fn next_charge(sub: &SubscriptionRow, change: Option<&crate::store::changes::ChangeRow>) -> Value {
    use crate::billing::lifecycle::{ChangeKind, ChangeStatus};
    if !sub.status.is_live() || sub.cancel_at_period_end {
        return Value::Null;
    }
    if !sub.period_paid {
        return json!({ "at": sub.next_charge_at.map(iso_kst), "amount": sub.amount });
    }
    let at = sub.current_period_end;
    match change.filter(|c| c.effective_at <= at && c.kind != ChangeKind::Upgrade) {
        Some(c) if c.kind.needs_consent() && c.status != ChangeStatus::Accepted => Value::Null,
        Some(c) => json!({ "at": iso_kst(at), "amount": c.to_amount }),
        None if sub.status == Status::Trialing => Value::Null,
        None => json!({ "at": iso_kst(at), "amount": sub.amount }),
    }
}

/// The caller's most recent subscription.
async fn mine(ctx: &AppContext, headers: &HeaderMap) -> ApiResult<SubscriptionRow> {
    let identified = ctx.sessions.identify(headers).await?;
    let customer_key = identified
        .caller
        .customer_key()
        .ok_or(ApiError::NotSignedIn)?;
    ctx.store
        .subscription_of(customer_key)
        .await?
        .ok_or(ApiError::NotFound)
}

fn client_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(200).collect())
}

async fn my_subscription(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

/// A charge as the customer's history shows it.
pub(super) fn charge_view(c: &crate::store::charges::ChargeRow) -> Value {
    json!({
        "orderId": c.order_id, "orderName": c.order_name, "amount": c.amount, "status": c.status,
        "purpose": c.purpose, "period": c.period_no, "code": c.result_code,
        "approvedAt": c.approved_at, "approveNo": c.approve_no, "receiptUrl": c.receipt_url,
        "createdAt": iso_kst(c.created_at),
    })
}

async fn my_charges(State(ctx): State<AppContext>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let identified = ctx.sessions.identify(&headers).await?;
    let customer_key = identified
        .caller
        .customer_key()
        .ok_or(ApiError::NotSignedIn)?;
    let charges: Vec<Value> = ctx
        .store
        .customer_charges(customer_key, 200)
        .await?
        .iter()
        .map(charge_view)
        .collect();
    Ok(Json(json!({ "charges": charges })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    pub when: CancelWhen,
}

async fn cancel_mine(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CancelBody>,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    let sub = ctx
        .subscriptions
        .cancel(sub.id, body.when, "customer")
        .await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

async fn undo_cancel_mine(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    let sub = ctx.subscriptions.undo_cancel(sub.id, "customer").await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnswerBody {
    /// The version of the text the customer was shown (the portal's copy).
    text_version: Option<String>,
}

async fn answer_change(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiPath((id, answer)): ApiPath<(i64, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let accept = match answer.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return Err(ApiError::NotFound),
    };
    // The body is optional: an empty one means no textVersion.
    let body: AnswerBody = if body.iter().all(u8::is_ascii_whitespace) {
        AnswerBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::InvalidRequest("the body must be {} or {\"textVersion\": \"…\"}".into())
        })?
    };
    if body
        .text_version
        .as_deref()
        .is_some_and(|v| v.is_empty() || v.len() > 40)
    {
        return Err(ApiError::InvalidRequest(
            "textVersion must be 1-40 characters".into(),
        ));
    }
    let sub = mine(&ctx, &headers).await?;
    let client = client_of(&headers);
    ctx.subscriptions
        .answer_change(
            &sub,
            id,
            accept,
            "customer_api",
            body.text_version.as_deref(),
            client.as_deref(),
        )
        .await?;
    let sub = ctx
        .store
        .subscription(sub.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    plan: String,
}

async fn preview_switch(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PreviewQuery>,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    let preview = ctx.subscriptions.preview_switch(&sub, &q.plan).await?;
    Ok(Json(json!({ "preview": preview })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SwitchBody {
    plan_id: String,
    expected_charge: i64,
}

async fn switch_plan(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SwitchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let sub = mine(&ctx, &headers).await?;
    let client = client_of(&headers);
    let outcome = ctx
        .subscriptions
        .switch_plan(
            &sub,
            &body.plan_id,
            body.expected_charge,
            "customer_api",
            client.as_deref(),
        )
        .await?;
    let sub = ctx
        .store
        .subscription(sub.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let view = subscription_view(&ctx, &sub).await?;
    Ok(match outcome {
        SwitchOutcome::Done(_) => (StatusCode::OK, Json(json!({ "subscription": view }))),
        SwitchOutcome::Pending(_) => (
            StatusCode::ACCEPTED,
            Json(
                json!({ "code": "SWITCH_PENDING", "message": "the charge is being confirmed; the switch follows it", "subscription": view }),
            ),
        ),
        SwitchOutcome::Declined(code) => {
            return Err(ApiError::Refused {
                status: StatusCode::PAYMENT_REQUIRED,
                code: "SWITCH_DECLINED",
                message: format!("the card declined the charge ({code}); the plan did not change"),
            })
        }
    })
}
