//! Who the customer is: visitors cost no rows, sessions expire and rotate, cookies are as safe as
//! the transport allows, and a merchant's own login replaces the cookie.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{good_card, Db, Env};
use crate::{stories, BOTH};
use billing_server::settings::IdentitySource;

stories! {
    BOTH => visitors_get_a_signed_cookie_and_no_rows_until_a_card_is_registered,
    BOTH => sessions_end_when_idle_and_when_old_and_rotate_daily,
    BOTH => cookies_are_secure_and_host_prefixed_over_https,
    BOTH => a_flood_of_cookieless_requests_is_limited_and_writes_nothing,
    BOTH => the_merchants_login_is_the_customer_not_the_cookie,
    BOTH => a_subscriber_is_still_known_on_the_account_api_days_later,
}

const DAY_MS: i64 = 86_400_000;

async fn visitors_get_a_signed_cookie_and_no_rows_until_a_card_is_registered(db: Db) {
    let env = Env::start(db).await;
    let mut keys = std::collections::HashSet::new();
    for _ in 0..50 {
        let r = env.http.get(env.url("/api/customer")).send().await.unwrap();
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("billing_sid=v1."), "{cookie}");
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Path=/")
        );
        assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
        let body: serde_json::Value = r.json().await.unwrap();
        keys.insert(body["customerKey"].as_str().unwrap().to_owned());
    }
    assert_eq!(keys.len(), 50);
    assert_eq!(
        env.store.count_customers_and_sessions().await.unwrap(),
        (0, 0),
        "no rows for visitors"
    );
    // The same visitor keeps its key.
    let c = env.visitor().await;
    let r = env
        .http
        .get(env.url("/api/customer"))
        .header("cookie", &c.cookie)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["customerKey"],
        c.key.as_str()
    );
    // A forged cookie is nobody.
    let forged = c
        .cookie
        .replace(&c.key, "00000000-0000-4000-8000-000000000000");
    let (status, _) = env
        .hand_off_as(
            &forged,
            &good_card("00000000-0000-4000-8000-000000000000"),
            "00000000-0000-4000-8000-000000000000",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A card is registered: the next visit gets a stored session (the hand-off's answer gave
    // one already; this client, unlike a browser, did not keep it).
    assert_eq!(
        env.hand_off_until_final(&c, &good_card(&c.key)).await.0,
        StatusCode::OK
    );
    let (customers, sessions_before) = env.store.count_customers_and_sessions().await.unwrap();
    assert_eq!(customers, 1);
    assert!(
        sessions_before >= 1,
        "the hand-off started a stored session"
    );
    let r = env
        .http
        .get(env.url("/api/customer"))
        .header("cookie", &c.cookie)
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("billing_sid=s1."), "{cookie}");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["customerKey"],
        c.key.as_str()
    );
    assert_eq!(
        env.store.count_customers_and_sessions().await.unwrap(),
        (1, sessions_before + 1)
    );
}

async fn stored_session(env: &Env) -> (String, String) {
    let c = env.customer_with_card().await;
    let r = env
        .http
        .get(env.url("/api/customer"))
        .header("cookie", &c.cookie)
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (cookie, c.key)
}

