//! The operator page (`/operator`): a small static page over the operator API (subscriptions,
//! their attempts, charges, refunds and events, retry, cancel, "period used", refunds, and in demo
//! and test mode the clock). Embedded in the
//! binary; it shows nothing without the operator token.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppContext;

const PAGE: &str = include_str!("../../operator/index.html");
const SCRIPT: &str = include_str!("../../operator/operator.js");
const STYLE: &str = include_str!("../../operator/operator.css");

fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub fn router(ctx: &AppContext) -> Router<AppContext> {
    if ctx.settings.operator_token.is_none() {
        return Router::new();
    }
    Router::new()
        .route(
            "/operator",
            get(|| async { file("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/operator/operator.js",
            get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/operator/operator.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
}
