//! The operator's API (bearer token): subscriptions (list, read with attempts, charges, changes,
//! consents and events; retry now; cancel), plans (list, create, rename) and price changes
//! (announce — an increase at least 30 days ahead —, list, withdraw).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use toss_billing_contract::{ErrorBody, PlanCycle as WireCycle};
use utoipa::{IntoParams, ToSchema};

use super::checkout::{Plan, Plans};
use super::subscriptions::{
    charge_with_refunds, subscription_view, CancelBody, ChangeTerms, ChargeView, SubscriptionView,
};
use super::AppContext;
use crate::billing::lifecycle::Status;
use crate::checkout::wire_cycle;
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::store::changes::PriceChangeRow;
use crate::store::subscriptions::{PlanCycle, PlanRow};

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/api/admin/subscriptions", get(list))
        .route("/api/admin/subscriptions/{id}", get(read))
        .route("/api/admin/subscriptions/{id}/retry", post(retry))
        .route("/api/admin/subscriptions/{id}/cancel", post(cancel))
        .route(
            "/api/admin/subscriptions/{id}/period-used",
            post(period_used),
        )
        .route("/api/admin/plans", get(plans))
        .route("/api/admin/plans/{id}", put(put_plan).patch(patch_plan))
        .route(
            "/api/admin/plans/{id}/price-changes",
            post(announce_price_change),
        )
        .route("/api/admin/price-changes", get(price_changes))
        .route(
            "/api/admin/price-changes/{id}/withdraw",
            post(withdraw_price_change),
        )
}

/// The OpenAPI description of these routes (the operator's token, its `401` and `404` are added
/// to each by `openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    read,
    retry,
    cancel,
    period_used,
    plans,
    put_plan,
    patch_plan,
    announce_price_change,
    price_changes,
    withdraw_price_change
))]
pub(super) struct Doc;

/// A list of subscriptions.
#[derive(Serialize, ToSchema)]
pub(super) struct SubscriptionList {
    /// The subscriptions, newest first.
    subscriptions: Vec<SubscriptionView>,
}

/// One subscription with everything that happened to it.
#[derive(Serialize, ToSchema)]
pub(super) struct SubscriptionDetail {
    /// The subscription.
    subscription: SubscriptionView,
    /// Every charge attempt.
    attempts: Vec<Attempt>,
    /// Its charges with their refunds.
    charges: Vec<ChargeView>,
    /// Its changes (price changes, trial conversions, switches).
    changes: Vec<ChangeTerms>,
    /// Every answer to a change, as given.
    consents: Vec<Consent>,
    /// Its events, as delivered to `WEBHOOK_URL`.
    events: Vec<Event>,
}

/// A charge attempt of a period.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Attempt {
    /// Its orderId (`{prefix}-{period}-{attempt}`).
    order_id: String,
    /// The period.
    period: i64,
    /// The attempt's number in the period.
    attempt: i64,
    /// `PENDING`, `UNKNOWN`, `DONE`, `FAILED`.
    status: String,
    /// KRW.
    amount: i64,
    /// Toss's code.
    code: Option<String>,
    /// Toss's paymentKey.
    payment_key: Option<String>,
    /// When it was recorded.
    created_at: String,
}

/// An answer to a change, kept as given.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Consent {
    /// Its id.
    id: i64,
    /// The change.
    change_id: i64,
    /// Who answered.
    customer_key: String,
    /// `ACCEPTED` or `DECLINED`.
    decision: String,
    /// Through what (`customer_api`, …).
    channel: String,
    /// The version of the text shown.
    text_version: Option<String>,
    /// The client (user agent).
    client: Option<String>,
    /// When.
    decided_at: String,
    /// The exact terms answered (the four items, how to cancel, what declining does).
    #[schema(value_type = Object)]
    terms: Value,
}

