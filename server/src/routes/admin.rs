//! The operator's API (bearer token): subscriptions (list, read with attempts, charges, changes,
//! consents and events; retry now; cancel), plans (list, create, rename) and price changes
//! (announce — an increase at least 30 days ahead —, list, withdraw).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use toss_billing_contract::PlanCycle as WireCycle;

use super::subscriptions::{charge_with_refunds, subscription_view, CancelBody};
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

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

async fn retry(State(ctx): State<AppContext>, ApiPath(id): ApiPath<i64>) -> ApiResult<Json<Value>> {
    let sub = ctx.subscriptions.retry_now(id).await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

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
async fn period_used(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Value>> {
    let (period, at) = ctx.subscriptions.mark_period_used(id).await?;
    Ok(Json(
        json!({ "subscriptionId": id, "period": period, "markedAt": iso_kst(at) }),
    ))
}

async fn plans(State(ctx): State<AppContext>) -> ApiResult<Json<Value>> {
    let plans: Vec<Value> = ctx.store.plans().await?.iter().map(plan_json).collect();
    Ok(Json(json!({ "plans": plans })))
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PriceChangeBody {
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
async fn patch_plan(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PriceChangeBody>,
) -> ApiResult<Json<Value>> {
    announce(&ctx, &id, body).await
}

async fn announce_price_change(
    State(ctx): State<AppContext>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PriceChangeBody>,
) -> ApiResult<Json<Value>> {
    announce(&ctx, &id, body).await
}

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
