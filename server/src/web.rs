//! Serving the built frontend (tower-http's `ServeDir`, precompressed `.br`/`.gz` when present,
//! immutable caching for hashed assets), the document each route gets, security headers, and the
//! Origin check of state-changing requests. Nothing here names a file or folder in an answer, and
//! no path segment starting with a dot (`.env`, `.git/`, `%2eenv`) is ever served.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use toss_billing_contract::{page_for, Page, DEFAULT_FAIL_PATH, DEFAULT_SUCCESS_PATH};
use tower_http::services::ServeDir;

/// The Content-Security-Policy, plus hashes of the inline scripts of the page being served.
pub fn csp(inline_script_hashes: &[String]) -> String {
    let mut script_src = String::from("'self' 'wasm-unsafe-eval' https://js.tosspayments.com");
    for h in inline_script_hashes {
        script_src.push_str(&format!(" 'sha256-{h}'"));
    }
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https://*.tosspayments.com; \
         connect-src 'self' https://*.tosspayments.com; \
         frame-src 'self' https://*.tosspayments.com; \
         form-action 'self' https://*.tosspayments.com; \
         base-uri 'self'; object-src 'none'; frame-ancestors 'self'"
    )
}

/// Adds the security headers to every response, and `Cache-Control: no-store` to the API.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    // Never `same-origin`: it breaks Toss's payment window (contract §7).
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin-allow-popups"),
    );
    // The success URL carries the one-time authKey.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key("content-security-policy") {
        if let Ok(v) = HeaderValue::from_str(&csp(&[])) {
            h.insert("content-security-policy", v);
        }
    }
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Whether a state-changing request comes from this site: `Origin` must be this server's own
/// (per `Host`) or listed; without `Origin`, `Sec-Fetch-Site: cross-site`/`same-site` is refused.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        Some(Ok(origin)) => {
            let origin = origin.trim_end_matches('/');
            if allowed.iter().any(|a| a == origin) {
                return true;
            }
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            matches!(rest, Some(r) if !host.is_empty() && r.eq_ignore_ascii_case(host))
        }
        Some(Err(_)) => false,
        None => !matches!(
            headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
            Some("cross-site") | Some("same-site")
        ),
    }
}

/// SHA-256 (base64) of every inline `<script>` body of a page, for its CSP.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    use base64::Engine;
    let mut hashes = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<script") {
        let tag_start = pos + start;
        let Some(tag_end) = lower[tag_start..].find('>').map(|i| tag_start + i + 1) else {
            break;
        };
        let tag = &lower[tag_start..tag_end];
        let Some(close) = lower[tag_end..].find("</script") else {
            break;
        };
        let body = &html[tag_end..tag_end + close];
        let is_data = tag.contains("application/json");
        if !tag.contains(" src=") && !is_data && !body.is_empty() {
            hashes.push(
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes())),
            );
        }
        pos = tag_end + close;
    }
    hashes
}

/// The page's success and fail paths: `successPath`/`failPath` of the configuration block of
/// `index.html` (`#toss-billing-config`, JSON), else the component's defaults.
pub fn return_paths(index_html: &str) -> (String, String) {
    let config = config_block(index_html)
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .unwrap_or_default();
    let path = |name: &str, default: &str| {
        config
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or(default)
            .to_owned()
    };
    (
        path("successPath", DEFAULT_SUCCESS_PATH),
        path("failPath", DEFAULT_FAIL_PATH),
    )
}

