//! Operator charges: exactly once per orderId, readable without charging, and an unclear outcome
//! is reconciled with Toss's order lookup, never guessed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::handoff::futures_join;
use crate::support::{Db, Env, OPERATOR};
use crate::{stories, BOTH};
use toss_sim::sandbox_auth_key;

stories! {
    BOTH => a_charge_needs_an_order_id_and_a_retry_is_the_same_charge,
    BOTH => a_charge_is_read_without_charging,
    BOTH => declines_and_conflicts_are_final_answers,
    BOTH => a_dropped_connection_after_charging_ends_done_after_the_lookup,
    BOTH => a_timeout_ends_done_and_a_failed_send_is_sent_again_with_the_same_order_id,
    BOTH => duplicated_order_id_is_looked_up_not_recorded_as_failed,
    BOTH => concurrent_charges_with_one_order_id_make_one_charge,
}

fn charge_body(order_id: &str, customer_key: &str) -> Value {
    json!({"orderId": order_id, "customerKey": customer_key, "amount": 9900, "orderName": "월간 구독"})
}

async fn a_charge_needs_an_order_id_and_a_retry_is_the_same_charge(db: Db) {
    let env = Env::start(db).await;
    let c = env.customer_with_card().await;
    let (status, body) = env
        .charge(json!({"customerKey": c.key, "amount": 9900, "orderName": "월간 구독"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_REQUEST"))
    );
    assert!(body["message"].as_str().unwrap().contains("orderId"));
    let (status, first) = env.charge(charge_body("order-0001", &c.key)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "DONE");
    assert!(first["paymentKey"].is_string());
    assert_eq!(first["card"]["company"], "현대");
    // The operator retries after a lost answer: the same charge, not a second one.
    let (status, again) = env.charge(charge_body("order-0001", &c.key)).await;
    assert_eq!(
        (status, &again["paymentKey"]),
        (StatusCode::OK, &first["paymentKey"])
    );
    // An Idempotency-Key header names the charge instead of an orderId.
    let by_key = |key: &'static str| {
        let env = &env;
        let ck = c.key.clone();
        async move {
            env.post(
                "/api/admin/charges",
                &[
                    ("authorization", &format!("Bearer {OPERATOR}")),
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                ],
                &json!({"customerKey": ck, "amount": 1000, "orderName": "추가 결제"}).to_string(),
            )
            .await
        }
    };
    let (s1, b1, _) = by_key("operator-retry-42").await;
    let (s2, b2, _) = by_key("operator-retry-42").await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(b1["orderId"], b2["orderId"]);
    assert_eq!(
        env.sim.count("charge", "processed").await,
        2,
        "two charges in all"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM charges").await, 2);
}

async fn a_charge_is_read_without_charging(db: Db) {
    let env = Env::start(db).await;
    let c = env.customer_with_card().await;
    let (_, done) = env.charge(charge_body("order-read-1", &c.key)).await;
    let (status, read) = env.get_charge("order-read-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["paymentKey"], done["paymentKey"]);
    assert_eq!(read["calls"].as_array().unwrap().len(), 1);
    assert_eq!(
        env.get_charge("order-unknown-1").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.sim.calls("charge").await.len(),
        1,
        "reading never charges"
    );
    let r = env
        .http
        .get(env.url("/api/admin/charges/order-read-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn declines_and_conflicts_are_final_answers(db: Db) {
    let env = Env::start(db).await;
    let broke = env.visitor().await;
    let card = sandbox_auth_key(&broke.key, "433012", "5001", "1299", "PERSONAL");
    assert_eq!(
        env.hand_off_until_final(&broke, &card).await.0,
        StatusCode::OK
    );
    let (status, body) = env
        .charge(charge_body("order-declined-1", &broke.key))
        .await;
    assert_eq!(
        (status, body["status"].as_str(), body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("FAILED"),
            Some("REJECT_CARD_PAYMENT")
        )
    );
    let (status, body) = env
        .charge(json!({"orderId": "order-declined-1", "customerKey": broke.key, "amount": 1, "orderName": "x"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("ORDER_ID_CONFLICT"))
    );
    let nobody = env.visitor().await;
    let (status, body) = env.charge(charge_body("order-nocard-1", &nobody.key)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NO_BILLING_KEY"))
    );
    let (status, body) = env
        .charge(json!({"orderId": "x", "customerKey": broke.key, "amount": 9900, "orderName": "x"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_REQUEST"))
    );
    let r = env
        .http
        .post(env.url("/api/admin/charges"))
        .json(&charge_body("order-noauth-1", &broke.key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn a_dropped_connection_after_charging_ends_done_after_the_lookup(db: Db) {
    // Toss charges, then the connection drops before its answer: the charge used to stay
    // PENDING for ever. Now it is UNKNOWN, looked up, and DONE — and charged once.
    let env = Env::start_with(db, |s| s.toss_quick_retries = 0).await;
    let c = env.customer_with_card().await;
    env.sim
        .rule(json!({"api": "charge", "drop": "after", "times": 1}));
    let (status, body) = env.charge(charge_body("order-dropped-1", &c.key)).await;
    assert!(
        matches!(status, StatusCode::OK | StatusCode::ACCEPTED),
        "{status} {body}"
    );
    let settled = env.charge_settles("order-dropped-1").await;
    assert_eq!(settled["status"], "DONE", "{settled}");
    assert!(settled["paymentKey"].is_string());
    assert_eq!(env.sim.count("charge", "dropped_after").await, 1);
    assert_eq!(env.sim.count("lookup", "found").await, 1);
    assert_eq!(
        env.sim.sim.stats().await.unwrap().payments_done,
        1,
        "charged once"
    );
}

async fn a_timeout_ends_done_and_a_failed_send_is_sent_again_with_the_same_order_id(db: Db) {
    let env = Env::start_with(db, |s| {
        s.toss_timeout = Duration::from_millis(500);
        s.toss_quick_retries = 0;
    })
    .await;
    let c = env.customer_with_card().await;
    // Processed, answered too late: the client timed out.
    env.sim
        .rule(json!({"api": "charge", "delayAfterMs": 1500, "times": 1}));
    env.charge(charge_body("order-late-1", &c.key)).await;
    assert_eq!(env.charge_settles("order-late-1").await["status"], "DONE");
    // Never arrived (connection dropped before Toss did anything): the lookup finds nothing and
    // the charge is sent again with the same orderId and Idempotency-Key.
    env.sim
        .rule(json!({"api": "charge", "drop": "before", "times": 1}));
    env.charge(charge_body("order-lost-1", &c.key)).await;
    assert_eq!(env.charge_settles("order-lost-1").await["status"], "DONE");
    assert_eq!(env.sim.count("lookup", "not_found").await, 1);
    let keys: Vec<_> = env
        .sim
        .calls("charge")
        .await
        .into_iter()
        .filter(|c| c.order_id.as_deref() == Some("order-lost-1"))
        .map(|c| c.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "a resend reuses the Idempotency-Key");
    assert_eq!(env.sim.sim.stats().await.unwrap().payments_done, 2);
}

async fn duplicated_order_id_is_looked_up_not_recorded_as_failed(db: Db) {
    // Toss already holds a payment for this orderId (made without our Idempotency-Key): the
    // answer is DUPLICATED_ORDER_ID, which used to be recorded as FAILED. It is looked up: the same
    // order (same amount) is DONE; another payment under the orderId is not ours.
    let env = Env::start_with(db, |s| s.toss_quick_retries = 0).await;
    let c = env.customer_with_card().await;
    let billing_key = env.sim.billing_keys().await.pop().unwrap();
    let toss = reqwest::Client::new();
    for (order_id, amount) in [("order-dup-1", 9900), ("order-dup-2", 100)] {
        let r = toss
            .post(format!("{}/v1/billing/{}", env.sim.url, billing_key.replace('=', "%3D")))
            .header("authorization", billing_server::toss::basic_auth(billing_server::settings::DOCS_TEST_SECRET_KEY))
            .json(&json!({"customerKey": c.key, "amount": amount, "orderId": order_id, "orderName": "월간 구독"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    env.charge(charge_body("order-dup-1", &c.key)).await;
    let settled = env.charge_settles("order-dup-1").await;
    assert_eq!(settled["status"], "DONE", "{settled}");
    assert_eq!(
        env.sim.count("charge", "refused").await,
        1,
        "Toss said DUPLICATED_ORDER_ID"
    );
    assert_eq!(env.sim.count("lookup", "found").await, 1);
    env.charge(charge_body("order-dup-2", &c.key)).await;
    let settled = env.charge_settles("order-dup-2").await;
    assert_eq!(
        (settled["status"].as_str(), settled["code"].as_str()),
        (Some("FAILED"), Some("ORDER_ID_TAKEN")),
        "{settled}"
    );
}

async fn concurrent_charges_with_one_order_id_make_one_charge(db: Db) {
    let env = Env::start(db).await;
    let c = env.customer_with_card().await;
    env.sim.rule(json!({"api": "charge", "delayMs": 300}));
    let answers = futures_join(10, || env.charge(charge_body("order-concurrent-1", &c.key))).await;
    for (status, body) in &answers {
        assert!(
            matches!(*status, StatusCode::OK | StatusCode::ACCEPTED),
            "{status} {body}"
        );
    }
    assert_eq!(
        env.charge_settles("order-concurrent-1").await["status"],
        "DONE"
    );
    assert_eq!(env.sim.calls("charge").await.len(), 1, "one call to Toss");
}
