//! Health (`GET /api/health`; `/api/health/live` and `/api/health/ready` for load balancers and
//! orchestrators), metrics (`GET /metrics`), and in demo and test mode the clock the scheduler
//! reads (`GET`/`POST /api/admin/clock`, operator token): tests and the demo move it forward.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use toss_billing_contract::ErrorBody;
use utoipa::ToSchema;

use super::{bearer_is, AppContext};
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::settings::MetricsAccess;
use crate::store::Backend;

pub fn router(ctx: &AppContext) -> Router<AppContext> {
    let router = Router::new()
        .route("/api/health", get(health))
        .route("/api/health/live", get(live))
        .route("/api/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi));
    if ctx.clock.is_movable() {
        router.route("/api/admin/clock", get(read_clock).post(move_clock))
    } else {
        router
    }
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(health, live, ready, metrics, openapi, read_clock, move_clock))]
pub(super) struct Doc;

/// The answers' shapes, for the OpenAPI description (the handlers build them with `json!`, so
/// nothing here is constructed).
#[allow(dead_code)]
pub(super) mod schema {
    use serde::Serialize;
    use utoipa::ToSchema;

    /// `GET /api/health`.
    #[derive(Serialize, ToSchema)]
    pub struct Health {
        /// Always true (a failing database answers `503`).
        ok: bool,
        /// `sqlite` or `postgres`.
        database: String,
        /// `demo`, `test` or `live`.
        mode: String,
    }

    /// `GET /api/health/live`.
    #[derive(Serialize, ToSchema)]
    pub struct Live {
        /// Always true.
        live: bool,
    }

    /// `GET /api/health/ready`.
    #[derive(Serialize, ToSchema)]
    pub struct Ready {
        /// Whether every check is `ok`.
        ready: bool,
        /// Each check.
        checks: ReadyChecks,
    }

    /// What readiness checked.
    #[derive(Serialize, ToSchema)]
    pub struct ReadyChecks {
        /// `ok` or `failing`.
        database: String,
        /// `ok`, `missing` (a schema older than this binary) or `unknown`.
        migrations: String,
        /// `ok` or `draining` (SIGTERM started the drain).
        serving: String,
    }

    /// The clock (demo and test mode).
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct ClockNow {
        /// Now (ISO 8601, KST).
        now: String,
        /// Now in milliseconds since the epoch.
        now_ms: i64,
    }
}

#[utoipa::path(
    get,
    path = "/api/health",
    tag = "system",
    summary = "Health, for humans",
    security(()),
    responses((status = 200, description = "The database answers.", body = schema::Health))
)]
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

/// The process answers: restart it if this fails. Touches nothing else (a database outage must
/// not make an orchestrator restart every instance).
#[utoipa::path(
    get,
    path = "/api/health/live",
    tag = "system",
    summary = "Liveness: the process answers (restart it if not)",
    security(()),
    responses((status = 200, description = "Alive.", body = schema::Live))
)]
async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

/// Send this instance traffic? `200` when the database answers, every migration this binary
/// knows is applied and the instance is not shutting down; `503` otherwise — from the moment
/// SIGTERM starts the drain, for `DRAIN_GRACE_MS` before the listener closes. Each check says
/// `ok` or why not; nothing else (no error text).
#[utoipa::path(
    get,
    path = "/api/health/ready",
    tag = "system",
    summary = "Readiness: send this instance traffic?",
    description = "`200` when the database answers, every migration this binary knows is applied and the instance is not draining; `503` with the failing check otherwise — from the moment SIGTERM starts the drain.",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = schema::Ready),
        (status = 503, description = "Not ready: the failing check (`database`, `migrations`, `serving`).", body = schema::Ready),
    )
)]
async fn ready(State(ctx): State<AppContext>) -> Response {
    let serving = if ctx.draining.is_cancelled() {
        "draining"
    } else {
        "ok"
    };
    let (database, migrations) =
        match tokio::time::timeout(Duration::from_secs(2), ctx.store.migrations_applied()).await {
            Ok(Ok(true)) => ("ok", "ok"),
            Ok(Ok(false)) => ("ok", "missing"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the database failed");
                ("failing", "unknown")
            }
            Err(_) => {
                tracing::warn!("readiness: the database did not answer within 2 s");
                ("failing", "unknown")
            }
        };
    let ready = [serving, database, migrations].iter().all(|c| *c == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "checks": { "database": database, "migrations": migrations, "serving": serving },
    });
    (status, Json(body)).into_response()
}

