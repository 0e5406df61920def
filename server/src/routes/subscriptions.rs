//! Subscriptions over HTTP. The customer (by session, or the merchant's login): `GET /api/plan`
//! (what a registration subscribes to, for the page's plan summary), `GET /api/subscription`,
//! `POST /api/subscription/cancel`. The operator (bearer token): list, read (with attempts and
//! events), retry now, cancel; plans: list, create or replace, change the amount.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use toss_billing_contract::{PlanCycle as WireCycle, PlanSummary};

use super::{check_operator, AppContext};
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::store::subscriptions::{PlanCycle, PlanRow, SubscriptionRow, SubscriptionStatus};
use crate::subscription::{ActionError, CancelWhen};

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/api/plan", get(registration_plan))
        .route("/api/subscription", get(my_subscription))
        .route("/api/subscription/cancel", post(cancel_mine))
        .route("/api/admin/subscriptions", get(list))
        .route("/api/admin/subscriptions/{id}", get(read))
        .route("/api/admin/subscriptions/{id}/retry", post(retry))
        .route("/api/admin/subscriptions/{id}/cancel", post(cancel))
        .route("/api/admin/plans", get(plans))
        .route("/api/admin/plans/{id}", put(put_plan).patch(patch_plan))
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> ApiError {
        match e {
            ActionError::NotFound => ApiError::NotFound,
            ActionError::Ended => ApiError::Conflict("the subscription has ended".into()),
            ActionError::Busy => ApiError::Conflict(
                "the subscription is being charged right now; try again in a moment".into(),
            ),
            ActionError::Store(e) => ApiError::Unavailable(e),
        }
    }
}

fn wire_cycle(plan: &PlanRow) -> WireCycle {
    match plan.cycle {
        PlanCycle::Monthly => WireCycle::Monthly,
        PlanCycle::Yearly => WireCycle::Yearly,
        PlanCycle::Days => {
            WireCycle::EveryDays(plan.interval_days.unwrap_or(30).clamp(1, 3650) as u32)
        }
    }
}

fn plan_json(plan: &PlanRow) -> Value {
    json!({ "id": plan.id, "name": plan.name, "amount": plan.amount, "cycle": wire_cycle(plan) })
}

/// `GET /api/plan`: the plan a card registration subscribes to, as the page's plan summary
/// shows it (the first charge is the day of registration).
async fn registration_plan(State(ctx): State<AppContext>) -> ApiResult<Json<PlanSummary>> {
    let plan = ctx
        .subscriptions
        .registration_plan()
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(PlanSummary {
        name: plan.name.clone(),
        amount: plan.amount.max(0) as u64,
        cycle: wire_cycle(&plan),
        first_charge_date: Some(iso_kst(ctx.clock.now_ms())[..10].to_owned()),
        cancel_note: None,
    }))
}

async fn subscription_json(ctx: &AppContext, sub: &SubscriptionRow) -> ApiResult<Value> {
    let store = ctx.subscriptions.store();
    let plan = store.plan(&sub.plan_id).await?;
    let card = store.billing_key(sub.billing_key_id).await?;
    Ok(json!({
        "id": sub.id,
        "customerKey": sub.customer_key,
        "status": sub.status,
        "plan": plan.as_ref().map(plan_json),
        "period": sub.period_no,
        "currentPeriodStart": iso_kst(sub.current_period_start),
        "currentPeriodEnd": iso_kst(sub.current_period_end),
        "nextChargeAt": sub.next_charge_at.map(iso_kst),
        "cancelAtPeriodEnd": sub.cancel_at_period_end,
        "canceledAt": sub.canceled_at.map(iso_kst),
        "card": card.map(|c| json!({ "company": c.card_company, "number": c.card_number })),
        "createdAt": iso_kst(sub.created_at),
    }))
}

async fn mine(ctx: &AppContext, headers: &HeaderMap) -> ApiResult<SubscriptionRow> {
    let identified = ctx.sessions.identify(headers).await?;
    let customer_key = identified
        .caller
        .customer_key()
        .ok_or(ApiError::NotSignedIn)?;
    ctx.subscriptions
        .store()
        .subscription_of(customer_key)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn my_subscription(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    Ok(Json(subscription_json(&ctx, &sub).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CancelBody {
    when: CancelWhen,
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
    Ok(Json(subscription_json(&ctx, &sub).await?))
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
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some("ACTIVE") => Some(SubscriptionStatus::Active),
        Some("PAST_DUE") => Some(SubscriptionStatus::PastDue),
        Some("CANCELED") => Some(SubscriptionStatus::Canceled),
        Some("UNPAID") => Some(SubscriptionStatus::Unpaid),
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "status must be ACTIVE, PAST_DUE, CANCELED or UNPAID".into(),
            ))
        }
    };
    let rows = ctx
        .subscriptions
        .store()
        .list_subscriptions(
            status,
            q.limit.unwrap_or(50).clamp(1, 500),
            q.offset.unwrap_or(0).max(0),
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(subscription_json(&ctx, row).await?);
    }
    Ok(Json(json!({ "subscriptions": out })))
}

async fn read(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    let store = ctx.subscriptions.store();
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
    let events: Vec<Value> = store
        .events(id)
        .await?
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "type": e.kind, "createdAt": iso_kst(e.created_at),
                "data": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
                "delivered": e.delivered_at.is_some(),
            })
        })
        .collect();
    Ok(Json(json!({
        "subscription": subscription_json(&ctx, &sub).await?,
        "attempts": attempts,
        "events": events,
    })))
}

async fn retry(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    let sub = ctx.subscriptions.retry_now(id).await?;
    Ok(Json(subscription_json(&ctx, &sub).await?))
}

async fn cancel(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<CancelBody>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    let sub = ctx.subscriptions.cancel(id, body.when, "operator").await?;
    Ok(Json(subscription_json(&ctx, &sub).await?))
}

async fn plans(State(ctx): State<AppContext>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    let plans: Vec<Value> = ctx
        .subscriptions
        .store()
        .plans()
        .await?
        .iter()
        .map(plan_json)
        .collect();
    Ok(Json(json!({ "plans": plans })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutPlan {
    name: String,
    amount: i64,
    cycle: WireCycle,
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

async fn put_plan(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PutPlan>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
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
    };
    let store = ctx.subscriptions.store();
    if let Some(old) = store.plan(&plan.id).await? {
        if old.cycle != plan.cycle || old.interval_days != plan.interval_days {
            return Err(ApiError::Conflict(
                "a plan's cycle cannot change under its subscriptions: create a new plan".into(),
            ));
        }
        if old.amount != plan.amount {
            ctx.subscriptions
                .change_plan_amount(&plan.id, plan.amount)
                .await?;
        }
    }
    store.upsert_plan(&plan, ctx.clock.now_ms()).await?;
    Ok(Json(plan_json(&plan)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchPlan {
    amount: i64,
}

async fn patch_plan(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchPlan>,
) -> ApiResult<Json<Value>> {
    check_operator(&ctx, &headers)?;
    check_amount(body.amount)?;
    let told = ctx
        .subscriptions
        .change_plan_amount(&id, body.amount)
        .await?;
    let plan = ctx
        .subscriptions
        .store()
        .plan(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(
        json!({ "plan": plan_json(&plan), "subscriptionsTold": told }),
    ))
}
