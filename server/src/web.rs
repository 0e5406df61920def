//! Serving the built frontend, security headers and the request guards shared by the API.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

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
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin-allow-popups"),
    );
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
    resp
}

/// Is this request cross-site? `Origin` must be this server's own (per `Host`) or listed;
/// without `Origin`, a `Sec-Fetch-Site: cross-site` is refused too.
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

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("html") | Some("htm") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") | Some("map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Decodes and sanitizes a URL path into a relative file path; `None` if it tries to escape.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let mut out = PathBuf::new();
    for comp in Path::new(decoded.trim_start_matches('/')).components() {
        match comp {
            Component::Normal(c) => {
                if c.to_str().is_some_and(|s| s.starts_with('.')) {
                    return None; // no dotfiles
                }
                out.push(c)
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// SHA-256 (base64) of every inline `<script>` body in an HTML page.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<script") {
        let tag_start = pos + start;
        let Some(tag_end_rel) = lower[tag_start..].find('>') else {
            break;
        };
        let tag_end = tag_start + tag_end_rel + 1;
        let tag = &lower[tag_start..tag_end];
        let Some(close_rel) = lower[tag_end..].find("</script") else {
            break;
        };
        let body = &html[tag_end..tag_end + close_rel];
        if !tag.contains(" src=") && !tag.contains(" src =") && !body.is_empty() {
            hashes.push(crate::util::b64(&Sha256::digest(body.as_bytes())));
        }
        pos = tag_end + close_rel;
    }
    hashes
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

/// The page's own success and fail paths (its `toss-billing-config` block, else the component's
/// defaults), without query or trailing slashes.
fn return_paths(index_html: &str) -> [String; 2] {
    let config = index_html
        .split_once(r#"id="toss-billing-config">"#)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .and_then(|(block, _)| serde_json::from_str::<serde_json::Value>(block).ok())
        .unwrap_or_default();
    let path = |name: &str, default: &str| {
        bare_path(config.get(name).and_then(|v| v.as_str()).unwrap_or(default)).to_owned()
    };
    [
        path("successPath", "/billing/success"),
        path("failPath", "/billing/fail"),
    ]
}

fn bare_path(path: &str) -> &str {
    path.split('?').next().unwrap_or(path).trim_end_matches('/')
}

/// Serves a file of the frontend, or a document for routes (paths whose last segment has no
/// extension, e.g. `/billing/success`): `return.html` (the build's page that preloads the return
/// bundle) on the success and fail paths, `index.html` (which preloads the registration bundle)
/// everywhere else. Either document works on any address, since its loader picks the bundle by
/// address; the choice only spares a page the other bundle's download.
pub async fn serve_static(dist: &Path, method: &Method, uri_path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Some(rel) = safe_relative(uri_path) else {
        return not_found();
    };
    let candidate = dist.join(&rel);
    let is_route = rel
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| !n.contains('.'));
    let is_index = rel.as_os_str().is_empty() || rel == Path::new("index.html");
    if !is_index {
        if let Ok(meta) = tokio::fs::metadata(&candidate).await {
            if meta.is_file() {
                return match tokio::fs::read(&candidate).await {
                    Ok(bytes) => file_response(method, content_type(&candidate), bytes),
                    Err(_) => not_found(),
                };
            }
        }
        if !is_route {
            return not_found();
        }
    }
    let index = dist.join("index.html");
    let mut document = tokio::fs::read(&index).await;
    if let Ok(index_html) = &document {
        if return_paths(&String::from_utf8_lossy(index_html))
            .contains(&bare_path(uri_path).to_owned())
        {
            if let Ok(bytes) = tokio::fs::read(dist.join("return.html")).await {
                document = Ok(bytes);
            }
        }
    }
    match document {
        Ok(bytes) => {
            let hashes = inline_script_hashes(&String::from_utf8_lossy(&bytes));
            let mut resp = file_response(method, "text/html; charset=utf-8", bytes);
            if let Ok(v) = HeaderValue::from_str(&csp(&hashes)) {
                resp.headers_mut().insert("content-security-policy", v);
            }
            resp
        }
        Err(_) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "The frontend is not built: no index.html in {} (set DIST_DIR or build it with trunk).",
                dist.display()
            ),
        )
            .into_response(),
    }
}

fn file_response(method: &Method, ctype: &'static str, bytes: Vec<u8>) -> Response {
    let len = bytes.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(safe_relative("/a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(safe_relative("/../etc/passwd"), None);
        assert_eq!(safe_relative("/%2e%2e/x"), None);
        assert_eq!(safe_relative("/.git/config"), None);
    }

    #[test]
    fn hashes_inline_scripts_only() {
        let html = r#"<script src="/a.js"></script><SCRIPT type="module">init()</SCRIPT>"#;
        let h = inline_script_hashes(html);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0], crate::util::b64(&Sha256::digest(b"init()")));
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
