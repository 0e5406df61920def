//! The API, one module per resource, merged in [`api_router`]: `customer` (who is calling, and
//! removing their card), `checkout` (the terms before the card), `handoff` (the authKey exchange),
//! `subscriptions` (the customer's own: cancellation with its preview, charges with receipts and
//! refunds), `admin` (the operator's subscriptions, plans and price changes), `charges` (operator
//! charges), `refunds` (operator refunds, Toss's webhooks as received), `toss_webhooks` (Toss's
//! webhook endpoint, outside the same-site check), `system` (health, metrics, the demo clock, the
//! OpenAPI description). Each module describes its routes for OpenAPI beside them (`Doc`), merged
//! in [`openapi::document`].
//! Every answer is JSON (but the metrics); every error is `{"code", "message"}` (`crate::error`).
//!
//! Every path under `/api/admin/` is the operator's: [`operator_only`] checks the bearer token
//! before routing, so no extractor of an operator route ever runs for a caller without it (a
//! wrong token never learns an endpoint's fields), and a route added there cannot forget it.

mod admin;
mod charges;
mod checkout;
mod customer;
mod handoff;
pub mod openapi;
mod operator_page;
mod refunds;
mod subscriptions;
mod system;
mod toss_webhooks;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, Method, Response};
use axum::middleware::Next;
use axum::routing::any;
use axum::Router;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::{KeyExtractor, PeerIpKeyExtractor, SmartIpKeyExtractor};
use tower_governor::{GovernorError, GovernorLayer};

use governor::clock::QuantaInstant;
use governor::middleware::NoOpMiddleware;

/// A rate limiter's configuration; its state is swept of old clients periodically (`lib.rs`).
pub type Limiter = Arc<GovernorConfig<ClientIp, NoOpMiddleware<QuantaInstant>>>;

use crate::charge::Charges;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchanges;
use crate::metrics::{Metrics, RateLimit};
use crate::session::Sessions;
use crate::settings::{Secret, Settings};
use crate::store::Store;

/// The calling customer's key (their session cookie, or the merchant's login), or
/// `401 NOT_SIGNED_IN`: what every customer route asks first.
async fn signed_in_customer(
    ctx: &AppContext,
    headers: &axum::http::HeaderMap,
) -> ApiResult<String> {
    let identified = ctx.sessions.identify(headers).await?;
    identified
        .caller
        .customer_key()
        .map(str::to_owned)
        .ok_or(ApiError::NotSignedIn)
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppContext {
    /// The settings.
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Store,
    /// Who is calling.
    pub sessions: Sessions,
    /// The authKey exchange.
    pub exchanges: Exchanges,
    /// Charges.
    pub charges: Charges,
    /// Refunds.
    pub refunds: crate::refund::Refunds,
    /// Subscriptions.
    pub subscriptions: crate::subscription::Subscriptions,
    /// The clock.
    pub clock: Clock,
    /// The server's keys (checkout sessions are signed with them).
    pub keyring: Arc<crate::crypto::Keyring>,
    /// Toss's webhooks, queued.
    pub toss_inbox: crate::toss_webhooks::Inbox,
    /// The Toss client (a removed card's best-effort deletion at Toss).
    pub toss: crate::toss::TossClient,
    /// Work that must outlive its request.
    pub tasks: tokio_util::task::TaskTracker,
    /// The metrics.
    pub metrics: Metrics,
    /// Cancelled when the shutdown starts: readiness answers 503 from then on.
    pub draining: tokio_util::sync::CancellationToken,
}

/// The rate limiter's key: the client's IP, from the connection, or from `X-Forwarded-For` &c.
/// when `TRUST_PROXY_HEADERS=1` (only behind a proxy that sets them).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    trust_proxy: bool,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, request: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        if self.trust_proxy {
            SmartIpKeyExtractor.extract(request)
        } else {
            PeerIpKeyExtractor.extract(request)
        }
    }
}

/// A rate limit per client IP (`limit` says which settings), answering `429 {"code":
/// "TOO_MANY_REQUESTS"}` and counting each refusal.
pub(crate) fn rate_limit(
    ctx: &AppContext,
    limit: RateLimit,
    limiters: &mut Vec<Limiter>,
) -> GovernorLayer<ClientIp, NoOpMiddleware<QuantaInstant>, axum::body::Body> {
    let limits = &ctx.settings.limits;
    let (per_minute, burst) = match limit {
        RateLimit::Handoff => (limits.handoff_per_minute, limits.handoff_burst),
        RateLimit::Customer | RateLimit::Checkout => {
            (limits.session_per_minute, limits.session_burst)
        }
    };
    let trust_proxy = ctx.settings.trust_proxy_headers;
    let metrics = ctx.metrics.clone();
    let config = Arc::new(
        GovernorConfigBuilder::default()
            .period(Duration::from_nanos(
                60_000_000_000 / u64::from(per_minute.max(1)),
            ))
            .burst_size(burst.max(1))
            .key_extractor(ClientIp { trust_proxy })
            .finish()
            .expect("a positive period and burst"),
    );
    limiters.push(config.clone());
    GovernorLayer::new(config).error_handler(move |error| {
        let retry_after_ms = match error {
            GovernorError::TooManyRequests { wait_time, .. } => {
                metrics.rate_limited(limit);
                (wait_time.max(1) * 1000) as u32
            }
            _ => 1000,
        };
        axum::response::IntoResponse::into_response(ApiError::TooManyRequests { retry_after_ms })
    })
}

