//! The request id: one per request, on every log line of it and of the work it causes.
//!
//! - **Where it comes from.** `X-Request-Id` from a trusted proxy (`TRUST_PROXY_HEADERS=1`, and
//!   only 1–64 of `A-Z a-z 0-9 - _ .`), otherwise minted here (a UUID, tower-http's
//!   `SetRequestIdLayer`); it is returned in the `x-request-id` response header
//!   (`PropagateRequestIdLayer`). [`accept`] is the gate in front of them.
//! - **Where it goes.** The `request` span of `TraceLayer` carries it as `request_id`, so every
//!   line logged while the request is served has it ([`in_scope`] also makes it the task's
//!   [`current`] one). The store records [`current`] on the rows a request writes — the exchange,
//!   the charge, the subscription events — and the exchange and charge runners, which run in
//!   tasks of their own and may run again long after the request (the reconciler), log in a span
//!   that carries the row's `request_id` ([`scope`] makes it current there too). An event's
//!   delivery logs the id of the request that emitted it.
//!
//! Work nobody asked for (the scheduler's renewals and retries) has none.

use std::future::Future;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::RequestId;

tokio::task_local! {
    static CURRENT: Option<String>;
}

/// The header.
pub const HEADER: &str = "x-request-id";

/// 1–64 of `A-Z a-z 0-9 - _ .`: what we accept from a proxy, and nothing that could break a log
/// line or carry a secret's worth of text.
pub fn is_valid(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The request id of the request (or of the work) this task is running for, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.clone()).ok().flatten()
}

/// Runs `work` with `id` as the [`current`] request id.
pub fn scope<F: Future>(id: Option<String>, work: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(id, work)
}

/// Runs `work` on behalf of the request `id` however much later (an exchange, a charge, a refund
/// run by a task or the reconciler): `id` is its [`current`] request id (its Toss calls carry it)
/// and `span`'s `request_id` field (every line it logs shows it). `span` declares that field empty.
pub fn on_behalf_of<F: Future>(
    id: Option<String>,
    span: tracing::Span,
    work: F,
) -> impl Future<Output = F::Output> {
    use tracing::Instrument;
    if let Some(id) = &id {
        span.record("request_id", id.as_str());
    }
    scope(id, work).instrument(span)
}

/// Keeps an incoming `X-Request-Id` only from a trusted proxy and only when valid; otherwise
/// removes it, so that the next layer mints one.
pub async fn accept(trust_proxy: bool, mut request: Request, next: Next) -> Response {
    let keep = trust_proxy
        && request
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_valid);
    if !keep {
        request.headers_mut().remove(HEADER);
    }
    next.run(request).await
}

/// The request's id, as the layers set it.
pub fn of(request: &Request) -> Option<&str> {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
}

/// Serves the request with its id as the task's [`current`] one.
pub async fn in_scope(request: Request, next: Next) -> Response {
    let id = of(&request).map(str::to_owned);
    scope(id, next.run(request)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn valid_ids() {
        assert!(super::is_valid("3f2c-a_b.9"));
        assert!(super::is_valid(&"a".repeat(64)));
        assert!(!super::is_valid(&"a".repeat(65)));
        assert!(!super::is_valid(""));
        assert!(!super::is_valid("a b"));
        assert!(!super::is_valid("a\"b"));
        assert!(!super::is_valid("한"));
    }

    #[tokio::test]
    async fn current_follows_the_scope() {
        assert_eq!(super::current(), None);
        let inside = super::scope(Some("r-1".into()), async { super::current() }).await;
        assert_eq!(inside.as_deref(), Some("r-1"));
    }
}
