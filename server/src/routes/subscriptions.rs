//! The customer's own subscription (by session, or the merchant's login), same-origin only for
//! anything that changes it, every action a safe retry:
//!
//! - `GET /api/subscription`: plan, status, the consented price, the current period, the next
//!   charge (date and amount, a pending change included), the card (masked), the outstanding
//!   change with the four items the law names;
//! - `GET /api/subscription/charges`: every charge with its receipt and its refunds;
//! - `GET /api/subscription/cancel/preview`: every way to end it now, with its exact refund
//!   (`billing::refund_policy`);
//! - `POST /api/subscription/cancel {"when": "period_end" | "now" | "withdraw", "expectedRefund"?}`
//!   (일반해지, 중도해지, 청약철회), `POST …/cancel/undo`;
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
use crate::billing::refund_policy::{Choice, Offer, Refusal};
use crate::checkout::wire_cycle;
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::store::refunds::{RefundRow, RefundStatus};
use crate::store::subscriptions::SubscriptionRow;
use crate::subscription::changes::SwitchOutcome;
use crate::subscription::CancelWhen;

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/api/subscription", get(my_subscription))
        .route("/api/subscription/charges", get(my_charges))
        .route("/api/subscription/cancel", post(cancel_mine))
        .route("/api/subscription/cancel/preview", get(cancel_preview))
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
        Some(c) => {
            let mut terms = ctx.subscriptions.change_terms(sub, c).await?;
            // Whether a "yes" would count now, by the server's clock (the page's may differ): the
            // portal asks for an answer only then (the same rule `answer_change` applies).
            terms["answerable"] = json!(
                c.kind.needs_consent()
                    && c.status.is_outstanding()
                    && sub.status.is_live()
                    && crate::billing::lifecycle::consent_counts(
                        ctx.clock.now_ms(),
                        c.effective_at
                    )
            );
            Some(terms)
        }
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

/// A refund as the customer's history shows it.
pub(super) fn refund_view(r: &RefundRow) -> Value {
    json!({
        "refundId": r.id, "amount": r.amount, "status": r.status, "kind": r.kind,
        "reason": r.reason, "canceledAt": r.canceled_at, "requestedAt": iso_kst(r.created_at),
    })
}

/// A charge with its refunds: what was refunded (DONE) and what is left.
pub(super) async fn charge_with_refunds(
    ctx: &AppContext,
    c: &crate::store::charges::ChargeRow,
) -> ApiResult<Value> {
    let refunds = ctx.store.refunds_of_charge(&c.order_id).await?;
    let refunded: i64 = refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Done)
        .map(|r| r.amount)
        .sum();
    let mut view = charge_view(c);
    view["refunds"] = refunds.iter().map(refund_view).collect();
    view["refundedAmount"] = json!(refunded);
    if c.status == crate::store::charges::ChargeStatus::Done {
        let pending: i64 = refunds
            .iter()
            .filter(|r| !r.status.is_final())
            .map(|r| r.amount)
            .sum();
        view["balance"] = json!(c.amount - refunded - pending);
    }
    Ok(view)
}

async fn my_charges(State(ctx): State<AppContext>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let identified = ctx.sessions.identify(&headers).await?;
    let customer_key = identified
        .caller
        .customer_key()
        .ok_or(ApiError::NotSignedIn)?;
    let mut charges = Vec::new();
    for c in ctx.store.customer_charges(customer_key, 200).await? {
        charges.push(charge_with_refunds(&ctx, &c).await?);
    }
    Ok(Json(json!({ "charges": charges })))
}

/// The operator's cancel: 일반해지 or ending now (the operator's own refunds go through
/// `POST /api/admin/charges/{orderId}/refunds`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    pub when: CancelWhen,
}

/// The customer's cancel.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CustomerCancelBody {
    /// 일반해지, 중도해지 or 청약철회.
    when: Choice,
    /// The refund total the customer was shown (the preview's); refused if it changed.
    expected_refund: Option<i64>,
}