/// Refuses cross-site state-changing requests (`web::origin_allowed`).
async fn same_site(
    State(ctx): State<AppContext>,
    request: Request,
    next: Next,
) -> Response<axum::body::Body> {
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && !crate::web::origin_allowed(request.headers(), &ctx.settings.allowed_origins)
    {
        return axum::response::IntoResponse::into_response(ApiError::ForbiddenOrigin);
    }
    next.run(request).await
}

/// Whether the bearer token of `headers` is one of `tokens`, compared in constant time.
pub(crate) fn bearer_is(headers: &axum::http::HeaderMap, tokens: &[&Secret]) -> bool {
    use subtle::ConstantTimeEq;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim();
    tokens.iter().any(|token| {
        let expected = token.expose();
        given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    })
}

/// The operator's bearer token; the API does not exist without one.
pub(crate) fn check_operator(ctx: &AppContext, headers: &axum::http::HeaderMap) -> ApiResult<()> {
    let Some(token) = &ctx.settings.operator_token else {
        return Err(ApiError::NotFound);
    };
    if bearer_is(headers, &[token]) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Whether a path is the operator's.
pub fn is_operator_path(path: &str) -> bool {
    path == "/api/admin" || path.starts_with("/api/admin/")
}

/// Authenticates every request to an operator path before it is routed: nothing of the request
/// (its body, query or path parameters) is read for a caller without the token.
async fn operator_only(
    State(ctx): State<AppContext>,
    request: Request,
    next: Next,
) -> Response<axum::body::Body> {
    if is_operator_path(request.uri().path()) {
        if let Err(refused) = check_operator(&ctx, request.headers()) {
            return axum::response::IntoResponse::into_response(refused);
        }
    }
    next.run(request).await
}

/// Keeps the customer's cookie session alive across every customer route, not only the ones
/// that answer with a cookie themselves: a session due for rotation is rotated before the
/// handler runs (which then reads the new one), a visitor whose card is registered becomes a
/// stored session, before the handler or, for the hand-off that registers it, after a 2xx.
async fn renew_session(
    State(ctx): State<AppContext>,
    mut request: Request<axum::body::Body>,
    next: Next,
) -> Response<axum::body::Body> {
    if is_operator_path(request.uri().path()) {
        return next.run(request).await;
    }
    let before = match ctx.sessions.renew(request.headers()).await {
        Ok(renewed) => renewed,
        Err(e) => return axum::response::IntoResponse::into_response(ApiError::from(e)),
    };
    if let Some(cookie) = &before {
        crate::session::Sessions::with_renewed_cookie(request.headers_mut(), cookie);
    }
    let visitor_headers = (before.is_none()
        && crate::session::Sessions::carries_visitor_cookie(request.headers()))
    .then(|| request.headers().clone());
    let mut response = next.run(request).await;
    let after = match visitor_headers {
        Some(headers) if response.status().is_success() => {
            ctx.sessions.renew(&headers).await.ok().flatten()
        }
        _ => None,
    };
    if let Some(cookie) = before.or(after) {
        if !response.headers().contains_key(header::SET_COOKIE) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The whole API, and the rate limiters (to sweep their memory of old clients).
pub fn api_router(ctx: AppContext) -> (Router, Vec<Limiter>) {
    let mut limiters = Vec::new();
    let router = Router::new()
        .merge(customer::router(&ctx, &mut limiters))
        .merge(handoff::router(&ctx, &mut limiters))
        .merge(charges::router())
        .merge(refunds::router())
        .merge(checkout::router(&ctx, &mut limiters))
        .merge(subscriptions::router())
        .merge(admin::router())
        .merge(operator_page::router(&ctx))
        .merge(system::router(&ctx))
        .route(
            "/api/{*rest}",
            any(|| async { axum::response::IntoResponse::into_response(ApiError::NotFound) }),
        )
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            renew_session,
        ))
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), same_site))
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            operator_only,
        ))
        // Toss is cross-site by nature: its endpoint is added after (outside) the Origin check.
        .merge(toss_webhooks::router(&ctx))
        .with_state(ctx);
    (router, limiters)
}
