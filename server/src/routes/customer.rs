//! `GET /api/customer`: the caller's customerKey (`docs/handoff-contract.md` §1).
//! `DELETE /api/customer/card`: the caller removes their card (`crate::card_removal`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::json;

use super::{rate_limit, AppContext, Limiter};
use crate::card_removal::{Removal, RemoveError};
use crate::error::{ApiError, ApiResult};
use crate::metrics::RateLimit;

pub fn router(ctx: &AppContext, limiters: &mut Vec<Limiter>) -> Router<AppContext> {
    Router::new()
        .route(
            "/api/customer",
            get(customer).layer(rate_limit(ctx, RateLimit::Customer, limiters)),
        )
        .route("/api/customer/card", delete(remove_card))
}

/// `DELETE /api/customer/card`: `200 {"removed": n, "cards": [{"company", "number",
/// "deletedAtToss", "code"}]}` (n = 0 when nothing was left: a safe retry), or `409
/// LIVE_SUBSCRIPTION`.
async fn remove_card(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let identified = ctx.sessions.identify(&headers).await?;
    let customer_key = identified
        .caller
        .customer_key()
        .ok_or(ApiError::NotSignedIn)?;
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
