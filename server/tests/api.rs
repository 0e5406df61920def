//! End-to-end tests: the real server on 127.0.0.1:0 over HTTP, a real SQLite file in a temp dir,
//! and the Toss simulator on its own listener (steered through its Rust-level fault queue).

use billing_server::sim::{sandbox_auth_key, Fault, Simulator};
use billing_server::{util, Config};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

const TOKEN: &str = "operator-token-for-tests-0123";

struct Env {
    base: String,
    sim: Simulator,
    dir: PathBuf,
    http: reqwest::Client,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Customer {
    cookie: String,
    key: String,
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "billing-server-test-{}",
        util::hex(&util::random_bytes::<8>())
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn setup_with(edit: impl FnOnce(&mut Config)) -> Env {
    let sim = Simulator::new();
    let sim_base = sim.serve().await.unwrap();
    let dir = temp_dir();
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><html><head><script type=\"module\">import init from '/app.js'; init();</script></head><body></body></html>",
    )
    .unwrap();
    std::fs::write(dist.join("app.js"), "export default function init() {}").unwrap();
    let mut cfg = Config::defaults();
    cfg.port = 0;
    cfg.database_path = dir.join("data").join("billing.sqlite");
    cfg.dist_dir = dist;
    cfg.toss_api_base = Some(sim_base);
    cfg.mount_simulator = false;
    cfg.toss_timeout = Duration::from_millis(500);
    cfg.toss_max_retries = 2;
    cfg.toss_backoff = Duration::from_millis(10);
    cfg.operator_token = Some(billing_server::config::Secret::new(TOKEN));
    edit(&mut cfg);
    let running = billing_server::start(cfg).await.unwrap();
    Env {
        base: running.base_url,
        sim,
        dir,
        http: reqwest::Client::new(),
    }
}

async fn setup() -> Env {
    setup_with(|_| {}).await
}

fn idem(auth_key: &str) -> String {
    format!("ak-{}", util::sha256_hex(auth_key.as_bytes()))
}

fn future_exp() -> String {
    let (y, _) = util::current_year_month_kst();
    format!("12{:02}", (y + 3) % 100)
}

impl Env {
    async fn customer(&self) -> Customer {
        let r = self
            .http
            .get(format!("{}/api/customer", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let body: Value = r.json().await.unwrap();
        Customer {
            cookie,
            key: body["customerKey"].as_str().unwrap().to_string(),
        }
    }

    async fn issue_raw(
        &self,
        c: &Customer,
        auth_key: &str,
        customer_key: &str,
    ) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/api/billing/issue", self.base))
            .header("cookie", &c.cookie)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("idempotency-key", idem(auth_key))
            .body(json!({ "authKey": auth_key, "customerKey": customer_key }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        let s = r.status();
        (s, r.json().await.unwrap())
    }

    async fn issue(&self, c: &Customer, auth_key: &str) -> (StatusCode, Value) {
        self.issue_raw(c, auth_key, &c.key).await
    }

    async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .post(format!("{}{}", self.base, path))
            .body(body.to_string());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        let s = r.status();
        let text = r.text().await.unwrap();
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn charge(&self, body: Value) -> (StatusCode, Value) {
        let auth = format!("Bearer {TOKEN}");
        self.post_raw(
            "/api/admin/charges",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &body.to_string(),
        )
        .await
    }

    fn db_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let p = self
                .dir
                .join("data")
                .join(format!("billing.sqlite{suffix}"));
            if let Ok(b) = std::fs::read(p) {
                all.extend(b);
            }
        }
        all
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_customer_issue_and_headers() {
    let env = setup().await;
    let c = env.customer().await;
    assert_eq!(c.key.len(), 36);
    // The same cookie gives the same customerKey; a new visitor another one.
    let again: Value = env
        .http
        .get(format!("{}/api/customer", env.base))
        .header("cookie", &c.cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["customerKey"], c.key.as_str());
    assert_ne!(env.customer().await.key, c.key);

    let auth_key = sandbox_auth_key(&c.key, "451842", "1234", &future_exp(), "PERSONAL");
    let (s, body) = env.issue(&c, &auth_key).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"card": {"company": "신한", "number": "451842******123*", "cardType": "신용", "ownerType": "개인"}})
    );
    assert_eq!(env.sim.call_count("issue"), 1);
    let minted = env.sim.minted_billing_keys();
    assert_eq!(minted.len(), 1);
    assert!(!body.to_string().contains(&minted[0]));