/// A subscription event.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Event {
    /// Its id (`Billing-Event-Id`).
    id: i64,
    /// Its kind, e.g. `invoice.paid` (`server/README.md`, Events).
    #[serde(rename = "type")]
    kind: String,
    /// When.
    created_at: String,
    /// Its data.
    #[schema(value_type = Object)]
    data: Value,
    /// Whether the webhook took it.
    delivered: bool,
    /// The request that caused it.
    request_id: Option<String>,
}

/// A price change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PriceChange {
    /// Its id.
    id: i64,
    /// The plan.
    plan_id: String,
    /// KRW per period before.
    from_amount: i64,
    /// KRW per period after.
    to_amount: i64,
    /// When it was announced.
    announced_at: String,
    /// From when it applies (each subscription from its first period starting then or after).
    effective_at: String,
    /// `SCHEDULED`, `WITHDRAWN`, …
    status: String,
}

/// A price change announced or withdrawn, and how many subscriptions were told.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PriceChangeAnswer {
    /// The price change.
    price_change: PriceChange,
    /// Subscriptions told (an event each).
    subscriptions_told: i64,
}

/// The price changes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PriceChanges {
    /// Newest first.
    price_changes: Vec<PriceChange>,
}

/// A period marked as used.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PeriodUsed {
    /// The subscription.
    subscription_id: i64,
    /// The period.
    period: i64,
    /// When it was marked.
    marked_at: String,
}

fn plan_json(plan: &PlanRow) -> Value {
    json!({
        "id": plan.id, "name": plan.name, "amount": plan.amount,
        "cycle": wire_cycle(plan.cycle, plan.interval_days), "trialDays": plan.trial_days,
    })
}

fn price_change_json(p: &PriceChangeRow) -> Value {
    json!({
        "id": p.id, "planId": p.plan_id, "fromAmount": p.from_amount, "toAmount": p.to_amount,
        "announcedAt": iso_kst(p.announced_at), "effectiveAt": iso_kst(p.effective_at), "status": p.status,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this status (`ACTIVE`, `PAST_DUE`, …).
    status: Option<String>,
    /// At most this many (1-500, default 50).
    limit: Option<i64>,
    /// Skip this many.
    offset: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/admin/subscriptions",
    tag = "operator",
    summary = "List subscriptions",
    params(ListQuery),
    responses(
        (status = 200, description = "The subscriptions.", body = SubscriptionList),
        (status = 400, description = "`INVALID_REQUEST`: an unknown status or parameter.", body = ErrorBody),
    )
)]
async fn list(
    State(ctx): State<AppContext>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(name) => Some(
            Status::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| {
                    ApiError::InvalidRequest(format!(
                        "status must be one of {}",
                        Status::ALL.map(Status::as_str).join(", ")
                    ))
                })?,
        ),
    };
    let rows = ctx
        .store
        .list_subscriptions(
            status,
            q.limit.unwrap_or(50).clamp(1, 500),
            q.offset.unwrap_or(0).max(0),
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(subscription_view(&ctx, row).await?);
    }
    Ok(Json(json!({ "subscriptions": out })))
}