/// `POST /api/subscription/cancel`: `period_end` answers the subscription; `now` and `withdraw`
/// answer `{"subscription", "refund", "refunds"}` (each refund `DONE`, `FAILED`, or still
/// `PENDING`/`UNKNOWN` while Toss confirms it). Asking again the same way answers the same.
async fn cancel_mine(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CustomerCancelBody>,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    if body.when == Choice::PeriodEnd {
        let sub = ctx
            .subscriptions
            .cancel(sub.id, CancelWhen::PeriodEnd, "customer")
            .await?;
        return Ok(Json(subscription_view(&ctx, &sub).await?));
    }
    let ended = ctx
        .subscriptions
        .end_with_refund(sub.id, body.when, body.expected_refund, "customer")
        .await?;
    let refunds: Vec<Value> = ended.refunds.iter().map(refund_view).collect();
    let mut view = subscription_view(&ctx, &ended.subscription).await?;
    let total: i64 = ended.refunds.iter().map(|r| r.amount).sum();
    view["refund"] = json!(total);
    view["refunds"] = Value::Array(refunds);
    Ok(Json(view))
}

/// `GET /api/subscription/cancel/preview`: each way to end the subscription now — available or
/// why not, and exactly what it refunds (until when that amount holds).
async fn cancel_preview(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    let (situation, options, now) = ctx.subscriptions.cancel_options(&sub).await?;
    let policy = ctx.subscriptions.settings().cancellation;
    let offer_json = |offer: &Result<Offer, Refusal>, extra: Value| -> Value {
        let mut v = match offer {
            Ok(o) => json!({
                "available": true, "refund": o.total, "refunds": o.refunds,
                "holdsUntil": iso_kst(o.holds_until),
            }),
            Err(refusal) => {
                json!({ "available": false, "code": refusal.code(), "refund": Value::Null })
            }
        };
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in extra {
                v.insert(k.clone(), x.clone());
            }
        }
        v
    };
    let mid_term = options.now.as_ref().ok().map(|o| o.total);
    let withdraw_extra = match &options.withdraw {
        Ok(o) => json!({
            "until": options.withdrawal_closes_at.map(iso_kst),
            "asMidTerm": o.as_mid_term,
            "rule": if o.as_mid_term {
                "청약철회: the merchant marked this period as used, so the unused days are refunded (the 중도해지 amount)"
            } else {
                "청약철회: every charge of this period refunded whole; the subscription ends now"
            },
        }),
        Err(Refusal::WindowOver { closed_at }) => json!({
            "closedAt": iso_kst(*closed_at),
            "message": format!("the withdrawal period (청약철회, {} days from the charge) is over", policy.withdrawal_days),
            "instead": { "when": "now", "refund": mid_term },
        }),
        Err(_) => json!({}),
    };
    Ok(Json(json!({
        "subscriptionId": sub.id,
        "status": sub.status,
        "period": sub.period_no,
        "currentPeriodStart": iso_kst(sub.current_period_start),
        "currentPeriodEnd": iso_kst(sub.current_period_end),
        "asOf": iso_kst(now),
        "usedDays": options.days.0,
        "periodDays": options.days.1,
        "periodMarkedUsed": situation.period_used,
        "withdrawalDays": policy.withdrawal_days,
        "options": {
            "periodEnd": offer_json(&options.period_end, json!({
                "endsAt": iso_kst(sub.current_period_end),
                "undoableUntil": iso_kst(sub.current_period_end),
                "scheduled": sub.cancel_at_period_end,
                "rule": "일반해지: service until the period's end, nothing refunded, undoable until then",
            })),
            "now": offer_json(&options.now, json!({
                "rule": "중도해지: ends now; each charge of this period refunds its unused days (KST days, today counts as used; the used part rounded down to the won, so paid = used + refunded)",
            })),
            "withdraw": offer_json(&options.withdraw, withdraw_extra),
        },
    })))
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