    // Default (non-sandbox) authKey: a default test card; corporate sandbox card.
    let (s, body) = env.issue(&c, "plain-auth-key_123").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["card"]["company"], "현대");
    let corp = sandbox_auth_key(&c.key, "536181", "7777", &future_exp(), "CORPORATE");
    let (_, body) = env.issue(&c, &corp).await;
    assert_eq!(body["card"]["company"], "삼성");
    assert_eq!(body["card"]["cardType"], "체크");
    assert_eq!(body["card"]["ownerType"], "법인");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_and_concurrent_duplicates_call_toss_once() {
    let env = setup().await;
    let c = env.customer().await;
    let (s1, b1) = env.issue(&c, "replay-key-1").await;
    let (s2, b2) = env.issue(&c, "replay-key-1").await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(b1, b2);
    assert_eq!(env.sim.call_count("issue"), 1);

    // Concurrent duplicates, with Toss slow enough that they overlap.
    env.sim.push_fault(Fault::Delay(Duration::from_millis(150)));
    let key = sandbox_auth_key(&c.key, "457972", "2222", &future_exp(), "PERSONAL");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, base, cookie, key, ck) = (
            env.http.clone(),
            env.base.clone(),
            c.cookie.clone(),
            key.clone(),
            c.key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/api/billing/issue"))
                .header("cookie", cookie)
                .header("content-type", "application/json")
                .header("idempotency-key", idem(&key))
                .body(json!({"authKey": key, "customerKey": ck}).to_string())
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut bodies = Vec::new();
    for t in tasks {
        let (s, b) = t.await.unwrap();
        assert_eq!(s, StatusCode::OK, "{b}");
        bodies.push(b);
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    assert_eq!(bodies[0]["card"]["company"], "KB국민");
    assert_eq!(env.sim.call_count("issue"), 2);
    assert_eq!(env.sim.minted_billing_keys().len(), 2);

    // A definitive Toss refusal is replayed too, without a new call.
    env.sim
        .push_fault(Fault::Code("REJECT_CARD_COMPANY".into()));
    let (s, b) = env.issue(&c, "refused-once").await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (403, Some("REJECT_CARD_COMPANY"))
    );
    let (s, b) = env.issue(&c, "refused-once").await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (403, Some("REJECT_CARD_COMPANY"))
    );
    assert_eq!(env.sim.call_count("issue"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_key_of_another_session_is_refused() {
    let env = setup().await;
    let alice = env.customer().await;
    let bob = env.customer().await;
    let (s, b) = env.issue_raw(&alice, "ak-for-bob", &bob.key).await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (403, Some("CUSTOMER_KEY_MISMATCH"))
    );
    let nobody = Customer {
        cookie: "billing_sid=forged-session-id-forged-session-id-0000".into(),
        key: alice.key.clone(),
    };
    let (s, b) = env.issue(&nobody, "ak-no-session").await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (403, Some("CUSTOMER_KEY_MISMATCH"))
    );
    // Bob cannot replay Alice's stored outcome either.
    let (s, _) = env.issue(&alice, "alice-ak").await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = env.issue_raw(&bob, "alice-ak", &bob.key).await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (403, Some("CUSTOMER_KEY_MISMATCH"))
    );
    assert_eq!(env.sim.call_count("issue"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_oversize_and_cross_site_requests() {
    let env = setup().await;
    let c = env.customer().await;
    let json_ct = ("content-type", "application/json");
    let cookie = ("cookie", c.cookie.as_str());
    type Case<'a> = (Vec<(&'a str, &'a str)>, String, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![json_ct, cookie],
            "{not json".into(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            "[1,2]".into(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "x"}).to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": 5, "customerKey": c.key}).to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![("content-type", "text/plain"), cookie],
            json!({"authKey": "x", "customerKey": c.key}).to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "a".repeat(301), "customerKey": c.key}).to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "x", "customerKey": "k".repeat(51)}).to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "x", "customerKey": "bad key!"}).to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "x", "customerKey": c.key, "pad": "p".repeat(20_000)}).to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie, ("idempotency-key", "ak-0000")],
            json!({"authKey": "x", "customerKey": c.key}).to_string(),
            422,
            "IDEMPOTENCY_KEY_MISMATCH",
        ),
        (
            vec![json_ct, cookie, ("origin", "https://evil.example")],
            json!({"authKey": "x", "customerKey": c.key}).to_string(),
            403,
            "FORBIDDEN_ORIGIN",
        ),
        (
            vec![json_ct, cookie, ("sec-fetch-site", "cross-site")],
            json!({"authKey": "x", "customerKey": c.key}).to_string(),
            403,
            "FORBIDDEN_ORIGIN",
        ),
    ];
    for (headers, body, status, code) in cases {
        let (s, b) = env.post_raw("/api/billing/issue", &headers, &body).await;
        assert_eq!(
            (s.as_u16(), b["code"].as_str()),
            (status, Some(code)),
            "{headers:?} {}",
            &body[..body.len().min(80)]
        );
        assert!(b["message"].is_string());
    }
    assert_eq!(env.sim.call_count("issue"), 0);
    // Same-origin Origin is fine; an Idempotency-Key is optional for other clients.
    let origin = env.base.clone();
    let (s, b) = env
        .post_raw(
            "/api/billing/issue",
            &[json_ct, cookie, ("origin", &origin)],
            &json!({"authKey": "x", "customerKey": c.key}).to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Unknown API paths answer JSON 404.
    let r = env
        .http
        .get(format!("{}/api/nope", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toss_5xx_is_retried_then_reported_as_unavailable() {
    let env = setup().await;
    let c = env.customer().await;
    env.sim.fail_next(2, 503);
    let (s, b) = env.issue(&c, "flaky-1").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(env.sim.call_count("issue"), 3);
    // All attempts carried the same Idempotency-Key.
    let keys: Vec<_> = env
        .sim
        .calls()
        .iter()
        .map(|c| c.idempotency_key.clone())
        .collect();
    assert!(keys
        .iter()
        .all(|k| k.as_deref() == Some(idem("flaky-1").as_str())));

    // Still failing after the server's retries: 502, nothing stored, so the browser's retry works.
    env.sim.fail_next(3, 500);
    let (s, b) = env.issue(&c, "flaky-2").await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (502, Some("TOSS_UNAVAILABLE"))
    );
    assert_eq!(env.sim.call_count("issue"), 6);
    let (s, _) = env.issue(&c, "flaky-2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(env.sim.call_count("issue"), 7);

    // A forced FAILED_INTERNAL_SYSTEM_PROCESSING (500) is retried as well.
    env.sim
        .push_fault(Fault::Code("FAILED_INTERNAL_SYSTEM_PROCESSING".into()));
    let (s, _) = env.issue(&c, "flaky-3").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(env.sim.call_count("issue"), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toss_timeout_then_browser_retry_gets_the_first_billing_key() {
    let env = setup().await;
    let c = env.customer().await;
    env.sim
        .push_fault(Fault::Delay(Duration::from_millis(1200)));
    let started = std::time::Instant::now();
    let (s, b) = env.issue(&c, "slow-1").await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (504, Some("TOSS_TIMEOUT"))
    );
    assert!(started.elapsed() < Duration::from_millis(1100));
    // Toss went on and issued the key; the retry (same Idempotency-Key) gets that answer.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (s, b) = env.issue(&c, "slow-1").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(env.sim.minted_billing_keys().len(), 1);
    assert_eq!(env.sim.call_count("issue"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toss_errors_map_to_browser_answers() {
    let env = setup().await;
    let c = env.customer().await;
    for code in [
        "INVALID_CARD_NUMBER",
        "INVALID_CARD_EXPIRATION",
        "INVALID_STOPPED_CARD",
        "REJECT_CARD_COMPANY",
        "EXCEED_MAX_AUTH_COUNT",
        "NOT_SUPPORTED_METHOD",
        "NOT_MATCHES_CUSTOMER_KEY",
        "INVALID_REQUEST",
    ] {
        env.sim.push_fault(Fault::Code(code.into()));
        let (s, b) = env.issue(&c, &format!("err-{code}")).await;
        assert!(s.is_client_error(), "{code}: {s}");
        assert_eq!(b["code"], code);
        assert!(b["message"].is_string());
        assert_eq!(
            b.as_object().unwrap().len(),
            2,
            "only code and message: {b}"
        );
    }
    // A rejected secret key is the merchant's problem: 500 INTERNAL_ERROR, not stored.
    env.sim.push_fault(Fault::Code("UNAUTHORIZED_KEY".into()));
    let (s, b) = env.issue(&c, "err-auth").await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (500, Some("INTERNAL_ERROR"))
    );
    let (s, _) = env.issue(&c, "err-auth").await;
    assert_eq!(s, StatusCode::OK);

    // The simulator's sandbox test cards, end to end.
    let exp = future_exp();
    let cases = [
        (
            sandbox_auth_key(&c.key, "433012", "4001", &exp, "PERSONAL"),
            "INVALID_STOPPED_CARD",
        ),
        (
            sandbox_auth_key(&c.key, "433012", "4002", &exp, "PERSONAL"),
            "REJECT_CARD_COMPANY",
        ),
        (
            sandbox_auth_key(&c.key, "433012", "4003", &exp, "PERSONAL"),
            "INVALID_CARD_NUMBER",
        ),
        (
            sandbox_auth_key(&c.key, "433012", "1234", "0121", "PERSONAL"),
            "INVALID_CARD_EXPIRATION",
        ),
        (
            sandbox_auth_key("someone-else", "433012", "1234", &exp, "PERSONAL"),
            "NOT_MATCHES_CUSTOMER_KEY",
        ),
    ];
    for (key, code) in cases {
        let (s, b) = env.issue(&c, &key).await;
        assert!(s.is_client_error(), "{code}: {s}");
        assert_eq!(b["code"], code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_toss_is_unavailable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = setup_with(|c| c.toss_api_base = Some(format!("http://127.0.0.1:{port}"))).await;
    let c = env.customer().await;
    let (s, b) = env.issue(&c, "nowhere").await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (502, Some("TOSS_UNAVAILABLE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_charges_with_retry_and_idempotency() {
    let env = setup().await;
    let c = env.customer().await;
    let body = json!({"customerKey": c.key, "amount": 9900, "orderName": "월간 구독"});

    // Before a card is registered.
    let (s, b) = env.charge(body.clone()).await;
    assert_eq!(
        (s.as_u16(), b["code"].as_str()),
        (404, Some("NO_BILLING_KEY"))
    );
    let (s, _) = env.issue(&c, "charge-card").await;
    assert_eq!(s, StatusCode::OK);

    // Operator authentication.
    let (s, _) = env
        .post_raw(
            "/api/admin/charges",
            &[("content-type", "application/json")],
            &body.to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = env
        .post_raw(
            "/api/admin/charges",
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer operator-token-for-tests-0124"),
            ],
            &body.to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // One 500, then success: the retry reuses the attempt's Idempotency-Key.
    env.sim.fail_next(1, 500);
    let (s, b) = env.charge(body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "DONE");
    assert_eq!(b["attempts"], 2);
    assert_eq!(b["amount"], 9900);
    assert!(b["paymentKey"].as_str().unwrap().starts_with("tbill"));
    assert!(!b.to_string().contains(&env.sim.minted_billing_keys()[0]));
    let charges: Vec<_> = env
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.api == "charge")
        .collect();
    assert_eq!(charges.len(), 2);
    assert_eq!(charges[0].idempotency_key, charges[1].idempotency_key);
    let first_key = charges[0].idempotency_key.clone().unwrap();

    // The next charge is a new attempt with a fresh key and orderId.
    let (s, b2) = env.charge(body.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(b2["orderId"], b["orderId"]);
    let last = env.sim.calls().last().cloned().unwrap();
    assert_ne!(last.idempotency_key.unwrap(), first_key);

    // Timeout: outcome unknown; retrying with the same orderId reuses its Idempotency-Key and
    // gets Toss's first answer (no DUPLICATED_ORDER_ID, no double charge).
    env.sim
        .push_fault(Fault::Delay(Duration::from_millis(1200)));
    let (s, b3) = env.charge(json!({"customerKey": c.key, "amount": 9900, "orderName": "월간 구독", "orderId": "order-timeout-1"})).await;
    assert_eq!(
        (s.as_u16(), b3["status"].as_str()),
        (504, Some("UNKNOWN")),
        "{b3}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (s, b4) = env.charge(json!({"customerKey": c.key, "amount": 9900, "orderName": "월간 구독", "orderId": "order-timeout-1"})).await;
    assert_eq!(s, StatusCode::OK, "{b4}");
    assert_eq!(b4["status"], "DONE");
    let timeout_calls: Vec<_> = env.sim.calls().into_iter().rev().take(2).collect();
    assert_eq!(
        timeout_calls[0].idempotency_key,
        timeout_calls[1].idempotency_key
    );
    // Replaying a finished orderId answers the stored summary without calling Toss.
    let n = env.sim.call_count("charge");
    let (s, b5) = env.charge(json!({"customerKey": c.key, "amount": 9900, "orderName": "월간 구독", "orderId": "order-timeout-1"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b5["paymentKey"], b4["paymentKey"]);
    assert_eq!(env.sim.call_count("charge"), n);
    let (s, b6) = env.charge(json!({"customerKey": c.key, "amount": 100, "orderName": "x", "orderId": "order-timeout-1"})).await;
    assert_eq!(
        (s.as_u16(), b6["code"].as_str()),
        (409, Some("ORDER_ID_CONFLICT"))
    );

    // Toss refusals are recorded as FAILED.
    env.sim
        .push_fault(Fault::Code("REJECT_CARD_PAYMENT".into()));
    let (s, b7) = env.charge(body.clone()).await;
    assert_eq!(
        (s.as_u16(), b7["status"].as_str(), b7["code"].as_str()),
        (422, Some("FAILED"), Some("REJECT_CARD_PAYMENT"))
    );
    // A card whose payments are rejected (sandbox last4 5001).
    let d = env.customer().await;
    let (s, _) = env
        .issue(
            &d,
            &sandbox_auth_key(&d.key, "540926", "5001", &future_exp(), "PERSONAL"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b8) = env
        .charge(json!({"customerKey": d.key, "amount": 1000, "orderName": "x"}))
        .await;
    assert_eq!(
        (s.as_u16(), b8["code"].as_str()),
        (422, Some("REJECT_CARD_PAYMENT"))
    );
    assert_eq!(b8["card"]["company"], "롯데");

    // Bad charge requests.
    for bad in [
        json!({"customerKey": c.key, "amount": 0, "orderName": "x"}),
        json!({"customerKey": c.key, "amount": 10.5, "orderName": "x"}),
        json!({"customerKey": c.key, "amount": "100", "orderName": "x"}),
        json!({"customerKey": c.key, "amount": 100, "orderName": "x".repeat(101)}),
        json!({"customerKey": c.key, "amount": 100, "orderName": "x", "orderId": "bad id!"}),
    ] {
        let (s, b) = env.charge(bad).await;
        assert_eq!(
            (s.as_u16(), b["code"].as_str()),
            (400, Some("INVALID_REQUEST"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoint_is_disabled_without_token() {
    let env = setup_with(|c| c.operator_token = None).await;
    let (s, _) = env
        .post_raw(
            "/api/admin/charges",
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer anything-at-all-123"),
            ],
            "{}",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_never_holds_a_plaintext_billing_key() {
    let env = setup().await;
    let mut auth_keys = Vec::new();
    for i in 0..3 {
        let c = env.customer().await;
        let ak = format!("plaintext-check-authkey-{i}");
        let (s, _) = env.issue(&c, &ak).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = env
            .charge(json!({"customerKey": c.key, "amount": 500, "orderName": "check"}))
            .await;
        assert_eq!(s, StatusCode::OK);
        auth_keys.push(ak);
    }
    let bytes = env.db_bytes();
    assert!(bytes.len() > 4096);
    let minted = env.sim.minted_billing_keys();
    assert_eq!(minted.len(), 3);
    for bk in &minted {
        assert!(
            !contains(&bytes, bk.as_bytes()),
            "plaintext billing key in the database"
        );
        assert!(!contains(&bytes, bk.trim_end_matches('=').as_bytes()));
    }
    for ak in &auth_keys {
        assert!(
            !contains(&bytes, ak.as_bytes()),
            "authKey stored in the database"
        );
    }
    // The demo encryption key file exists with 0600 permissions.
    let key_file = env.dir.join("data").join("billing-key-encryption.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_is_served_with_security_headers() {
    let env = setup().await;
    for path in [
        "/",
        "/billing/success?customerKey=x&authKey=y",
        "/billing/fail",
    ] {
        let r = env
            .http
            .get(format!("{}{}", env.base, path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        assert_eq!(h["cross-origin-opener-policy"], "same-origin-allow-popups");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp
            .contains("script-src 'self' 'wasm-unsafe-eval' https://js.tosspayments.com 'sha256-"));
        assert!(
            !csp.contains("'unsafe-inline' https://js")
                && !csp.contains("script-src 'unsafe-inline'")
        );
        assert!(csp.contains("frame-src 'self' https://*.tosspayments.com"));
        assert!(csp.contains("connect-src 'self' https://*.tosspayments.com"));
        assert!(r.text().await.unwrap().contains("<script type=\"module\">"));
    }
    let r = env
        .http
        .get(format!("{}/app.js", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    for path in ["/missing.js", "/.hidden"] {
        let r = env
            .http
            .get(format!("{}{}", env.base, path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Traversal attempts, sent raw (HTTP clients normalise `..` away).
    for path in [
        "/%2e%2e/data/billing.sqlite",
        "/../data/billing.sqlite",
        "/%2e%2e/%2e%2e/etc/passwd",
    ] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = env.base.trim_start_matches("http://").to_string();
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.unwrap();
        let text = String::from_utf8_lossy(&resp);
        assert!(
            text.starts_with("HTTP/1.1 404") || text.starts_with("HTTP/1.1 400"),
            "{path}: {}",
            &text[..40]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_validates_like_the_documented_api() {
    let sim = Simulator::new();
    let base = sim.serve().await.unwrap();
    let http = reqwest::Client::new();
    let auth = billing_server::toss::basic_auth(billing_server::config::DOCS_TEST_SECRET_KEY);
    let post = |path: String, body: Value, headers: Vec<(&'static str, String)>| {
        let mut rb = http.post(format!("{base}{path}")).json(&body);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let a = || vec![("authorization", auth.clone())];
    let issue = "/v1/billing/authorizations/issue".to_string();

    // Authentication.
    let (s, b) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        vec![],
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("UNAUTHORIZED_KEY")));
    let ck_auth = billing_server::toss::basic_auth("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq");
    let (s, _) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        vec![("authorization", ck_auth)],
    )
    .await;
    assert_eq!(s, 401);
    let no_colon = format!(
        "Basic {}",
        util::b64(b"test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R")
    );
    let (s, _) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        vec![("authorization", no_colon)],
    )
    .await;
    assert_eq!(s, 401);

    // Test-code header.
    let mut h = a();
    h.push(("tosspayments-test-code", "INVALID_STOPPED_CARD".into()));
    let (s, b) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        h,
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("INVALID_STOPPED_CARD")));
    let mut h = a();
    h.push((
        "tosspayments-test-code",
        "FAILED_INTERNAL_SYSTEM_PROCESSING".into(),
    ));
    let (s, _) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        h,
    )
    .await;
    assert_eq!(s, 500);

    // Validation.
    for bad in [
        json!({"authKey": "a1"}),
        json!({"authKey": "a1", "customerKey": "ck-1", "extra": 1}),
        json!({"authKey": 1, "customerKey": "ck-1"}),
        json!({"authKey": "a1", "customerKey": "c"}),
    ] {
        let (s, b) = post(issue.clone(), bad, a()).await;
        assert_eq!((s, b["code"].as_str()), (400, Some("INVALID_REQUEST")));
    }

    // Issue, one-time authKey, Idempotency-Key replay.
    let mut h = a();
    h.push(("idempotency-key", "idem-issue-1".into()));
    let (s, first) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        h.clone(),
    )
    .await;
    assert_eq!(s, 200);
    for k in [
        "mId",
        "customerKey",
        "authenticatedAt",
        "method",
        "billingKey",
        "card",
        "cardCompany",
        "cardNumber",
    ] {
        assert!(first.get(k).is_some(), "{k} missing");
    }
    assert_eq!(first["method"], "카드");
    for k in [
        "issuerCode",
        "acquirerCode",
        "number",
        "cardType",
        "ownerType",
    ] {
        assert!(first["card"].get(k).is_some(), "card.{k} missing");
    }
    let (s, replay) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        h,
    )
    .await;
    assert_eq!((s, &replay), (200, &first));
    let (s, b) = post(
        issue.clone(),
        json!({"authKey": "a1", "customerKey": "ck-1"}),
        a(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("INVALID_AUTH_KEY")));

    // Charges.
    let bk = first["billingKey"].as_str().unwrap().to_string();
    let enc: String = bk
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let path = format!("/v1/billing/{enc}");
    let ok_body = json!({"customerKey": "ck-1", "amount": 4900, "orderId": "order-0001", "orderName": "구독"});
    let (s, p) = post(path.clone(), ok_body.clone(), a()).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (p["status"].as_str(), p["type"].as_str()),
        (Some("DONE"), Some("BILLING"))
    );
    assert_eq!(
        (p["orderId"].as_str(), p["totalAmount"].as_i64()),
        (Some("order-0001"), Some(4900))
    );
    assert!(p["approvedAt"].as_str().unwrap().ends_with("+09:00"));
    assert!(p["card"]["number"].is_string() && p["paymentKey"].is_string());
    let (s, b) = post(path.clone(), ok_body.clone(), a()).await;
    assert_eq!((s, b["code"].as_str()), (400, Some("DUPLICATED_ORDER_ID")));
    let cases = [
        (
            json!({"customerKey": "ck-2", "amount": 4900, "orderId": "order-0002", "orderName": "x"}),
            "NOT_MATCHES_CUSTOMER_KEY",
        ),
        (
            json!({"customerKey": "ck-1", "amount": 49.5, "orderId": "order-0003", "orderName": "x"}),
            "INVALID_REQUEST",
        ),
        (
            json!({"customerKey": "ck-1", "amount": -5, "orderId": "order-0004", "orderName": "x"}),
            "INVALID_REQUEST",
        ),
        (
            json!({"customerKey": "ck-1", "amount": 50, "orderId": "order-0005", "orderName": "x"}),
            "BELOW_MINIMUM_AMOUNT",
        ),
        (
            json!({"customerKey": "ck-1", "amount": 4900, "orderId": "ord", "orderName": "x"}),
            "INVALID_REQUEST",
        ),
        (
            json!({"customerKey": "ck-1", "amount": 4900, "orderId": "order-0006", "orderName": "x".repeat(101)}),
            "INVALID_REQUEST",
        ),
        (
            json!({"customerKey": "ck-1", "amount": 4900, "orderId": "order-0007", "orderName": "x", "bogus": true}),
            "INVALID_REQUEST",
        ),
    ];
    for (body, code) in cases {
        let (s, b) = post(path.clone(), body, a()).await;
        assert!((400..500).contains(&s));
        assert_eq!(b["code"], code);
    }
    let (s, b) = post("/v1/billing/unknownBillingKey".into(), ok_body, a()).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("INVALID_BILL_KEY_REQUEST"))
    );
}

/// The build has two documents: `index.html` preloads the registration bundle, `return.html` the
/// return bundle. The success and fail paths the page's configuration names get `return.html`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_and_fail_paths_get_the_return_document() {
    let page = |preload: &str, config: &str| {
        format!(
            "<!doctype html><html><head><script type=\"application/json\" id=\"toss-billing-config\">{config}</script>\
             <link rel=\"modulepreload\" href=\"/{preload}.js\"></head><body></body></html>"
        )
    };
    let document_at = |env: &Env, path: &'static str| {
        let (http, url) = (env.http.clone(), format!("{}{}", env.base, path));
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let text = r.text().await.unwrap();
            if text.contains("/return.js") {
                "return"
            } else {
                "index"
            }
        }
    };

    // Default paths.
    let env = setup().await;
    let dist = env.dir.join("dist");
    std::fs::write(
        dist.join("index.html"),
        page("registration", "{\"clientKey\": \"test_ck_x\"}"),
    )
    .unwrap();
    std::fs::write(
        dist.join("return.html"),
        page("return", "{\"clientKey\": \"test_ck_x\"}"),
    )
    .unwrap();
    assert_eq!(document_at(&env, "/").await, "index");
    assert_eq!(document_at(&env, "/shop/plans").await, "index");
    assert_eq!(
        document_at(&env, "/billing/success?authKey=a&customerKey=c").await,
        "return"
    );
    assert_eq!(document_at(&env, "/billing/success/").await, "return");
    assert_eq!(document_at(&env, "/billing/fail?code=X").await, "return");
    assert_eq!(document_at(&env, "/billing/failures").await, "index");

    // Configured paths (with their own query); the defaults are then ordinary routes.
    std::fs::write(
        dist.join("index.html"),
        page(
            "registration",
            "{\"successPath\": \"/done?plan=pro\", \"failPath\": \"/oops\"}",
        ),
    )
    .unwrap();
    assert_eq!(
        document_at(&env, "/done?plan=pro&authKey=a").await,
        "return"
    );
    assert_eq!(document_at(&env, "/oops").await, "return");
    assert_eq!(document_at(&env, "/billing/success").await, "index");

    // No return.html (a build without it): index.html everywhere.
    std::fs::remove_file(dist.join("return.html")).unwrap();
    assert_eq!(document_at(&env, "/oops").await, "index");
}