#[utoipa::path(
    get,
    path = "/api/admin/subscriptions/{id}",
    tag = "operator",
    summary = "One subscription with its attempts, charges, changes, consents and events",
    params(("id" = i64, Path, description = "The subscription.")),
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionDetail),
        (status = 404, description = "`NOT_FOUND`: no such subscription.", body = ErrorBody),
    )
)]
async fn read(State(ctx): State<AppContext>, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    let store = &ctx.store;
    let sub = store.subscription(id).await?.ok_or(ApiError::NotFound)?;
    let attempts: Vec<Value> = store
        .attempts(id, None)
        .await?
        .iter()
        .map(|a| {
            json!({
                "orderId": a.order_id, "period": a.period_no, "attempt": a.attempt_no, "status": a.status,
                "amount": a.amount, "code": a.result_code, "paymentKey": a.payment_key,
                "createdAt": iso_kst(a.created_at),
            })
        })
        .collect();
    let mut charges = Vec::new();
    for c in store.subscription_charges(id).await? {
        charges.push(charge_with_refunds(&ctx, &c).await?);
    }
    let mut changes = Vec::new();
    for change in store.changes_of(id).await? {
        changes.push(ctx.subscriptions.change_terms(&sub, &change).await?);
    }
    let consents: Vec<Value> = store
        .consents_of(id)
        .await?
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "changeId": c.change_id, "customerKey": c.customer_key,
                "decision": c.decision, "channel": c.channel, "textVersion": c.text_version,
                "client": c.client, "decidedAt": iso_kst(c.decided_at),
                "terms": serde_json::from_str::<Value>(&c.terms).unwrap_or(Value::Null),
            })
        })
        .collect();
    let events: Vec<Value> = store
        .events(id)
        .await?
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "type": e.kind, "createdAt": iso_kst(e.created_at),
                "data": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
                "delivered": e.delivered_at.is_some(), "requestId": e.request_id,
            })
        })
        .collect();
    Ok(Json(json!({
        "subscription": subscription_view(&ctx, &sub).await?,
        "attempts": attempts,
        "charges": charges,
        "changes": changes,
        "consents": consents,
        "events": events,
    })))
}

#[utoipa::path(
    post,
    path = "/api/admin/subscriptions/{id}/retry",
    tag = "operator",
    summary = "Retry a past-due charge now",
    params(("id" = i64, Path, description = "The subscription.")),
    responses(
        (status = 200, description = "The subscription after the retry.", body = SubscriptionView),
        (status = 404, description = "`NOT_FOUND`: no such subscription.", body = ErrorBody),
        (status = 409, description = "`SUBSCRIPTION_ENDED`, `BUSY` (ask again), or `CONFLICT`: nothing to retry.", body = ErrorBody),
    )
)]
async fn retry(State(ctx): State<AppContext>, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    let sub = ctx.subscriptions.retry_now(id).await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

#[utoipa::path(
    post,
    path = "/api/admin/subscriptions/{id}/cancel",
    tag = "operator",
    summary = "Cancel a subscription",
    description = "`period_end` (일반해지) or `now`; refunds nothing by itself (refund with `POST /api/admin/charges/{orderId}/refunds`).",
    params(("id" = i64, Path, description = "The subscription.")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 404, description = "`NOT_FOUND`: no such subscription.", body = ErrorBody),
        (status = 409, description = "`SUBSCRIPTION_ENDED`, `BUSY` (ask again), `CONFLICT`.", body = ErrorBody),
    )
)]
async fn cancel(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CancelBody>,
) -> ApiResult<Json<Value>> {
    let sub = ctx.subscriptions.cancel(id, body.when, "operator").await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

/// `POST /api/admin/subscriptions/{id}/period-used` (the merchant's app, operator token): the
/// current period's service or content was supplied, so 청약철회 of it refunds the 중도해지
/// amount, not the whole charge. Idempotent: `{"subscriptionId", "period", "markedAt"}`.
#[utoipa::path(
    post,
    path = "/api/admin/subscriptions/{id}/period-used",
    tag = "operator",
    summary = "Mark the current period as used",
    description = "The merchant's app says the period's service or content was supplied: 청약철회 of it then refunds the 중도해지 amount. Idempotent.",
    params(("id" = i64, Path, description = "The subscription.")),
    responses(
        (status = 200, description = "Marked.", body = PeriodUsed),
        (status = 404, description = "`NOT_FOUND`: no such subscription.", body = ErrorBody),
        (status = 409, description = "`SUBSCRIPTION_ENDED`, `BUSY` (ask again), `CONFLICT`.", body = ErrorBody),
    )
)]
async fn period_used(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let (period, at) = ctx.subscriptions.mark_period_used(id).await?;
    Ok(Json(
        json!({ "subscriptionId": id, "period": period, "markedAt": iso_kst(at) }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/admin/plans",
    tag = "operator",
    summary = "List plans",
    responses((status = 200, description = "The plans.", body = Plans))
)]
async fn plans(State(ctx): State<AppContext>) -> ApiResult<Json<Value>> {
    let plans: Vec<Value> = ctx.store.plans().await?.iter().map(plan_json).collect();
    Ok(Json(json!({ "plans": plans })))
}

/// A plan, created or renamed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutPlan {
    name: String,
    amount: i64,
    cycle: WireCycle,
    #[serde(default)]
    trial_days: i64,
}

fn check_amount(amount: i64) -> ApiResult<()> {
    if (100..=100_000_000).contains(&amount) {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(
            "amount must be from 100 to 100000000 KRW".into(),
        ))
    }
}

