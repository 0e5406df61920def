//! `GET /api/customer`: the caller's customerKey (`docs/handoff-contract.md` §1).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{rate_limit, AppContext, Limiter};
use crate::error::{ApiError, ApiResult};
use crate::metrics::RateLimit;

pub fn router(ctx: &AppContext, limiters: &mut Vec<Limiter>) -> Router<AppContext> {
    Router::new().route(
        "/api/customer",
        get(customer).layer(rate_limit(ctx, RateLimit::Customer, limiters)),
    )
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
