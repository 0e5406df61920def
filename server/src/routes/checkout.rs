//! The terms before the card. `GET /api/checkout?plan=…`: who the customer is and the signed
//! checkout session of the plan they are about to subscribe to (`docs/handoff-contract.md` §1) —
//! or, for a customer subscribed already, no session (`subscribed`: a card registered then is the
//! live subscription's new card):
//! the page renders its plan summary from these terms and sends the session back with the
//! hand-off. It replaces the round trip the page made for `GET /api/customer` (same rate limit,
//! same cookie), and writes nothing to the database. `GET /api/plans`: the plans a customer can
//! choose or switch to. `GET /api/plan`: the default plan's summary (older pages).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use toss_billing_contract::{CheckoutSession, ErrorBody, PlanCycle, PlanSummary};
use utoipa::{IntoParams, ToSchema};

use super::{rate_limit, AppContext, Limiter};
use crate::checkout::wire_cycle;
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiQuery, ApiResult};
use crate::metrics::RateLimit;
use crate::subscription::ActionError;

pub fn router(ctx: &AppContext, limiters: &mut Vec<Limiter>) -> Router<AppContext> {
    Router::new()
        .route(
            "/api/checkout",
            get(checkout).layer(rate_limit(ctx, RateLimit::Checkout, limiters)),
        )
        .route("/api/plans", get(plans))
        .route("/api/plan", get(default_plan))
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> ApiError {
        match e {
            ActionError::NotFound => ApiError::NotFound,
            ActionError::Ended => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "SUBSCRIPTION_ENDED",
                message: "the subscription has ended".into(),
            },
            ActionError::Busy => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "BUSY",
                message: "the subscription is being charged right now; try again in a moment"
                    .into(),
            },
            ActionError::Conflict(code, message) => ApiError::Refused {
                status: StatusCode::CONFLICT,
                code,
                message,
            },
            ActionError::WithdrawalOver {
                mid_term_refund,
                holds_until,
                ..
            } => ApiError::RefusedWithOffer {
                status: StatusCode::CONFLICT,
                code: "WITHDRAWAL_PERIOD_OVER",
                message: e.to_string(),
                offer: serde_json::json!({
                    "when": "now", "refund": mid_term_refund,
                    "holdsUntil": crate::clock::iso_kst(holds_until),
                }),
            },
            ActionError::Invalid(message) => ApiError::InvalidRequest(message),
            ActionError::Store(e) => ApiError::Unavailable(e),
        }
    }
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(checkout, plans, default_plan))]
pub(super) struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CheckoutQuery {
    /// The plan's id (default: `SUBSCRIBE_PLAN`).
    plan: Option<String>,
}

/// `GET /api/checkout`: a checkout session, or (a subscriber) none.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "names the answer's two shapes for the OpenAPI description; each handler branch builds its own"
)]
pub(super) enum CheckoutAnswer {
    /// The signed terms of the plan's checkout.
    Session(CheckoutSession),
    /// Subscribed already: no session; a card registered now becomes the live subscription's
    /// card.
    Subscribed(AlreadySubscribed),
}

/// A subscriber on the checkout page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct AlreadySubscribed {
    /// The caller's customerKey.
    customer_key: String,
    /// `{"code": "ALREADY_SUBSCRIBED", "message"}`.
    subscribed: ErrorBody,
}

/// A plan a customer can choose or switch to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Plan {
    /// Its id.
    id: String,
    /// Its name, e.g. `프리미엄 플랜`.
    name: String,
    /// KRW per period.
    amount: i64,
    /// How often it charges.
    cycle: PlanCycle,
    /// Free days before the first charge.
    trial_days: i64,
}

/// A list of plans.
#[derive(Serialize, ToSchema)]
pub(super) struct Plans {
    /// The plans.
    plans: Vec<Plan>,
}

