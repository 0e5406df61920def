//! The server half: renders the app with leptos_axum, serves the hydrate bundle (`SITE_ROOT/pkg`),
//! the component's stylesheet and the offline sandbox SDK, and passes `/api/*` (and the simulator,
//! `/__toss-sim/*`) to billing-server, so the hand-off is the real one.
//!
//! `PORT` (default 3000), `BILLING_SERVER_URL` (default http://127.0.0.1:8080), `SITE_ROOT`
//! (default target/ssr-example-site, as scripts/build-ssr-example.sh writes it).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use toss_billing_ssr_example::app::{shell, App};

const CHECKOUT_CSS: &str = include_str!("../../../style/checkout.css");
const SHOP_CSS: &str = include_str!("../shop.css");

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
}

/// Passes a request on to billing-server and its answer back, headers included (cookies,
/// Idempotency-Key, Origin: billing-server allows this app's origin through ALLOWED_ORIGINS).
async fn proxy(State(upstream): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = upstream
        .http
        .request(parts.method.clone(), format!("{}{target}", upstream.base))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH && name != header::CONNECTION {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != header::TRANSFER_ENCODING
                    && name != header::CONNECTION
                    && name != header::CONTENT_LENGTH
                {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response
                .body(Body::from(bytes))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(_) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"code":"BACKEND_UNREACHABLE","message":"billing-server is not reachable"}"#,
        )
            .into_response(),
    }
}

fn css(text: &'static str) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let site_root = std::env::var("SITE_ROOT").unwrap_or_else(|_| "target/ssr-example-site".into());
    let upstream = Upstream {
        base: std::env::var("BILLING_SERVER_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:8080".into())
            .trim_end_matches('/')
            .to_owned(),
        http: reqwest::Client::new(),
    };
    let sandbox = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sandbox");
    let options = LeptosOptions::builder()
        .output_name("toss_billing_ssr_example")
        .site_root(site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(SocketAddr::from(([127, 0, 0, 1], port)))
        .build();
    let routes = generate_route_list(App);
    let passed_on = Router::new()
        .route("/api/{*rest}", any(proxy))
        .route("/__toss-sim/{*rest}", any(proxy))
        .with_state(upstream);
    let app = Router::new()
        .route("/pkg/checkout.css", get(|| async { css(CHECKOUT_CSS) }))
        .route("/pkg/shop.css", get(|| async { css(SHOP_CSS) }))
        .nest_service(
            "/pkg",
            tower_http::services::ServeDir::new(format!("{site_root}/pkg")),
        )
        .nest_service("/sandbox", tower_http::services::ServeDir::new(sandbox))
        .leptos_routes(&options, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .with_state(options)
        .merge(passed_on);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("the port is free");
    println!(
        "ssr-example listening on http://{}",
        listener.local_addr().expect("bound")
    );
    axum::serve(listener, app).await.expect("the server runs");
}