/// The text of the `<script … id="toss-billing-config">` element.
fn config_block(html: &str) -> Option<&str> {
    let id_at = html.find(r#"id="toss-billing-config""#)?;
    let open_end = id_at + html[id_at..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</script>")?;
    Some(&html[open_end..close])
}

/// Where the demo serves the subscription portal's page.
pub const PORTAL_PATH: &str = "/account";

#[derive(Clone)]
struct Frontend {
    dist: PathBuf,
}

/// The frontend: files from `dist` (precompressed variants preferred), and for routes (paths
/// whose last segment has no dot) a document: `return.html` on the page's success and fail paths
/// (it preloads the success/fail bundle), `account.html` (the subscription portal) on
/// [`PORTAL_PATH`], `index.html` everywhere else. The checkout's documents work on any address,
/// since the loader picks the bundle by the same rule ([`page_for`]); the choice spares a page the
/// other bundle's download.
pub fn frontend(dist: &Path) -> Router {
    let frontend = Frontend {
        dist: dist.to_owned(),
    };
    let files = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false)
        .fallback(axum::routing::any(document).with_state(frontend));
    Router::new()
        .fallback_service(files)
        .layer(axum::middleware::from_fn(cache_headers))
        .layer(axum::middleware::from_fn(refuse_hidden))
}

/// A plain `404 not found`: the one answer for anything that is not served.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

/// Whether a request path has a segment starting with a dot once percent-decoded (`/.env`,
/// `/%2eenv`, `/a/.git/config`): dotfiles in `DIST_DIR` (an editor's, a deploy tool's, a `.env`)
/// are never served, and neither is `.well-known` (this server publishes nothing there). An
/// undecodable path counts as hidden.
pub fn has_hidden_segment(path: &str) -> bool {
    match percent_encoding::percent_decode_str(path).decode_utf8() {
        Ok(decoded) => decoded
            .split(['/', '\\'])
            .any(|segment| segment.starts_with('.')),
        Err(_) => true,
    }
}

async fn refuse_hidden(request: Request, next: Next) -> Response {
    if has_hidden_segment(request.uri().path()) {
        return not_found();
    }
    next.run(request).await
}

/// Hashed file names (`name-<16+ hex>.ext`, `…_bg.wasm`) never change: cache them for a year.
/// Everything else is revalidated.
async fn cache_headers(request: Request, next: Next) -> Response {
    let hashed = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() && !response.headers().contains_key(header::CACHE_CONTROL) {
        let value = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    let stem = name.split('.').next().unwrap_or("").trim_end_matches("_bg");
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn document(State(frontend): State<Frontend>, request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = request.uri().path();
    let last = path.rsplit('/').next().unwrap_or("");
    if last.contains('.') && last != "index.html" {
        return not_found();
    }
    let index = match tokio::fs::read_to_string(frontend.dist.join("index.html")).await {
        Ok(html) => html,
        Err(e) => {
            // The folder is for the operator's log (once), never for the answer.
            static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    dist = %frontend.dist.display(),
                    error = %e.kind(),
                    "the frontend is not built: no readable index.html in DIST_DIR (run ./scripts/build-release.sh)"
                );
            }
            return not_found();
        }
    };
    let (success, fail) = return_paths(&index);
    let html = match page_for(&success, &fail, path) {
        Page::Success | Page::Fail => tokio::fs::read_to_string(frontend.dist.join("return.html"))
            .await
            .unwrap_or(index),
        // The subscription portal's page (dist/account.html: the portal's bundle).
        Page::Register if toss_billing_contract::bare_path(path) == PORTAL_PATH => {
            tokio::fs::read_to_string(frontend.dist.join("account.html"))
                .await
                .unwrap_or(index)
        }
        Page::Register => index,
    };
    let hashes = inline_script_hashes(&html);
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(html)
    });
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&csp(&hashes)) {
        h.insert("content-security-policy", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_inline_scripts_only() {
        use base64::Engine;
        let html = r#"<script src="/a.js"></script><SCRIPT type="module">init()</SCRIPT><script type="application/json" id="x">{}</script>"#;
        let h = inline_script_hashes(html);
        assert_eq!(
            h,
            vec![base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"init()"))]
        );
    }

    #[test]
    fn return_paths_come_from_the_config_block() {
        let html = r#"<script type="application/json" id="toss-billing-config">{"successPath": "/ok?x=1", "clientKey": "test_ck_x"}</script>"#;
        assert_eq!(
            return_paths(html),
            ("/ok?x=1".to_owned(), DEFAULT_FAIL_PATH.to_owned())
        );
        assert_eq!(
            return_paths("<html></html>"),
            (
                DEFAULT_SUCCESS_PATH.to_owned(),
                DEFAULT_FAIL_PATH.to_owned()
            )
        );
    }

    #[test]
    fn hidden_segments() {
        for hidden in [
            "/.env",
            "/%2eenv",
            "/%2Eenv",
            "/a/.git/config",
            "/a/%2e%2e/b",
            "/.well-known/x",
            "/a%2f.env",
            "/a%5c.env",
            "/%ff",
        ] {
            assert!(has_hidden_segment(hidden), "{hidden}");
        }
        for plain in ["/", "/boot-0123.js", "/a/b.c/d", "/done/ok"] {
            assert!(!has_hidden_segment(plain), "{plain}");
        }
    }

    #[test]
    fn hashed_assets() {
        assert!(is_hashed_asset(
            "/toss-billing-checkout-3a6f1b2c4d5e6f70_bg.wasm"
        ));
        assert!(is_hashed_asset("/boot-3a6f1b2c4d5e6f70.js"));
        assert!(!is_hashed_asset("/toss-billing-checkout-loader.js"));
        assert!(!is_hashed_asset("/sandbox/tosspayments-sandbox.js"));
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(origin_allowed(&h, &[]));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(origin_allowed(&h, &[]));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!origin_allowed(&h, &[]));
        assert!(origin_allowed(&h, &["https://evil.example".to_string()]));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_allowed(&h, &[]));
    }
}