async fn key_of(env: &Env, cookie: &str) -> (String, Option<String>) {
    let r = env
        .http
        .get(env.url("/api/customer"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let set = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    (
        r.json::<serde_json::Value>().await.unwrap()["customerKey"]
            .as_str()
            .unwrap()
            .to_owned(),
        set,
    )
}

async fn sessions_end_when_idle_and_when_old_and_rotate_daily(db: Db) {
    let env = Env::start_with(db, |s| {
        s.session_idle = Duration::from_secs(3 * 86_400);
        s.session_max_age = Duration::from_secs(10 * 86_400);
    })
    .await;
    // Idle for longer than 3 days: over.
    let (cookie, key) = stored_session(&env).await;
    assert_eq!(key_of(&env, &cookie).await.0, key);
    env.clock.advance(3 * DAY_MS + 1000).unwrap();
    assert_ne!(key_of(&env, &cookie).await.0, key, "an idle session ended");

    // Rotation: a day later the cookie is replaced; the old one works a minute more, then not.
    let (cookie, key) = stored_session(&env).await;
    env.clock.advance(DAY_MS + 1000).unwrap();
    let (same, rotated) = key_of(&env, &cookie).await;
    assert_eq!(same, key);
    let rotated = rotated.expect("a new cookie");
    assert_ne!(rotated, cookie);
    assert_eq!(
        key_of(&env, &cookie).await.0,
        key,
        "grace for requests in flight"
    );
    env.clock.advance(61_000).unwrap();
    assert_ne!(key_of(&env, &cookie).await.0, key, "the old token ended");
    assert_eq!(key_of(&env, &rotated).await.0, key);

    // Used every day, still over after 10 days.
    let mut current = rotated;
    for _ in 0..10 {
        env.clock.advance(DAY_MS + 1000).unwrap();
        let (k, new) = key_of(&env, &current).await;
        if k != key {
            break;
        }
        if let Some(new) = new {
            current = new;
        }
    }
    assert_ne!(
        key_of(&env, &current).await.0,
        key,
        "the absolute lifetime ended it"
    );
    // A visitor's signed cookie lasts a day.
    let visitor = env.visitor().await;
    env.clock.advance(DAY_MS + 1000).unwrap();
    assert_ne!(key_of(&env, &visitor.cookie).await.0, visitor.key);
}

/// The cookie a browser keeps after an answer: the new one if the answer set one.
fn adopt(cookie: &mut String, headers: &reqwest::header::HeaderMap) {
    if let Some(set) = headers.get("set-cookie") {
        *cookie = set.to_str().unwrap().split(';').next().unwrap().to_owned();
    }
}

/// A customer registers on the checkout, then only ever uses the account page's API (never
/// `GET /api/customer`): days later they are still known, their session rotating as it is used.
async fn a_subscriber_is_still_known_on_the_account_api_days_later(db: Db) {
    let env = Env::start(db).await;
    let visitor = env.visitor().await;
    let mut cookie = visitor.cookie.clone();
    let auth_key = good_card(&visitor.key);
    let body = json!({ "authKey": auth_key, "customerKey": visitor.key }).to_string();
    let idempotency_key = billing_server::ids::exchange_key(&auth_key);
    let mut registered = false;
    for _ in 0..60 {
        let (status, answer, headers) = env
            .post(
                "/api/billing/issue",
                &[
                    ("cookie", &cookie),
                    ("content-type", "application/json"),
                    ("idempotency-key", &idempotency_key),
                ],
                &body,
            )
            .await;
        adopt(&mut cookie, &headers);
        if status == StatusCode::OK {
            registered = true;
            break;
        }
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(registered, "the hand-off never turned final");
    assert!(
        cookie.starts_with("billing_sid=s1."),
        "registered: a stored session ({cookie})"
    );

    let account = |cookie: String| {
        let env = &env;
        async move {
            let r = env
                .http
                .get(env.url("/api/subscription/charges"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status(), r.headers().clone())
        }
    };
    // Two days on (a visitor's cookie would be over; the session is due for rotation).
    for day in [2, 4, 6] {
        env.clock.advance(2 * DAY_MS).unwrap();
        let (status, headers) = account(cookie.clone()).await;
        assert_eq!(status, StatusCode::OK, "day {day}: still known");
        let before = cookie.clone();
        adopt(&mut cookie, &headers);
        assert_ne!(
            cookie, before,
            "day {day}: the session rotated as it was used"
        );
    }
    // The account page asks four things at once (its preloads), each with the cookie due for
    // rotation: none is refused, one of them rotates it (the others go on with the old token's
    // minute of grace), and the new cookie the browser keeps lives on. Before: each rotated,
    // one inherited the old token's minute of grace as its whole life, and a browser that kept
    // that cookie was signed out.
    for round in 0..3 {
        env.clock.advance(2 * DAY_MS).unwrap();
        let paths = [
            "/api/subscription",
            "/api/subscription/charges",
            "/api/plans",
            "/api/subscription/cancel/preview",
        ];
        let answers = futures::future::join_all(paths.iter().map(|path| {
            let (env, cookie) = (&env, cookie.clone());
            async move {
                let r = env
                    .http
                    .get(env.url(path))
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap();
                let (status, headers) = (r.status(), r.headers().clone());
                (path, status, headers, r.text().await.unwrap())
            }
        }))
        .await;
        let mut rotated = Vec::new();
        for (path, status, headers, body) in answers {
            assert_ne!(
                status,
                StatusCode::UNAUTHORIZED,
                "round {round}: {path}: {body}"
            );
            let mut next = cookie.clone();
            adopt(&mut next, &headers);
            if next != cookie {
                rotated.push(next);
            }
        }
        assert_eq!(rotated.len(), 1, "round {round}: rotated once: {rotated:?}");
        cookie = rotated.pop().unwrap();
        // Hours later (the old token's grace long over), the kept cookie still works.
        env.clock.advance(DAY_MS / 2).unwrap();
        assert_eq!(
            account(cookie.clone()).await.0,
            StatusCode::OK,
            "round {round}"
        );
    }
    // Unused for longer than the idle limit (7 days): over.
    env.clock.advance(8 * DAY_MS).unwrap();
    assert_eq!(account(cookie).await.0, StatusCode::UNAUTHORIZED);
}

async fn cookies_are_secure_and_host_prefixed_over_https(db: Db) {
    let env = Env::start_with(db, |s| s.trust_proxy_headers = true).await;
    let r = env
        .http
        .get(env.url("/api/customer"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-billing_sid=")
            && cookie.contains("; Secure")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "__Host- cookies have no Domain");
    let env = Env::start_with(db, |s| s.cookie_secure = true).await;
    let r = env.http.get(env.url("/api/customer")).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-billing_sid=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    // The secure cookie is read back.
    let c = cookie.split(';').next().unwrap();
    let key: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        key_of(&env, c).await.0,
        key["customerKey"].as_str().unwrap()
    );
}

async fn a_flood_of_cookieless_requests_is_limited_and_writes_nothing(db: Db) {
    let env = Env::start_with(db, |s| {
        s.limits.session_per_minute = 60;
        s.limits.session_burst = 5;
        s.limits.handoff_per_minute = 60;
        s.limits.handoff_burst = 3;
    })
    .await;
    let mut limited = 0;
    for _ in 0..30 {
        let r = env.http.get(env.url("/api/customer")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().get("retry-after").is_some());
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["code"], "TOO_MANY_REQUESTS");
            limited += 1;
        }
    }
    assert!(
        limited >= 24,
        "only the burst passes: {limited} of 30 limited"
    );
    assert_eq!(
        env.store.count_customers_and_sessions().await.unwrap(),
        (0, 0)
    );
    let mut hand_offs_limited = 0;
    for _ in 0..10 {
        let (status, _, _) = env
            .post(
                "/api/billing/issue",
                &[("content-type", "application/json")],
                &json!({"authKey": "a", "customerKey": "ab"}).to_string(),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            hand_offs_limited += 1;
        }
    }
    assert!(hand_offs_limited >= 6, "{hand_offs_limited}");
}

async fn the_merchants_login_is_the_customer_not_the_cookie(db: Db) {
    let env = Env::start_with(db, |s| {
        s.identity = IdentitySource::TrustedHeader("x-shop-user".into())
    })
    .await;
    let r = env.http.get(env.url("/api/customer")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        "NOT_SIGNED_IN"
    );
    let key = |user: &'static str| {
        let env = &env;
        async move {
            let r = env
                .http
                .get(env.url("/api/customer"))
                .header("x-shop-user", user)
                .send()
                .await
                .unwrap();
            assert!(
                r.headers().get("set-cookie").is_none(),
                "no cookie sessions with a login"
            );
            r.json::<serde_json::Value>().await.unwrap()["customerKey"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let alice = key("user-1001").await;
    assert_eq!(key("user-1001").await, alice);
    assert_ne!(key("user-2002").await, alice);
    let r = env
        .http
        .post(env.url("/api/billing/issue"))
        .header("x-shop-user", "user-1001")
        .json(&json!({"authKey": good_card(&alice), "customerKey": alice}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = env
        .http
        .post(env.url("/api/billing/issue"))
        .header("x-shop-user", "user-2002")
        .json(&json!({"authKey": good_card(&alice), "customerKey": alice}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "another signed-in user cannot use Alice's key"
    );
}