/// Creates a plan, or renames one / changes its trial. Its price changes only through a price
/// change (`PATCH`, or `POST …/price-changes`): an increase needs 30 days' notice and each
/// customer's consent.
#[utoipa::path(
    put,
    path = "/api/admin/plans/{id}",
    tag = "operator",
    summary = "Create a plan, rename it or change its trial",
    description = "A plan's price changes only through a price change (`PATCH`), its cycle never.",
    params(("id" = String, Path, description = "The plan's id (1-40 of `A-Z a-z 0-9 - _`).")),
    request_body = PutPlan,
    responses(
        (status = 200, description = "The plan.", body = Plan),
        (status = 409, description = "`PRICE_CHANGE_NEEDS_SCHEDULE`: a different amount (use a price change). `CONFLICT`: a different cycle.", body = ErrorBody),
    )
)]
async fn put_plan(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PutPlan>,
) -> ApiResult<Json<Value>> {
    if id.is_empty()
        || id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::InvalidRequest(
            "a plan id is 1-40 of A-Z a-z 0-9 - _".into(),
        ));
    }
    if body.name.trim().is_empty() || body.name.chars().count() > 100 {
        return Err(ApiError::InvalidRequest(
            "name must be 1-100 characters".into(),
        ));
    }
    if !(0..=365).contains(&body.trial_days) {
        return Err(ApiError::InvalidRequest("trialDays must be 0-365".into()));
    }
    check_amount(body.amount)?;
    let (cycle, interval_days) = match body.cycle {
        WireCycle::Monthly => (PlanCycle::Monthly, None),
        WireCycle::Yearly => (PlanCycle::Yearly, None),
        WireCycle::EveryDays(n) if (1..=3650).contains(&n) => (PlanCycle::Days, Some(i64::from(n))),
        WireCycle::EveryDays(_) => {
            return Err(ApiError::InvalidRequest("everyDays must be 1-3650".into()))
        }
    };
    let plan = PlanRow {
        id,
        name: body.name,
        amount: body.amount,
        cycle,
        interval_days,
        trial_days: body.trial_days,
    };
    if let Some(old) = ctx.store.plan(&plan.id).await? {
        if old.cycle != plan.cycle || old.interval_days != plan.interval_days {
            return Err(ApiError::Conflict(
                "a plan's cycle cannot change under its subscriptions: create a new plan".into(),
            ));
        }
        if old.amount != plan.amount {
            return Err(ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "PRICE_CHANGE_NEEDS_SCHEDULE",
                message: "a plan's price changes through a price change: PATCH /api/admin/plans/{id} {\"amount\", \"effectiveAt\"} (an increase at least 30 days ahead)".into(),
            });
        }
    }
    ctx.store.upsert_plan(&plan, ctx.clock.now_ms()).await?;
    Ok(Json(plan_json(&plan)))
}

/// A price change to announce.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PriceChangeBody {
    /// The new KRW per period (100-100000000).
    amount: i64,
    /// RFC 3339; a decrease may omit it (now).
    effective_at: Option<String>,
}

