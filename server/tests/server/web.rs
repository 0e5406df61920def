//! The frontend as billing-server serves it: the document each route gets, headers on everything,
//! caching by file name, precompressed files.

use reqwest::StatusCode;

use crate::support::{Db, Env};
use crate::{stories, SQLITE};

stories! {
    SQLITE => routes_get_their_document_and_files_their_headers,
}

async fn routes_get_their_document_and_files_their_headers(db: Db) {
    let env = Env::start(db).await;
    std::fs::write(env.dir.path().join("dist/plain.js.br"), b"brotli bytes").unwrap();
    let get = |path: &'static str| {
        let env = &env;
        async move {
            env.http
                .get(env.url(path))
                .header("accept-encoding", "br")
                .send()
                .await
                .unwrap()
        }
    };
    for (path, document) in [
        ("/", "registration"),
        ("/shop/plans", "registration"),
        ("/done/ok", "return"),
        ("/done/no/", "return"),
        ("/billing/success", "registration"),
    ] {
        let r = get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["cross-origin-opener-policy"], "same-origin-allow-popups");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-cache");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        assert!(
            r.text().await.unwrap().contains(document),
            "{path} gets the {document} document"
        );
    }
    let r = get("/boot-0123456789abcdef.js").await;
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let r = get("/plain.js").await;
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["content-encoding"], "br");
    assert_eq!(get("/missing.js").await.status(), StatusCode::NOT_FOUND);
    let escape = env
        .http
        .get(env.url("/%2e%2e/%2e%2e/etc/passwd"))
        .send()
        .await
        .unwrap();
    assert!(
        !escape.text().await.unwrap().contains("root:"),
        "no way out of the dist folder"
    );
    let r = get("/api/health").await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["ok"], true);
}
