//! `GET /api/customer`: the caller's customerKey (`docs/handoff-contract.md` §1).
//! `GET /api/customer/card`: the caller's card on file, with or without a subscription.
//! `DELETE /api/customer/card`: the caller removes their card (`crate::card_removal`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use toss_billing_contract::{CardSummary, ErrorBody};
use utoipa::ToSchema;

use super::{rate_limit, signed_in_customer, AppContext, Limiter};
use crate::card_removal::{Removal, RemoveError};
use crate::error::{ApiError, ApiResult};
use crate::metrics::RateLimit;

pub fn router(ctx: &AppContext, limiters: &mut Vec<Limiter>) -> Router<AppContext> {
    Router::new()
        .route(
            "/api/customer",
            get(customer).layer(rate_limit(ctx, RateLimit::Customer, limiters)),
        )
        .route("/api/customer/card", get(card_on_file).delete(remove_card))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(customer, card_on_file, remove_card))]
pub(super) struct Doc;

/// `GET /api/customer`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CustomerKey {
    /// The caller's customerKey (2-50 of `A-Z a-z 0-9 - _ = . @`): the one to give Toss's SDK.
    customer_key: String,
}

/// `GET /api/customer/card`.
#[derive(Serialize, ToSchema)]
pub(super) struct CardOnFile {
    /// The card registered last and not removed (masked); `null` when none is left.
    card: Option<CardSummary>,
}

/// `DELETE /api/customer/card`.
#[derive(Serialize, ToSchema)]
pub(super) struct CardsRemoved {
    /// How many cards were erased (0 when nothing was left: a safe retry).
    removed: u32,
    /// Each of them.
    cards: Vec<RemovedCard>,
}

/// A card erased here, and what Toss said to deleting it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RemovedCard {
    /// Card company, e.g. `현대`.
    company: Option<String>,
    /// Masked number.
    number: Option<String>,
    /// Whether Toss deleted the billing key (`null`: not known yet; deletion at Toss is best
    /// effort).
    deleted_at_toss: Option<bool>,
    /// Toss's code when it refused.
    code: Option<String>,
}

/// `GET /api/customer/card`: `200 {"card": {"company", "number", "cardType", "ownerType"} | null}`.
/// The portal asks it of a customer without a subscription, who may still have a card to remove
/// (a card registered without a plan).
#[utoipa::path(
    get,
    path = "/api/customer/card",
    tag = "customer",
    summary = "The caller's card on file",
    description = "The card registered last and not removed, masked as Toss gave it, whether or not a subscription uses it (`null` when none is left).",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    responses(
        (status = 200, description = "The card, or `null`.", body = CardOnFile),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in (the merchant's login is the identity).", body = ErrorBody),
    )
)]
async fn card_on_file(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<CardOnFile>> {
    let customer_key = &signed_in_customer(&ctx, &headers).await?;
    let keys = ctx.store.customer_billing_keys(customer_key).await?;
    let card = keys
        .into_iter()
        .rev()
        .find(|k| k.erased_at.is_none())
        .map(|k| CardSummary {
            company: k.card_company,
            number: k.card_number,
            card_type: k.card_type,
            owner_type: k.owner_type,
        });
    Ok(Json(CardOnFile { card }))
}

/// `DELETE /api/customer/card`: `200 {"removed": n, "cards": [{"company", "number",
/// "deletedAtToss", "code"}]}` (n = 0 when nothing was left: a safe retry), or `409
/// LIVE_SUBSCRIPTION`.
#[utoipa::path(
    delete,
    path = "/api/customer/card",
    tag = "customer",
    summary = "Remove the caller's card",
    description = "Erases every billing key of the caller here (charging stops at once; the charge ledger stays) and deletes each at Toss, best effort. Allowed only without a live subscription.",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    responses(
        (status = 200, description = "Removed (or nothing left to remove).", body = CardsRemoved),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in (the merchant's login is the identity).", body = ErrorBody),
        (status = 409, description = "`LIVE_SUBSCRIPTION`: a subscription is TRIALING, INCOMPLETE, ACTIVE or PAST_DUE; cancel it first.", body = ErrorBody),
    )
)]
async fn remove_card(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let customer_key = &signed_in_customer(&ctx, &headers).await?;
    let removal = Removal {
        store: &ctx.store,
        keyring: &ctx.keyring,
        toss: &ctx.toss,
        clock: &ctx.clock,
        tasks: &ctx.tasks,
        wait: ctx.settings.handoff_wait,
    };
    let removed = removal.remove(customer_key).await.map_err(|e| match e {
        RemoveError::LiveSubscription => ApiError::Refused {
            status: StatusCode::CONFLICT,
            code: "LIVE_SUBSCRIPTION",
            message: "구독 중에는 카드를 삭제할 수 없습니다. 구독을 먼저 해지해주세요.".into(),
        },
        RemoveError::Store(e) => ApiError::Unavailable(e),
    })?;
    let cards: Vec<serde_json::Value> = removed
        .iter()
        .map(|r| {
            json!({ "company": r.card.card_company, "number": r.card.card_number,
                    "deletedAtToss": r.deleted_at_toss, "code": r.code })
        })
        .collect();
    Ok(Json(json!({ "removed": cards.len(), "cards": cards })))
}

/// `GET /api/customer`: the caller's customerKey; a new visitor gets a signed cookie.
#[utoipa::path(
    get,
    path = "/api/customer",
    tag = "customer",
    summary = "Who the caller is",
    description = "The caller's customerKey. A visitor without a cookie gets a new customerKey in a signed cookie (no database row; rate-limited per client IP); with the merchant's login (`SIGNED_IN_USER_HEADER`) it is the signed-in user's.",
    security((), ("sessionCookie" = []), ("signedInUser" = [])),
    responses(
        (status = 200, description = "The customerKey (and `Set-Cookie` for a new visitor).", body = CustomerKey),
        (status = 401, description = "`NOT_SIGNED_IN`: the merchant's login is the identity and nobody is signed in.", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: too many new visitors from this address (`retryAfterMs`).", body = ErrorBody),
    )
)]
async fn customer(State(ctx): State<AppContext>, headers: HeaderMap) -> ApiResult<Response> {
    let (customer_key, cookie) = ctx
        .sessions
        .customer_for(&headers)
        .await?
        .ok_or(ApiError::NotSignedIn)?;
    let mut response = Json(json!({ "customerKey": customer_key })).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