/// The metrics (`crate::metrics`), as `METRICS` says: `open`; `token` (the default: a bearer
/// token, `METRICS_TOKEN` or the operator's); `off` (404).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    summary = "Prometheus metrics (OpenMetrics text)",
    description = "Every metric, its type and labels: `server/README.md`, Operating it. Access as `METRICS` says: `token` (the default: Bearer `METRICS_TOKEN` or the operator token), `open`, `off`.",
    security(("metricsToken" = []), ("operatorToken" = []), ()),
    responses(
        (status = 200, description = "The metrics.", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, description = "`UNAUTHORIZED`: `METRICS=token` and the bearer token is missing or wrong.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: `METRICS=off`, or `token` with neither `METRICS_TOKEN` nor `OPERATOR_TOKEN` set.", body = ErrorBody),
    )
)]
async fn metrics(State(ctx): State<AppContext>, headers: HeaderMap) -> Response {
    let settings = &ctx.settings;
    match settings.metrics {
        MetricsAccess::Off => return ApiError::NotFound.into_response(),
        MetricsAccess::Open => {}
        MetricsAccess::Token => {
            let tokens: Vec<_> = [&settings.metrics_token, &settings.operator_token]
                .into_iter()
                .flatten()
                .collect();
            if tokens.is_empty() {
                return ApiError::NotFound.into_response();
            }
            if !bearer_is(&headers, &tokens) {
                return ApiError::Unauthorized.into_response();
            }
        }
    }
    if ctx.draining.is_cancelled() {
        ctx.metrics.draining();
    }
    ctx.metrics
        .refresh_database(&ctx.store, &ctx.clock, settings.metrics_refresh)
        .await;
    let mut response = ctx.metrics.encode().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/openapi.json`: this description (`routes::openapi`), the same as
/// `server/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "system",
    summary = "This OpenAPI description",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document (`server/openapi.json`).", content_type = "application/json", body = Object))
)]
async fn openapi() -> Response {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(super::openapi::json);
    let mut response = DOCUMENT.as_str().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn clock_json(ctx: &AppContext) -> Json<serde_json::Value> {
    let now = ctx.clock.now_ms();
    Json(json!({ "now": iso_kst(now), "nowMs": now }))
}

#[utoipa::path(
    get,
    path = "/api/admin/clock",
    tag = "operator",
    summary = "The clock (demo and test mode only)",
    responses((status = 200, description = "Now.", body = schema::ClockNow))
)]
async fn read_clock(State(ctx): State<AppContext>) -> ApiResult<Json<serde_json::Value>> {
    Ok(clock_json(&ctx))
}

/// `{"advanceMs": n}` or `{"to": "2027-01-31T09:00:00+09:00"}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MoveClock {
    /// Forward by this many milliseconds.
    advance_ms: Option<i64>,
    /// To this moment (RFC 3339).
    to: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/admin/clock",
    tag = "operator",
    summary = "Move the clock forward (demo and test mode only)",
    description = "Everything that schedules reads this clock: a year of monthly charges runs in seconds. It never moves back. Never next to a live key (the route does not exist in live mode).",
    request_body = MoveClock,
    responses(
        (status = 200, description = "Now.", body = schema::ClockNow),
        (status = 409, description = "`CONFLICT`: backwards.", body = ErrorBody),
    )
)]
async fn move_clock(
    State(ctx): State<AppContext>,
    ApiJson(body): ApiJson<MoveClock>,
) -> ApiResult<Json<serde_json::Value>> {
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