async fn announce(
    ctx: &AppContext,
    plan_id: &str,
    body: PriceChangeBody,
) -> ApiResult<Json<Value>> {
    check_amount(body.amount)?;
    let effective_at = match body.effective_at.as_deref() {
        Some(at) => Some(crate::clock::to_ms(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    ApiError::InvalidRequest("effectiveAt must be an RFC 3339 date-time".into())
                })?,
        )),
        // "Now" is decided where it is checked: read here, it is already a moment in the past
        // there (the clock ticks in between), and a decrease without a date was refused.
        None => None,
    };
    let (change, told) = ctx
        .subscriptions
        .announce_price_change(plan_id, body.amount, effective_at)
        .await?;
    Ok(Json(json!({
        "priceChange": price_change_json(&change),
        "subscriptionsTold": told,
    })))
}

/// `PATCH /api/admin/plans/{id} {"amount", "effectiveAt"?}`: a price change.
#[utoipa::path(
    patch,
    path = "/api/admin/plans/{id}",
    tag = "operator",
    summary = "Announce a price change",
    description = "An increase at least 30 days ahead, consented by each customer (declined or ignored: the subscription ends before the new price); a decrease may be now. The same as `POST /api/admin/plans/{id}/price-changes`.",
    params(("id" = String, Path, description = "The plan.")),
    request_body = PriceChangeBody,
    responses(
        (status = 200, description = "Announced.", body = PriceChangeAnswer),
        (status = 404, description = "`NOT_FOUND`: no such plan.", body = ErrorBody),
        (status = 409, description = "`PRICE_INCREASE_TOO_SOON`: an increase less than 30 days ahead. `CONFLICT`: another price change is scheduled, or the same price.", body = ErrorBody),
    )
)]
async fn patch_plan(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PriceChangeBody>,
) -> ApiResult<Json<Value>> {
    announce(&ctx, &id, body).await
}

#[utoipa::path(
    post,
    path = "/api/admin/plans/{id}/price-changes",
    tag = "operator",
    summary = "Announce a price change (the same as PATCH /api/admin/plans/{id})",
    params(("id" = String, Path, description = "The plan.")),
    request_body = PriceChangeBody,
    responses(
        (status = 200, description = "Announced.", body = PriceChangeAnswer),
        (status = 404, description = "`NOT_FOUND`: no such plan.", body = ErrorBody),
        (status = 409, description = "`PRICE_INCREASE_TOO_SOON`: an increase less than 30 days ahead. `CONFLICT`: another price change is scheduled, or the same price.", body = ErrorBody),
    )
)]
async fn announce_price_change(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PriceChangeBody>,
) -> ApiResult<Json<Value>> {
    announce(&ctx, &id, body).await
}

#[utoipa::path(
    get,
    path = "/api/admin/price-changes",
    tag = "operator",
    summary = "List price changes",
    responses((status = 200, description = "The price changes.", body = PriceChanges))
)]
async fn price_changes(State(ctx): State<AppContext>) -> ApiResult<Json<Value>> {
    let list: Vec<Value> = ctx
        .store
        .price_changes(None)
        .await?
        .iter()
        .map(price_change_json)
        .collect();
    Ok(Json(json!({ "priceChanges": list })))
}

#[utoipa::path(
    post,
    path = "/api/admin/price-changes/{id}/withdraw",
    tag = "operator",
    summary = "Withdraw a price change",
    description = "Every subscription it reached is told (`subscription.change_withdrawn`) and keeps its price.",
    params(("id" = i64, Path, description = "The price change.")),
    responses(
        (status = 200, description = "Withdrawn.", body = PriceChangeAnswer),
        (status = 404, description = "`NOT_FOUND`: no such price change.", body = ErrorBody),
        (status = 409, description = "`CONFLICT`: already applied or withdrawn.", body = ErrorBody),
    )
)]
async fn withdraw_price_change(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let told = ctx.subscriptions.withdraw_price_change(id).await?;
    let change = ctx
        .store
        .price_change(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(json!({
        "priceChange": price_change_json(&change),
        "subscriptionsTold": told,
    })))
}
