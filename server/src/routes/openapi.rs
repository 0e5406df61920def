//! The OpenAPI 3.1 description of the API, generated from the code: each route module's
//! `#[utoipa::path]` annotations (`Doc`), with request and answer types that are the real ones
//! where they exist (`toss_billing_contract`'s wire types with its `openapi` feature, the bodies'
//! own structs) and small documented structs beside the handlers that build `json!` answers.
//! Served at `GET /api/openapi.json` and committed as `server/openapi.json`; the server's tests
//! fail when a route has no description here (the routes' source and the running server are
//! compared with it) or the committed file is stale.
//!
//! What every operation shares is added in one place ([`document`]), the way the middleware
//! adds it: the operator's bearer token and its `401`/`404` on `/api/admin/*`, `403
//! FORBIDDEN_ORIGIN` on every state-changing request but Toss's webhook, `400 INVALID_REQUEST` on
//! every JSON body, and `503 SERVICE_UNAVAILABLE` on everything that reads the database.

use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Response, SecurityRequirement};
use utoipa::OpenApi;

use toss_billing_contract::ErrorBody;

/// The document's head: what the API is, its security schemes, its tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "billing-server",
        description = "The reference merchant backend for the TossPayments card-billing (자동결제) checkout: the customer's API (who they are, the checkout's terms, the hand-off of the authKey, their subscription, charges and refunds, cancellation), the operator's API (charges, refunds, subscriptions, plans, price changes; a bearer token), health and metrics, and the endpoint that receives Toss's webhooks. Every error answer is `ErrorBody` (`{\"code\", \"message\", \"retryAfterMs\"?}`); each operation lists its codes. `server/README.md` explains each endpoint.",
        license(name = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "customer", description = "Who the customer is, and removing their card."),
        (name = "checkout", description = "The plans and the signed terms before the card."),
        (name = "hand-off", description = "The authKey exchanged for a billing key, exactly once (`docs/handoff-contract.md`)."),
        (name = "subscription", description = "The customer's own subscription: its charges with receipts and refunds, cancellation (일반해지, 중도해지, 청약철회), answers to changes, plan switches."),
        (name = "operator", description = "The operator's API: subscriptions, plans, price changes, charges, refunds, Toss's webhooks as received, the demo clock. Bearer `OPERATOR_TOKEN`."),
        (name = "system", description = "Health, readiness, metrics and this description."),
        (name = "toss", description = "What Toss calls: its webhooks (not the merchant's API; registered in Toss's developer console)."),
    ),
    components(schemas(ErrorBody)),
)]
struct Head;

/// The whole description.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Head::openapi();
    for (module, mut part) in [
        ("customer", super::customer::Doc::openapi()),
        ("checkout", super::checkout::Doc::openapi()),
        ("handoff", super::handoff::Doc::openapi()),
        ("subscription", super::subscriptions::Doc::openapi()),
        ("admin", super::admin::Doc::openapi()),
        ("charges", super::charges::Doc::openapi()),
        ("refunds", super::refunds::Doc::openapi()),
        ("system", super::system::Doc::openapi()),
        ("tossWebhooks", super::toss_webhooks::Doc::openapi()),
    ] {
        name_operations(module, &mut part);
        doc.merge(part);
    }
    add_security_schemes(&mut doc);
    add_shared_answers(&mut doc);
    doc
}

/// The description as served and committed: pretty JSON and a final newline.
pub fn json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the description serializes");
    text.push('\n');
    text
}

/// Each operation of a path, with its method (the methods the API routes).
fn operations(item: &mut PathItem) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation?)))
}

/// Operation ids unique across the document (OpenAPI requires it; a generated client names its
/// methods after them): the module, then the handler's name, camelCased — `refunds` + `create`
/// is `refundsCreate`, `charges` + `create` is `chargesCreate`.
fn name_operations(module: &str, part: &mut utoipa::openapi::OpenApi) {
    for item in part.paths.paths.values_mut() {
        for (_, operation) in operations(item) {
            let handler = operation.operation_id.take().unwrap_or_default();
            let mut id = module.to_owned();
            for word in handler.split('_').filter(|w| !w.is_empty()) {
                let mut chars = word.chars();
                id.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                id.push_str(chars.as_str());
            }
            operation.operation_id = Some(id);
        }
    }
}

