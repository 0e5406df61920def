//! The hand-off (`docs/handoff-contract.md` §2): one billing key per authKey, whatever Toss or the
//! browser does; only final answers are final.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{good_card, Db, Env};
use crate::{stories, BOTH, SQLITE};
use toss_sim::sandbox_auth_key;

stories! {
    BOTH => a_card_is_registered_once_and_every_replay_gets_the_same_answer,
    BOTH => concurrent_duplicates_make_one_toss_call,
    BOTH => a_toss_answer_without_display_fields_still_stores_the_billing_key,
    BOTH => final_refusals_are_stored_and_replayed,
    BOTH => unclear_toss_answers_are_never_final,
    BOTH => a_slow_toss_answers_pending_and_the_exchange_finishes_anyway,
    BOTH => an_aborted_request_does_not_cancel_the_exchange,
    BOTH => toss_refusing_our_credentials_keeps_the_exchange_pending,
    BOTH => another_customers_key_or_authkey_is_refused,
    BOTH => malformed_requests_get_documented_json_errors,
    SQLITE => the_database_never_holds_a_billing_key_or_authkey_in_clear,
}

async fn a_card_is_registered_once_and_every_replay_gets_the_same_answer(db: Db) {
    let env = Env::start(db).await;
    let c = env.visitor().await;
    let auth_key = sandbox_auth_key(&c.key, "451842", "1234", "1299", "CORPORATE");
    let (status, body) = env.hand_off(&c, &auth_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"card": {"company": "신한", "number": "451842******123*", "cardType": "신용", "ownerType": "법인"}})
    );
    for _ in 0..3 {
        assert_eq!(
            env.hand_off(&c, &auth_key).await,
            (StatusCode::OK, body.clone())
        );
    }
    assert_eq!(env.sim.count("issue", "processed").await, 1);
    assert_eq!(
        env.sim.calls("issue").await.len(),
        1,
        "replays never reach Toss"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM billing_keys").await, 1);
    assert_eq!(env.count("SELECT COUNT(*) FROM exchanges WHERE status = 'REGISTERED' AND sealed_auth_key IS NULL").await, 1);
}

async fn concurrent_duplicates_make_one_toss_call(db: Db) {
    let env = Env::start(db).await;
    env.sim.rule(json!({"api": "issue", "delayMs": 300}));
    let c = env.visitor().await;
    let auth_key = good_card(&c.key);
    let answers = futures_join(20, || env.hand_off_until_final(&c, &auth_key)).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body, &answers[0].1);
    }
    assert_eq!(env.sim.calls("issue").await.len(), 1, "one call to Toss");
    assert_eq!(env.count("SELECT COUNT(*) FROM billing_keys").await, 1);
}

/// Runs `n` copies of a request at once.
pub async fn futures_join<T, F, Fut>(n: usize, make: F) -> Vec<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    futures::future::join_all((0..n).map(|_| make())).await
}

async fn a_toss_answer_without_display_fields_still_stores_the_billing_key(db: Db) {
    // Toss answering 200 with a billingKey but no cardCompany/cardNumber used to be a 500, the key
    // never stored, and every retry got Toss's replay of the same body: the key was lost for good.
    let env = Env::start(db).await;
    env.sim
        .rule(json!({"api": "issue", "omitCardFields": true}));
    let c = env.visitor().await;
    let auth_key = good_card(&c.key);
    let (status, body) = env.hand_off(&c, &auth_key).await;
    assert_eq!(
        (status, body.clone()),
        (StatusCode::OK, json!({"card": {}})),
        "{body}"
    );
    assert_eq!(env.hand_off(&c, &auth_key).await, (StatusCode::OK, body));
    assert_eq!(env.store.count_billing_keys(&c.key).await.unwrap(), 1);
    let (status, charge) = env
        .charge(json!({"orderId": "order-no-display-1", "customerKey": c.key, "amount": 9900, "orderName": "월간 구독"}))
        .await;
    assert_eq!(status, StatusCode::OK, "the stored key charges: {charge}");
}

