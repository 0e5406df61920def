//! `GET /api/health`, and in demo and test mode the clock the scheduler reads
//! (`GET`/`POST /api/admin/clock`, operator token): tests and the demo move it forward.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{check_operator, AppContext};
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::store::Backend;

pub fn router(ctx: &AppContext) -> Router<AppContext> {
    let router = Router::new().route("/api/health", get(health));
    if ctx.clock.is_movable() {
        router.route("/api/admin/clock", get(read_clock).post(move_clock))
    } else {
        router
    }
}

async fn health(State(ctx): State<AppContext>) -> Response {
    let database = match ctx.store.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let mode = match ctx.settings.mode {
        crate::Mode::Demo => "demo",
        crate::Mode::Test => "test",
        crate::Mode::Live => "live",
    };
    match ctx.store.ping().await {
        Ok(()) => Json(json!({ "ok": true, "database": database, "mode": mode })).into_response(),
        Err(e) => ApiError::Unavailable(e).into_response(),
    }
}

fn clock_json(ctx: &AppContext) -> Json<serde_json::Value> {
    let now = ctx.clock.now_ms();
    Json(json!({ "now": iso_kst(now), "nowMs": now }))
}

async fn read_clock(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&ctx, &headers)?;
    Ok(clock_json(&ctx))
}

/// `{"advanceMs": n}` or `{"to": "2027-01-31T09:00:00+09:00"}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MoveClock {
    advance_ms: Option<i64>,
    to: Option<String>,
}

async fn move_clock(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MoveClock>,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&ctx, &headers)?;
    let moved = match (body.advance_ms, body.to) {
        (Some(ms), None) => ctx.clock.advance(ms),
        (None, Some(to)) => {
            let at =
                time::OffsetDateTime::parse(&to, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| {
                        ApiError::InvalidRequest("to must be an RFC 3339 date-time".into())
                    })?;
            ctx.clock.set(crate::clock::to_ms(at))
        }
        _ => return Err(ApiError::InvalidRequest("give advanceMs or to".into())),
    };
    moved.map_err(|e| ApiError::Conflict(e.to_string()))?;
    Ok(clock_json(&ctx))
}