fn add_security_schemes(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let bearer = |description: &str| {
        let mut http = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        http.description = Some(description.to_owned());
        SecurityScheme::Http(http)
    };
    components.add_security_scheme(
        "operatorToken",
        bearer("`Authorization: Bearer <OPERATOR_TOKEN>`: every path under `/api/admin/` (checked before anything of the request is read; without `OPERATOR_TOKEN` set the operator API does not exist: `404`). It can charge cards: never give it to a scraper."),
    );
    components.add_security_scheme(
        "metricsToken",
        bearer("`Authorization: Bearer <METRICS_TOKEN>` (or the operator token) for `GET /metrics` with `METRICS=token`, the default."),
    );
    components.add_security_scheme(
        "sessionCookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "__Host-billing_sid",
            "The customer's session: `__Host-billing_sid` over HTTPS, `billing_sid` on plain HTTP (the demo). Set by `GET /api/customer` or `GET /api/checkout`; HttpOnly, SameSite=Lax, signed.",
        ))),
    );
    components.add_security_scheme(
        "signedInUser",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-shop-user",
            "The merchant's own login instead of the cookie: its authenticating proxy puts the signed-in user's id in the header named by `SIGNED_IN_USER_HEADER` (`x-shop-user` here is an example) and strips it from what browsers send.",
        ))),
    );
}

/// The error answers the middleware and the extractors give, added to every operation they
/// apply to (a description already there gets the code appended).
fn add_shared_answers(doc: &mut utoipa::openapi::OpenApi) {
    let webhook = crate::settings::DEFAULT_TOSS_WEBHOOK_PATH;
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let admin = crate::routes::is_operator_path(path);
            if admin {
                operation.security = Some(vec![SecurityRequirement::new(
                    "operatorToken",
                    Vec::<String>::new(),
                )]);
                add(operation, "401", "`UNAUTHORIZED`: the operator token is missing or wrong (checked before the body, the query or the path are read).");
                add(operation, "404", "`NOT_FOUND`: also when no `OPERATOR_TOKEN` is set (the operator API does not exist).");
            }
            let state_changing = !matches!(method, HttpMethod::Get | HttpMethod::Head);
            if state_changing && path != webhook {
                add(
                    operation,
                    "403",
                    "`FORBIDDEN_ORIGIN`: a cross-site request (`Origin` or `Sec-Fetch-Site`).",
                );
            }
            let json_body = operation
                .request_body
                .as_ref()
                .is_some_and(|body| body.content.contains_key("application/json"))
                && path != webhook;
            if json_body {
                add(operation, "400", "`INVALID_REQUEST`: the body is not the documented JSON (unknown fields refused, at most 8 KiB, `Content-Type: application/json`); the message names the field, never the value.");
            }
            let no_database = ["/api/health/live", "/api/openapi.json", "/metrics"];
            if !no_database.contains(&path.as_str()) {
                add(
                    operation,
                    "503",
                    "`SERVICE_UNAVAILABLE`: the database failed; retryable (`retryAfterMs`).",
                );
            }
        }
    }
}