async fn final_refusals_are_stored_and_replayed(db: Db) {
    let env = Env::start(db).await;
    let c = env.visitor().await;
    let stopped = sandbox_auth_key(&c.key, "433012", "4001", "1299", "PERSONAL");
    let (status, body) = env.hand_off(&c, &stopped).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("INVALID_STOPPED_CARD"))
    );
    assert_eq!(env.hand_off(&c, &stopped).await, (status, body));
    assert_eq!(env.sim.calls("issue").await.len(), 1);
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM exchanges WHERE status = 'REFUSED' AND sealed_auth_key IS NULL"
        )
        .await,
        1
    );
    for (last4, code) in [
        ("4002", "REJECT_CARD_COMPANY"),
        ("4003", "INVALID_CARD_NUMBER"),
        ("4004", "EXCEED_MAX_AUTH_COUNT"),
        ("4005", "NOT_SUPPORTED_METHOD"),
    ] {
        let (status, body) = env
            .hand_off(
                &c,
                &sandbox_auth_key(&c.key, "433012", last4, "1299", "PERSONAL"),
            )
            .await;
        assert!(status.is_client_error(), "{last4}: {status}");
        assert_eq!(body["code"], code);
    }
    let expired = sandbox_auth_key(&c.key, "433012", "1234", "0120", "PERSONAL");
    assert_eq!(
        env.hand_off(&c, &expired).await.1["code"],
        "INVALID_CARD_EXPIRATION"
    );
}

async fn unclear_toss_answers_are_never_final(db: Db) {
    // 409 (a duplicate still processing at Toss), 429, 5xx, an unknown 4xx code: none of them is
    // the customer's refusal. The exchange stays pending and finishes once Toss answers.
    let env = Env::start_with(db, |s| s.handoff_wait = Duration::from_millis(600)).await;
    for rule in [
        json!({"api": "issue", "code": "IDEMPOTENT_REQUEST_PROCESSING", "times": 3}),
        json!({"api": "issue", "status": 429, "times": 3}),
        json!({"api": "issue", "status": 503, "times": 3}),
        json!({"api": "issue", "code": "SOMETHING_TOSS_ADDED_TOMORROW", "times": 3}),
    ] {
        let c = env.visitor().await;
        let auth_key = good_card(&c.key);
        env.sim.rule(rule.clone());
        let (status, body) = env.hand_off(&c, &auth_key).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::ACCEPTED, Some("HANDOFF_PENDING")),
            "{rule}"
        );
        assert!(body["retryAfterMs"].as_u64().is_some());
        let (status, body) = env.hand_off_until_final(&c, &auth_key).await;
        assert_eq!(status, StatusCode::OK, "{rule}: {body}");
        assert_eq!(
            env.store.count_billing_keys(&c.key).await.unwrap(),
            1,
            "{rule}"
        );
    }
}

async fn a_slow_toss_answers_pending_and_the_exchange_finishes_anyway(db: Db) {
    let env = Env::start_with(db, |s| s.handoff_wait = Duration::from_millis(400)).await;
    env.sim
        .rule(json!({"api": "issue", "delayMs": 1500, "times": 1}));
    let c = env.visitor().await;
    let auth_key = good_card(&c.key);
    let (status, body) = env.hand_off(&c, &auth_key).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["code"], "HANDOFF_PENDING");
    let (status, _) = env.hand_off_until_final(&c, &auth_key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env.sim.count("issue", "processed").await, 1);
    assert_eq!(env.count("SELECT COUNT(*) FROM billing_keys").await, 1);
}

async fn an_aborted_request_does_not_cancel_the_exchange(db: Db) {
    let env = Env::start(db).await;
    env.sim
        .rule(json!({"api": "issue", "delayMs": 1000, "times": 1}));
    let c = env.visitor().await;
    let auth_key = good_card(&c.key);
    // The browser gives up after 200 ms and goes away: axum drops the handler's future.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let aborted = impatient
        .post(env.url("/api/billing/issue"))
        .header("cookie", &c.cookie)
        .json(&json!({"authKey": auth_key, "customerKey": c.key}))
        .send()
        .await;
    assert!(aborted.is_err(), "the request was aborted");
    // Nobody asks again: the exchange finishes on its own.
    let store = env.store.clone();
    let key = c.key.clone();
    crate::support::eventually("the billing key is stored without any retry", 10, || {
        let (store, key) = (store.clone(), key.clone());
        async move { store.count_billing_keys(&key).await.unwrap() == 1 }
    })
    .await;
    assert_eq!(env.hand_off(&c, &auth_key).await.0, StatusCode::OK);
    assert_eq!(env.sim.count("issue", "processed").await, 1);
}