/// `GET /api/checkout?plan=…`.
#[utoipa::path(
    get,
    path = "/api/checkout",
    tag = "checkout",
    summary = "The customer and the signed terms of a plan's checkout",
    description = "Who the customer is (a new visitor gets the session cookie, as with `GET /api/customer`) and the terms they are shown before the card — plan, price, cycle, trial, first charge date, terms version — signed (valid 2 hours to start a registration) and sent back with the hand-off. Writes nothing. A customer with a live subscription gets no session (`subscribed`).",
    security((), ("sessionCookie" = []), ("signedInUser" = [])),
    params(CheckoutQuery),
    responses(
        (status = 200, description = "The checkout session, or `subscribed` for a subscriber.", body = CheckoutAnswer),
        (status = 400, description = "`INVALID_REQUEST`: `plan` is not a plan id (1-40 characters), or an unknown parameter.", body = ErrorBody),
        (status = 401, description = "`NOT_SIGNED_IN`: the merchant's login is the identity and nobody is signed in.", body = ErrorBody),
        (status = 404, description = "`UNKNOWN_PLAN`: no such plan. `NOT_FOUND`: no plan named and no `SUBSCRIBE_PLAN`.", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: too many new visitors from this address (`retryAfterMs`).", body = ErrorBody),
    )
)]
async fn checkout(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<CheckoutQuery>,
) -> ApiResult<Response> {
    if let Some(plan) = &q.plan {
        if plan.is_empty() || plan.len() > 40 {
            return Err(ApiError::InvalidRequest(
                "plan must be a plan id (1-40 characters)".into(),
            ));
        }
    }
    let (customer_key, cookie) = ctx
        .sessions
        .customer_for(&headers)
        .await?
        .ok_or(ApiError::NotSignedIn)?;
    let terms = match ctx
        .subscriptions
        .checkout_terms(&customer_key, q.plan.as_deref())
        .await
    {
        Err(ActionError::NotFound) => {
            return Err(ApiError::Refused {
                status: StatusCode::NOT_FOUND,
                code: "UNKNOWN_PLAN",
                message: "no such plan".into(),
            })
        }
        // Subscribed already: no new checkout, but the page still works — a card registered
        // there (without a session) becomes the card of the live subscription.
        Err(ActionError::Conflict("ALREADY_SUBSCRIBED", message)) => {
            let mut response = Json(json!({
                "customerKey": customer_key,
                "subscribed": { "code": "ALREADY_SUBSCRIBED", "message": message },
            }))
            .into_response();
            if let Some(cookie) = cookie {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            return Ok(response);
        }
        other => other?,
    };
    let answer = CheckoutSession {
        customer_key,
        checkout_session: terms.seal(&ctx.keyring),
        terms: terms.wire(None),
    };
    let mut response = Json(answer).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /api/plans`.
#[utoipa::path(
    get,
    path = "/api/plans",
    tag = "checkout",
    summary = "The plans",
    description = "Every plan a customer can choose or switch to.",
    security(()),
    responses((status = 200, description = "The plans.", body = Plans))
)]
async fn plans(State(ctx): State<AppContext>) -> ApiResult<Json<Value>> {
    let plans: Vec<Value> = ctx
        .store
        .plans()
        .await?
        .iter()
        .map(|p| {
            json!({
                "id": p.id, "name": p.name, "amount": p.amount,
                "cycle": wire_cycle(p.cycle, p.interval_days), "trialDays": p.trial_days,
            })
        })
        .collect();
    Ok(Json(json!({ "plans": plans })))
}

/// The default plan as a plan summary (the first charge is the day of registration, or after
/// its trial).
#[utoipa::path(
    get,
    path = "/api/plan",
    tag = "checkout",
    summary = "The default plan's summary (older pages)",
    description = "`SUBSCRIBE_PLAN` as a plan summary, its first charge today or after its trial. New pages use `GET /api/checkout`.",
    security(()),
    responses(
        (status = 200, description = "The summary.", body = PlanSummary),
        (status = 404, description = "`NOT_FOUND`: no `SUBSCRIBE_PLAN`, or no such plan.", body = ErrorBody),
    )
)]
async fn default_plan(State(ctx): State<AppContext>) -> ApiResult<Json<PlanSummary>> {
    let id = ctx
        .settings
        .subscribe_plan
        .as_deref()
        .ok_or(ApiError::NotFound)?;
    let plan = ctx.store.plan(id).await?.ok_or(ApiError::NotFound)?;
    let first = ctx.clock.now_ms() + plan.trial_days * 86_400_000;
    Ok(Json(PlanSummary {
        name: plan.name.clone(),
        amount: plan.amount.max(0) as u64,
        cycle: wire_cycle(plan.cycle, plan.interval_days),
        first_charge_date: Some(iso_kst(first)[..10].to_owned()),
        cancel_note: None,
    }))
}