/// Adds `text` to the answer `status` of `operation` (an `ErrorBody`), or the answer itself.
fn add(operation: &mut Operation, status: &str, text: &str) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(status) {
        Some(RefOr::T(response)) => {
            if !response.description.contains(text) {
                response.description = format!("{} {text}", response.description);
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let response = Response::builder()
                .description(text)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build();
            responses.insert(status.to_owned(), RefOr::T(response));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route modules, read as source: every `.route(…)` in them must be described.
    const ROUTE_SOURCES: [(&str, &str); 10] = [
        ("admin.rs", include_str!("admin.rs")),
        ("charges.rs", include_str!("charges.rs")),
        ("checkout.rs", include_str!("checkout.rs")),
        ("customer.rs", include_str!("customer.rs")),
        ("handoff.rs", include_str!("handoff.rs")),
        ("mod.rs", include_str!("mod.rs")),
        ("refunds.rs", include_str!("refunds.rs")),
        ("subscriptions.rs", include_str!("subscriptions.rs")),
        ("system.rs", include_str!("system.rs")),
        ("toss_webhooks.rs", include_str!("toss_webhooks.rs")),
    ];

    /// The methods a route is described by. Not described, on purpose: the operator's HTML page
    /// and its two files (`operator_page.rs`, not in [`ROUTE_SOURCES`]) and the catch-all that
    /// answers `404 NOT_FOUND` for any other `/api/` path (an `any(…)`, not one of these).
    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    /// `(path, method)` of every `.route(path, get(…).post(…))` in `source`. A path that is not a
    /// string literal is the webhook's (`TOSS_WEBHOOK_PATH`), described at its default.
    fn routes_in(source: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (start, _) in source.match_indices(".route(") {
            let call = balanced(&source[start + ".route".len()..]);
            let path = match call.split_once('"') {
                Some((before, rest)) if before.trim() == "(" => rest.split('"').next().unwrap(),
                _ => crate::settings::DEFAULT_TOSS_WEBHOOK_PATH,
            };
            for method in METHODS {
                let called = call.match_indices(&format!("{method}(")).any(|(at, _)| {
                    let before = call[..at].chars().last();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if called {
                    found.push((path.to_owned(), method.to_owned()));
                }
            }
        }
        found
    }

    /// The text of a parenthesized call starting at `text`'s first `(`, parentheses included.
    fn balanced(text: &str) -> &str {
        let mut depth = 0;
        for (at, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return &text[..=at];
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced .route( call: {text}")
    }

    /// A path with its parameters' names dropped (`/a/{order_id}` routes what `/a/{orderId}`
    /// describes: the description uses the API's camelCase names).
    fn shape(path: &str) -> String {
        let mut shaped = String::new();
        let mut in_parameter = false;
        for c in path.chars() {
            match c {
                '{' => {
                    in_parameter = true;
                    shaped.push_str("{}");
                }
                '}' => in_parameter = false,
                _ if in_parameter => {}
                _ => shaped.push(c),
            }
        }
        shaped
    }

    fn described() -> Vec<(String, String)> {
        let mut doc = document();
        let mut all = Vec::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, _) in operations(item) {
                // As the document spells it: "get", "post", …
                let method = serde_json::to_value(&method).unwrap();
                all.push((shape(path), method.as_str().unwrap().to_owned()));
            }
        }
        all
    }

    #[test]
    fn the_route_parser_sees_multi_line_routes_and_chained_methods() {
        let source = r#"
            Router::new()
                .route("/a", get(one))
                .route(
                    "/b/{id}",
                    put(two).patch(three),
                )
                .route(&ctx.settings.toss_webhook_path, post(receive))
                .route("/api/{*rest}", any(|| async { budget() }))
        "#;
        let hook = crate::settings::DEFAULT_TOSS_WEBHOOK_PATH.to_owned();
        assert_eq!(
            routes_in(source),
            vec![
                ("/a".to_owned(), "get".to_owned()),
                ("/b/{id}".to_owned(), "put".to_owned()),
                ("/b/{id}".to_owned(), "patch".to_owned()),
                (hook, "post".to_owned()),
            ]
        );
    }

    #[test]
    fn every_route_is_described_and_every_description_is_a_route() {
        let mut routed: Vec<(String, String)> = ROUTE_SOURCES
            .iter()
            .flat_map(|(_, source)| routes_in(source))
            .map(|(path, method)| (shape(&path), method))
            .collect();
        routed.sort();
        routed.dedup();
        let mut described = described();
        described.sort();
        let undescribed: Vec<_> = routed.iter().filter(|r| !described.contains(r)).collect();
        let unrouted: Vec<_> = described.iter().filter(|d| !routed.contains(d)).collect();
        assert!(
            undescribed.is_empty(),
            "routes without an OpenAPI description (add #[utoipa::path] and list it in the module's Doc): {undescribed:?}"
        );
        assert!(
            unrouted.is_empty(),
            "described but not routed: {unrouted:?}"
        );
        assert!(
            routed.len() > 30,
            "the route parser found only {}",
            routed.len()
        );
    }

    #[test]
    fn every_operation_has_a_summary_an_answer_a_tag_and_its_own_id() {
        let mut doc = document();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (_, operation) in operations(item) {
                assert!(operation.summary.is_some(), "{path}: no summary");
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(ids.insert(id.clone()), "{path}: operationId {id:?} twice");
                assert!(
                    operation.tags.as_ref().is_some_and(|t| !t.is_empty()),
                    "{path}: no tag"
                );
                assert!(
                    operation
                        .responses
                        .responses
                        .keys()
                        .any(|s| s.starts_with('2')),
                    "{path}: no success answer"
                );
            }
        }
    }

    /// `server/openapi.json` is what the code describes. `UPDATE_OPENAPI=1 cargo test -p
    /// billing-server openapi` (or `billing-server openapi > server/openapi.json`) rewrites it.
    #[test]
    fn the_committed_description_is_current() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let current = json();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(file, &current).unwrap();
        }
        let committed = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            committed == current,
            "server/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p billing-server openapi` and commit it"
        );
    }
}