async fn toss_refusing_our_credentials_keeps_the_exchange_pending(db: Db) {
    let env = Env::start_with(db, |s| s.handoff_wait = Duration::from_millis(500)).await;
    env.sim
        .rule(json!({"api": "issue", "code": "UNAUTHORIZED_KEY", "times": 1}));
    let c = env.visitor().await;
    let (status, body) = env.hand_off(&c, &good_card(&c.key)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "our configuration problem is not the customer's refusal: {body}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM exchanges WHERE status = 'PENDING' AND last_error = 'UNAUTHORIZED_KEY'").await, 1);
}

async fn another_customers_key_or_authkey_is_refused(db: Db) {
    let env = Env::start(db).await;
    let alice = env.visitor().await;
    let mallory = env.visitor().await;
    let (status, body) = env
        .hand_off_as(&mallory.cookie, &good_card(&alice.key), &alice.key)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("CUSTOMER_KEY_MISMATCH"))
    );
    let alice_card = good_card(&alice.key);
    assert_eq!(env.hand_off(&alice, &alice_card).await.0, StatusCode::OK);
    // Mallory replays Alice's authKey with her own customerKey.
    let (status, body) = env
        .hand_off_as(&mallory.cookie, &alice_card, &mallory.key)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("CUSTOMER_KEY_MISMATCH"))
    );
    let (status, _) = env
        .hand_off_as("", &good_card(&alice.key), &alice.key)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no session");
}

async fn malformed_requests_get_documented_json_errors(db: Db) {
    let env = Env::start(db).await;
    let c = env.visitor().await;
    let json_ct = ("content-type", "application/json");
    let cookie = ("cookie", c.cookie.as_str());
    type Case<'a> = (Vec<(&'a str, &'a str)>, String, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![json_ct, cookie],
            "not json".into(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            "[]".into(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![cookie],
            json!({"authKey": "a", "customerKey": c.key}).to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "a", "customerKey": c.key, "extra": 1}).to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "a b", "customerKey": c.key}).to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "a".repeat(301), "customerKey": c.key}).to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": "a", "customerKey": "x"}).to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            json!({"authKey": 5, "customerKey": "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R"})
                .to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie],
            format!(
                "{{\"authKey\": \"{}\", \"customerKey\": \"{}\"}}",
                "a".repeat(9000),
                c.key
            ),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            vec![json_ct, cookie, ("origin", "https://evil.example")],
            json!({"authKey": "a", "customerKey": c.key}).to_string(),
            StatusCode::FORBIDDEN,
            "FORBIDDEN_ORIGIN",
        ),
        (
            vec![json_ct, cookie, ("sec-fetch-site", "cross-site")],
            json!({"authKey": "a", "customerKey": c.key}).to_string(),
            StatusCode::FORBIDDEN,
            "FORBIDDEN_ORIGIN",
        ),
        (
            vec![json_ct, cookie, ("idempotency-key", "")],
            json!({"authKey": "a", "customerKey": c.key}).to_string(),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
    ];
    for (headers, body, status, code) in cases {
        let (got, answer, _) = env.post("/api/billing/issue", &headers, &body).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body:.80}"
        );
        assert!(answer["message"].is_string());
        assert!(
            !answer.to_string().contains("test_sk_"),
            "a secret key is never echoed: {answer}"
        );
    }
    let (status, body, _) = env.post("/api/nothing-here", &[json_ct], "{}").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
    assert_eq!(
        env.sim.calls("issue").await.len(),
        0,
        "nothing malformed reached Toss"
    );
}

async fn the_database_never_holds_a_billing_key_or_authkey_in_clear(db: Db) {
    let env = Env::start_with(db, |s| s.handoff_wait = Duration::from_millis(300)).await;
    env.sim
        .rule(json!({"api": "issue", "delayMs": 800, "times": 1}));
    let c = env.visitor().await;
    let auth_key = good_card(&c.key);
    // Pending: the authKey is sealed in the database.
    assert_eq!(env.hand_off(&c, &auth_key).await.0, StatusCode::ACCEPTED);
    let files = |dir: &std::path::Path| -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("billing.sqlite") {
                all.extend(std::fs::read(entry.path()).unwrap_or_default());
            }
        }
        all
    };
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        !contains(&files(env.dir.path()), &auth_key),
        "the pending authKey is sealed"
    );
    assert_eq!(
        env.hand_off_until_final(&c, &auth_key).await.0,
        StatusCode::OK
    );
    let minted = env.sim.billing_keys().await;
    assert_eq!(minted.len(), 1);
    let bytes = files(env.dir.path());
    assert!(!contains(&bytes, &minted[0]), "the billing key is sealed");
    assert!(!contains(&bytes, &auth_key));
}
