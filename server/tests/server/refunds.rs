//! Money back, exactly once (issue 29), told as it happens: an operator refunds a charge — and the
//! process dies between Toss's refund and the store, two instances refund one charge at once, a
//! refund times out and is retried, partial refunds would exceed the balance; a customer cancels
//! mid-period (중도해지) or withdraws (청약철회) in time and too late; Toss's webhooks arrive seven
//! times, name unknown keys, lie about amounts, report a console refund; a customer removes
//! their card.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;

use crate::subscriptions::{attempts_settled, fast, operator_view, register, subscribed};
use crate::support::{
    count, database, eventually, good_card, server_env, sim_calls, sim_rule, Customer, Db, Env,
    Proc, Remote, TempDir, OPERATOR,
};
use crate::{stories, BOTH};
use billing_server::clock::to_ms;
use billing_server::store::DatabaseUrl;

stories! {
    BOTH => sigkill_between_tosss_refund_and_the_store_then_the_restarted_server_settles_it_once,
    BOTH => two_instances_refunding_one_charge_at_once_make_one_refund,
    BOTH => a_refund_timed_out_and_retried_is_one_cancel_at_toss,
    BOTH => partial_refunds_beyond_the_balance_are_refused,
    BOTH => already_canceled_at_toss_is_confirmed_by_a_lookup_before_it_fails,
    BOTH => a_mid_term_cancellation_on_day_ten_refunds_6707_and_nothing_is_charged_again,
    BOTH => a_withdrawal_on_day_eight_is_refused_with_the_mid_term_offer_and_on_day_three_refunds_everything,
    BOTH => a_webhook_delivered_seven_times_has_one_effect,
    BOTH => a_billing_deleted_for_an_unknown_key_changes_nothing,
    BOTH => a_payment_status_changed_that_lies_about_the_amount_records_the_fetched_truth,
    BOTH => a_console_refund_is_learned_through_the_webhook_and_our_own_refunds_change_nothing,
    BOTH => a_card_is_removed_only_without_a_live_subscription,
    BOTH => a_card_registered_without_a_plan_is_shown_and_removed_without_a_subscription,
}

const DAY: i64 = 86_400_000;

// ---- helpers ------------------------------------------------------------------------------

async fn operator_get(http: &reqwest::Client, base: &str, path: &str) -> (StatusCode, Value) {
    let r = http
        .get(format!("{base}{path}"))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// `POST /api/admin/charges/{orderId}/refunds` with `body`, and an `Idempotency-Key` if given.
async fn refund(
    http: &reqwest::Client,
    base: &str,
    order_id: &str,
    body: Value,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = http
        .post(format!("{base}/api/admin/charges/{order_id}/refunds"))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

/// Waits until the refund is final (`GET /api/admin/refunds/{id}` no longer answers 202).
async fn refund_settles(http: &reqwest::Client, base: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (status, body) = operator_get(http, base, &format!("/api/admin/refunds/{id}")).await;
        if status != StatusCode::ACCEPTED {
            assert!(
                status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{status} {body}"
            );
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("refund {id} never settled");
}

/// An operator charge of 9,900원 on a customer with a card: its orderId and paymentKey.
async fn charged(env: &Env, order_id: &str) -> (Customer, String) {
    let c = env.customer_with_card().await;
    let (status, body) = env
        .charge(json!({"orderId": order_id, "customerKey": c.key, "amount": 9900, "orderName": "월간 구독"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (c, body["paymentKey"].as_str().unwrap().to_owned())
}

async fn stats(http: &reqwest::Client, sim_url: &str) -> Value {
    http.get(format!("{sim_url}/__control/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The refunds of a charge as the operator's charge view shows them.
async fn refunds_of(env: &Env, order_id: &str) -> Vec<Value> {
    let (_, charge) = env.get_charge(order_id).await;
    charge["refunds"].as_array().cloned().unwrap_or_default()
}

/// Registers billing-server's Toss webhook endpoint at the simulator (as in Toss's console),
/// with a compressed retry schedule.
async fn register_webhook(env: &Env) {
    let r = env
        .http
        .put(format!("{}/__control/webhook", env.sim.url))
        .json(&json!({"url": env.url("/api/toss/webhooks"), "retryDelaysMs": [200, 200, 200, 200, 200, 200, 200]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

/// Has the simulator send an event (a lying body, an unknown key) `repeat` times under one
/// transmission id; returns that id.
async fn send_webhook(env: &Env, event_type: &str, data: Value, repeat: u32) -> String {
    let r = env
        .http
        .post(format!("{}/__control/webhook/send", env.sim.url))
        .json(&json!({"eventType": event_type, "data": data, "repeat": repeat}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "{}",
        r.text().await.unwrap()
    );
    r.json::<Value>().await.unwrap()["transmissionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Toss's webhooks as billing-server received them.
async fn inbox(env: &Env) -> Vec<Value> {
    let (status, body) = operator_get(&env.http, &env.base, "/api/admin/toss-webhooks").await;
    assert_eq!(status, StatusCode::OK);
    body["webhooks"].as_array().cloned().unwrap()
}

/// Waits until the webhook with this transmission id is processed (not PENDING).
async fn webhook_processed(env: &Env, transmission_id: &str) -> Value {
    let mut last = Vec::new();
    for _ in 0..200 {
        last = inbox(env).await;
        if let Some(w) = last
            .iter()
            .find(|w| w["transmissionId"] == transmission_id && w["status"] != "PENDING")
        {
            return w.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("webhook {transmission_id} was not processed: {last:#?}");
}

async fn console_cancel(env: &Env, payment_key: &str, body: Value) -> Value {
    let r = env
        .http
        .post(format!(
            "{}/__control/console/payments/{payment_key}/cancel",
            env.sim.url
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn event_kinds(view: &Value) -> Vec<String> {
    view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// A subscriber of premium-monthly (9,900원) registered at `at`, its first month charged.
async fn subscriber_at(env: &Env, at: time::OffsetDateTime) -> (Customer, i64) {
    let target = to_ms(at);
    let now = env.clock.now_ms();
    if target > now {
        env.clock.set(target).unwrap();
    } else {
        assert!(now - target < 60_000, "the clock is past {at}");
    }
    let c = env.member(billing_server::settings::DEMO_PLAN_ID).await;
    let id = register(env, &c, &good_card(&c.key)).await;
    let attempts = attempts_settled(env, id, 1).await;
    assert_eq!(attempts[0]["status"], "DONE");
    (c, id)
}

/// The toss simulator and billing-server in their own processes, on one database.
struct Shop {
    dir: TempDir,
    database: DatabaseUrl,
    sim: Proc,
    http: reqwest::Client,
}

impl Shop {
    async fn open(db: Db) -> Shop {
        let dir = TempDir::new();
        let database = database(db, dir.path()).await;
        let sim = Proc::spawn(
            "simulator",
            &["simulate"],
            &[
                (
                    "SIMULATOR_DATABASE",
                    dir.path().join("sim.sqlite").display().to_string(),
                ),
                ("PORT", "0".into()),
            ],
        )
        .await;
        Shop {
            dir,
            database,
            sim,
            http: reqwest::Client::new(),
        }
    }

    async fn server(&self, instance: &str) -> Proc {
        Proc::spawn(
            instance,
            &[],
            &server_env(
                &self.database,
                &self.dir.path().join(instance),
                &self.sim.url,
                instance,
            ),
        )
        .await
    }

    /// A customer with a card charged 9,900원 through `server`: the orderId.
    async fn charged(&self, server: &Proc, order_id: &str) -> String {
        let remote = Remote::new(&server.url);
        let c = remote.visitor().await;
        let (status, body) = remote.hand_off_until_final(&c, &good_card(&c.key)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = remote
            .charge(&json!({"orderId": order_id, "customerKey": c.key, "amount": 9900, "orderName": "월간 구독"}))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        order_id.to_owned()
    }

    async fn refund_status(&self, id: &str) -> Option<String> {
        let n_done = count(
            &self.database,
            &format!("SELECT COUNT(*) FROM refunds WHERE id = '{id}' AND status = 'DONE'"),
        )
        .await;
        let n_unknown = count(
            &self.database,
            &format!("SELECT COUNT(*) FROM refunds WHERE id = '{id}' AND status = 'UNKNOWN'"),
        )
        .await;
        match (n_done, n_unknown) {
            (1, _) => Some("DONE".into()),
            (_, 1) => Some("UNKNOWN".into()),
            _ => None,
        }
    }
}

// ---- operator refunds, exactly once ----------------------------------------------------------

async fn sigkill_between_tosss_refund_and_the_store_then_the_restarted_server_settles_it_once(
    db: Db,
) {
    let shop = Shop::open(db).await;
    let mut server = shop.server("shop-1").await;
    let order_id = shop.charged(&server, "order-crash-refund-1").await;
    // Toss refunds, then its answer is 2.5 s late: the server is killed meanwhile.
    sim_rule(
        &shop.http,
        &shop.sim.url,
        json!({"api": "cancel", "delayAfterMs": 2500, "times": 1}),
    )
    .await;
    let request = {
        let (http, base, order_id) = (shop.http.clone(), server.url.clone(), order_id.clone());
        tokio::spawn(async move {
            let _ = http
                .post(format!("{base}/api/admin/charges/{order_id}/refunds"))
                .header("authorization", format!("Bearer {OPERATOR}"))
                .json(&json!({"refundId": "refund-crash-1", "amount": 4000, "reason": "고객 요청"}))
                .send()
                .await;
        })
    };
    eventually("Toss refunded", 10, || async {
        stats(&shop.http, &shop.sim.url).await["cancels"] == 1
    })
    .await;
    server.kill().await;
    let _ = request.await;
    assert_eq!(
        shop.refund_status("refund-crash-1").await.as_deref(),
        Some("UNKNOWN"),
        "written ahead and counted as sent; the answer died with the process"
    );
    // Restarted with the same INSTANCE_ID, and nobody asks again.
    let server = shop.server("shop-1").await;
    eventually("the restarted server settled the refund", 20, || async {
        shop.refund_status("refund-crash-1").await.as_deref() == Some("DONE")
    })
    .await;
    let sim = stats(&shop.http, &shop.sim.url).await;
    assert_eq!(
        (sim["cancels"].as_i64(), sim["refundedAmount"].as_i64()),
        (Some(1), Some(4000)),
        "one refund at Toss: {sim}"
    );
    // The killed call is logged once Toss's late answer is written (2.5 s after processing).
    eventually("the simulator logged the cancel", 10, || async {
        !sim_calls(&shop.http, &shop.sim.url, "cancel")
            .await
            .is_empty()
    })
    .await;
    let cancels = sim_calls(&shop.http, &shop.sim.url, "cancel").await;
    assert_eq!(cancels.len(), 1, "nothing was sent again: {cancels:?}");
    let (_, body) =
        operator_get(&shop.http, &server.url, "/api/admin/refunds/refund-crash-1").await;
    assert_eq!(body["status"], "DONE", "{body}");
    assert!(body["transactionKey"].is_string(), "{body}");
    let kinds: Vec<(&str, &str)> = body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("LOOKUP", "FOUND")],
        "settled by the lookup: {body}"
    );
    let (_, charge) = operator_get(
        &shop.http,
        &server.url,
        &format!("/api/admin/charges/{order_id}"),
    )
    .await;
    assert_eq!(charge["refundedAmount"], 4000, "the ledger: {charge}");
}

async fn two_instances_refunding_one_charge_at_once_make_one_refund(db: Db) {
    let shop = Shop::open(db).await;
    let a = shop.server("shop-a").await;
    let b = shop.server("shop-b").await;
    // One refund asked for ten times, split across the two instances, while Toss is slow.
    let first = shop.charged(&a, "order-two-instances-1").await;
    sim_rule(
        &shop.http,
        &shop.sim.url,
        json!({"api": "cancel", "delayMs": 400, "times": 1}),
    )
    .await;
    let answers = futures::future::join_all((0..10).map(|i| {
        let base = if i % 2 == 0 { &a.url } else { &b.url };
        let (http, first) = (&shop.http, &first);
        async move {
            refund(
                http,
                base,
                first,
                json!({"refundId": "refund-once-1", "reason": "전액 환불"}),
                None,
            )
            .await
        }
    }))
    .await;
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::ACCEPTED,
            "{status} {body}"
        );
        assert_eq!(body["refundId"], "refund-once-1");
        assert_eq!(body["amount"], 9900);
    }
    refund_settles(&shop.http, &a.url, "refund-once-1").await;
    // Two different whole refunds of another charge, one on each instance, at the same moment.
    let second = shop.charged(&b, "order-two-instances-2").await;
    let (one, other) = tokio::join!(
        refund(
            &shop.http,
            &a.url,
            &second,
            json!({"refundId": "refund-race-a", "reason": "전액 환불"}),
            None
        ),
        refund(
            &shop.http,
            &b.url,
            &second,
            json!({"refundId": "refund-race-b", "reason": "전액 환불"}),
            None
        ),
    );
    let statuses = [one.0, other.0];
    assert!(
        statuses.contains(&StatusCode::CONFLICT)
            && (statuses.contains(&StatusCode::OK) || statuses.contains(&StatusCode::ACCEPTED)),
        "one refund, one refusal: {one:?} {other:?}"
    );
    let refused = if one.0 == StatusCode::CONFLICT {
        &one.1
    } else {
        &other.1
    };
    assert_eq!(refused["code"], "REFUND_EXCEEDS_BALANCE", "{refused}");
    let winner = if one.0 == StatusCode::CONFLICT {
        "refund-race-b"
    } else {
        "refund-race-a"
    };
    refund_settles(&shop.http, &a.url, winner).await;
    let sim = stats(&shop.http, &shop.sim.url).await;
    assert_eq!(
        (sim["cancels"].as_i64(), sim["refundedAmount"].as_i64()),
        (Some(2), Some(19800)),
        "one refund of each charge at Toss: {sim}"
    );
    assert_eq!(
        count(&shop.database, "SELECT COUNT(*) FROM refunds").await,
        2,
        "two refunds recorded"
    );
}

async fn a_refund_timed_out_and_retried_is_one_cancel_at_toss(db: Db) {
    let env = Env::start(db).await;
    let (_, _) = charged(&env, "order-timeout-1").await;
    // Toss refunds, and answers after the client's 2 s timeout.
    env.sim
        .rule(json!({"api": "cancel", "delayAfterMs": 2600, "times": 1}));
    let (status, body) = refund(
        &env.http,
        &env.base,
        "order-timeout-1",
        json!({"amount": 3000, "reason": "부분 환불"}),
        Some("op-refund-timeout-1"),
    )
    .await;
    assert!(
        status == StatusCode::ACCEPTED || status == StatusCode::OK,
        "{status} {body}"
    );
    let id = body["refundId"].as_str().unwrap().to_owned();
    // The operator's client retries the request with the same Idempotency-Key.
    let (status, again) = refund(
        &env.http,
        &env.base,
        "order-timeout-1",
        json!({"amount": 3000, "reason": "부분 환불"}),
        Some("op-refund-timeout-1"),
    )
    .await;
    assert!(status.is_success(), "{status} {again}");
    assert_eq!(again["refundId"], id.as_str(), "the same refund");
    let settled = refund_settles(&env.http, &env.base, &id).await;
    assert_eq!(settled["status"], "DONE", "{settled}");
    let calls: Vec<(&str, &str, Option<&str>)> = settled["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
                c["code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("CANCEL", "UNCLEAR", Some("TOSS_TIMEOUT")),
            ("LOOKUP", "FOUND", None)
        ],
        "settled by the lookup, never sent twice"
    );
    assert_eq!(
        env.sim.count("cancel", "processed").await,
        1,
        "one cancel at Toss"
    );
    // A retry with the same key but another amount is another refund's business: refused.
    let (status, body) = refund(
        &env.http,
        &env.base,
        "order-timeout-1",
        json!({"amount": 5000, "reason": "부분 환불"}),
        Some("op-refund-timeout-1"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("REFUND_ID_CONFLICT"))
    );
    // The answer lost on the way back (processed, then the connection closed): the same.
    env.sim
        .rule(json!({"api": "cancel", "drop": "after", "times": 1}));
    let (_, body) = refund(
        &env.http,
        &env.base,
        "order-timeout-1",
        json!({"refundId": "refund-dropped-1", "amount": 2000, "reason": "부분 환불"}),
        None,
    )
    .await;
    let settled = refund_settles(&env.http, &env.base, "refund-dropped-1").await;
    assert_eq!(settled["status"], "DONE", "{body} {settled}");
    assert_eq!(env.sim.count("cancel", "dropped_after").await, 1);
    assert_eq!(
        env.sim.count("cancel", "processed").await,
        1,
        "the dropped call was processed once and never sent again"
    );
    let (_, charge) = env.get_charge("order-timeout-1").await;
    assert_eq!(charge["refundedAmount"], 5000, "{charge}");
}

async fn partial_refunds_beyond_the_balance_are_refused(db: Db) {
    let env = Env::start(db).await;
    let (c, _) = charged(&env, "order-partial-1").await;
    let (status, body) = refund(
        &env.http,
        &env.base,
        "order-partial-1",
        json!({"refundId": "refund-partial-1", "amount": 5000, "reason": "부분 환불"}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = refund(
        &env.http,
        &env.base,
        "order-partial-1",
        json!({"refundId": "refund-partial-2", "amount": 5000, "reason": "부분 환불"}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("REFUND_EXCEEDS_BALANCE")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("4900"), "{body}");
    assert_eq!(
        env.sim.calls("cancel").await.len(),
        1,
        "nothing was sent to Toss for the refused refund"
    );
    // The rest (no amount: whatever is left), within Toss's one second: retried after it.
    let (status, body) = refund(
        &env.http,
        &env.base,
        "order-partial-1",
        json!({"refundId": "refund-partial-3", "reason": "나머지 환불"}),
        None,
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(body["amount"], 4900);
    let settled = refund_settles(&env.http, &env.base, "refund-partial-3").await;
    assert_eq!(settled["status"], "DONE", "{settled}");
    let (status, body) = refund(
        &env.http,
        &env.base,
        "order-partial-1",
        json!({"refundId": "refund-partial-4", "amount": 1, "reason": "한 번 더"}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("REFUND_EXCEEDS_BALANCE"))
    );
    assert_eq!(env.sim.count("cancel", "processed").await, 2);
    // The customer's history: the charge, its receipt and its refunds.
    let (status, history) = env.get_as(&c, "/api/subscription/charges").await;
    assert_eq!(status, StatusCode::OK);
    let charge = &history["charges"][0];
    assert_eq!(
        (
            charge["refundedAmount"].as_i64(),
            charge["balance"].as_i64(),
            charge["refunds"].as_array().map(Vec::len)
        ),
        (Some(9900), Some(0), Some(2)),
        "{charge}"
    );
    assert!(charge["receiptUrl"]
        .as_str()
        .unwrap()
        .contains("/receipts/"));
    assert_eq!(charge["refunds"][0]["status"], "DONE");
}

async fn already_canceled_at_toss_is_confirmed_by_a_lookup_before_it_fails(db: Db) {
    let env = Env::start(db).await;
    let (_, payment_key) = charged(&env, "order-already-1").await;
    // Refunded whole in Toss's console, with no webhook registered: this server does not know.
    console_cancel(
        &env,
        &payment_key,
        json!({"cancelReason": "콘솔 전액 환불"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = refund(
        &env.http,
        &env.base,
        "order-already-1",
        json!({"refundId": "refund-already-1", "amount": 3000, "reason": "부분 환불"}),
        None,
    )
    .await;
    let settled = refund_settles(&env.http, &env.base, "refund-already-1").await;
    assert_eq!(
        (settled["status"].as_str(), settled["code"].as_str()),
        (Some("FAILED"), Some("NOT_CANCELABLE_AMOUNT")),
        "{body} {settled}"
    );
    let calls: Vec<(&str, &str, Option<&str>)> = settled["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
                c["code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("CANCEL", "REFUSED", Some("ALREADY_CANCELED_PAYMENT")),
            ("LOOKUP", "NOT_FOUND", None)
        ],
        "ALREADY_CANCELED_PAYMENT is not final by itself: the lookup shows it is not ours"
    );
    let (_, charge) = env.get_charge("order-already-1").await;
    assert_eq!(
        charge["refundedAmount"], 0,
        "nothing of ours was refunded: {charge}"
    );
}

// ---- the customer's cancellation rights --------------------------------------------------------

async fn a_mid_term_cancellation_on_day_ten_refunds_6707_and_nothing_is_charged_again(db: Db) {
    let env = Env::start_with(db, fast).await;
    let (c, id) = subscriber_at(&env, datetime!(2027-01-01 09:00 +9)).await;
    env.clock
        .set(to_ms(datetime!(2027-01-10 15:00 +9)))
        .unwrap();
    let (status, preview) = env.get_as(&c, "/api/subscription/cancel/preview").await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        (preview["usedDays"].as_i64(), preview["periodDays"].as_i64()),
        (Some(10), Some(31))
    );
    let options = &preview["options"];
    assert_eq!(
        options["now"]["refund"], 6707,
        "9,900 × 21/31, the used part rounded down: {preview:#}"
    );
    assert_eq!(options["now"]["holdsUntil"], "2027-01-11T00:00:00+09:00");
    assert_eq!(options["periodEnd"]["refund"], 0);
    assert_eq!(
        (
            options["withdraw"]["available"].as_bool(),
            options["withdraw"]["code"].as_str()
        ),
        (Some(false), Some("WITHDRAWAL_PERIOD_OVER"))
    );
    assert_eq!(options["withdraw"]["instead"]["refund"], 6707);
    // A stale preview is refused, nothing changes.
    let (status, body) = env
        .post_as(
            &c,
            "/api/subscription/cancel",
            json!({"when": "now", "expectedRefund": 7000}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("PREVIEW_CHANGED"))
    );
    assert_eq!(subscribed(&env, id).await["status"], "ACTIVE");
    let (status, body) = env
        .post_as(
            &c,
            "/api/subscription/cancel",
            json!({"when": "now", "expectedRefund": 6707}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["status"].as_str(),
            body["refund"].as_i64(),
            body["refunds"][0]["status"].as_str()
        ),
        (Some("CANCELED"), Some(6707), Some("DONE")),
        "{body}"
    );
    // Asking again is a safe retry: the same answer, nothing sent again.
    let (status, again) = env
        .post_as(&c, "/api/subscription/cancel", json!({"when": "now"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["refunds"], body["refunds"]);
    assert_eq!(env.sim.count("cancel", "processed").await, 1);
    let sim = env.sim.sim.stats().await.unwrap();
    assert_eq!(sim.refunded_amount, 6707);
    let (_, history) = env.get_as(&c, "/api/subscription/charges").await;
    assert_eq!(
        (
            history["charges"][0]["refundedAmount"].as_i64(),
            history["charges"][0]["balance"].as_i64()
        ),
        (Some(6707), Some(3193)),
        "paid = used + refunded: {history}"
    );
    let view = operator_view(&env, id).await;
    let kinds = event_kinds(&view);
    assert!(
        kinds.contains(&"subscription.canceled".to_owned())
            && kinds.contains(&"refund.succeeded".to_owned()),
        "{kinds:?}"
    );
    assert_eq!(view["subscription"]["endedReason"], "canceled_by_customer");
    // Months later: never charged again.
    env.clock
        .set(to_ms(datetime!(2027-05-01 09:00 +9)))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    env.clock.advance(40 * DAY).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        env.sim.count("charge", "processed").await,
        1,
        "one charge, ever"
    );
    assert_eq!(subscribed(&env, id).await["status"], "CANCELED");
}

async fn a_withdrawal_on_day_eight_is_refused_with_the_mid_term_offer_and_on_day_three_refunds_everything(
    db: Db,
) {
    let env = Env::start_with(db, fast).await;
    // Charged on January 1: day 8 is January 8.
    let (late, late_id) = subscriber_at(&env, datetime!(2027-01-01 09:00 +9)).await;
    env.clock
        .set(to_ms(datetime!(2027-01-08 10:00 +9)))
        .unwrap();
    let (status, body) = env
        .post_as(
            &late,
            "/api/subscription/cancel",
            json!({"when": "withdraw"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("WITHDRAWAL_PERIOD_OVER")),
        "{body}"
    );
    // 9,900 × 8/31 = 2,554.8… used → 7,346 back.
    assert_eq!(
        body["offer"],
        json!({"when": "now", "refund": 7346, "holdsUntil": "2027-01-09T00:00:00+09:00"})
    );
    assert_eq!(
        subscribed(&env, late_id).await["status"],
        "ACTIVE",
        "nothing changed"
    );
    assert_eq!(env.sim.calls("cancel").await.len(), 0);
    let (status, body) = env
        .post_as(
            &late,
            "/api/subscription/cancel",
            json!({"when": "now", "expectedRefund": 7346}),
        )
        .await;
    assert_eq!(
        (status, body["refund"].as_i64()),
        (StatusCode::OK, Some(7346)),
        "the offer, taken: {body}"
    );

    // Charged on January 8: January 10 is day 3.
    let (early, early_id) = subscriber_at(&env, datetime!(2027-01-08 10:00 +9)).await;
    env.clock
        .set(to_ms(datetime!(2027-01-10 20:00 +9)))
        .unwrap();
    let (_, preview) = env.get_as(&early, "/api/subscription/cancel/preview").await;
    assert_eq!(
        preview["options"]["withdraw"]["refund"], 9900,
        "{preview:#}"
    );
    assert_eq!(
        preview["options"]["withdraw"]["until"],
        "2027-01-15T00:00:00+09:00"
    );
    let (status, body) = env
        .post_as(
            &early,
            "/api/subscription/cancel",
            json!({"when": "withdraw", "expectedRefund": 9900}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["status"].as_str(),
            body["refund"].as_i64(),
            body["refunds"][0]["status"].as_str(),
            body["refunds"][0]["kind"].as_str()
        ),
        (
            Some("CANCELED"),
            Some(9900),
            Some("DONE"),
            Some("WITHDRAWAL")
        ),
        "the whole charge back: {body}"
    );
    assert_eq!(subscribed(&env, early_id).await["endedReason"], "withdrawn");

    // The merchant marked the period as used: a withdrawal in time refunds the 중도해지 amount.
    let (used, used_id) = subscriber_at(&env, datetime!(2027-01-10 21:00 +9)).await;
    let r = env
        .http
        .post(env.url(&format!("/api/admin/subscriptions/{used_id}/period-used")))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    env.clock
        .set(to_ms(datetime!(2027-01-12 09:00 +9)))
        .unwrap();
    let (status, body) = env
        .post_as(
            &used,
            "/api/subscription/cancel",
            json!({"when": "withdraw"}),
        )
        .await;
    // January 10 – February 10 is 31 days; day 3: 9,900 × 3/31 = 958.0… used → 8,942 back.
    assert_eq!(
        (status, body["refund"].as_i64()),
        (StatusCode::OK, Some(8942)),
        "{body}"
    );
    let sim = env.sim.sim.stats().await.unwrap();
    assert_eq!(sim.refunded_amount, 7346 + 9900 + 8942);
    assert_eq!(env.sim.count("cancel", "processed").await, 3);
}

// ---- Toss's webhooks ---------------------------------------------------------------------

async fn a_webhook_delivered_seven_times_has_one_effect(db: Db) {
    let env = Env::start_with(db, fast).await;
    register_webhook(&env).await;
    let (c, id) = subscriber_at(&env, datetime!(2027-02-01 09:00 +9)).await;
    let billing_key = env.sim.billing_keys().await.pop().unwrap();
    let transmission = send_webhook(
        &env,
        "BILLING_DELETED",
        json!({"billingKey": billing_key, "reason": "카드사 요청"}),
        7,
    )
    .await;
    eventually("seven deliveries answered 200", 15, || async {
        env.sim
            .sim
            .webhook_deliveries()
            .await
            .unwrap()
            .iter()
            .filter(|d| d.transmission_id == transmission && d.status == Some(200))
            .count()
            == 7
    })
    .await;
    let processed = webhook_processed(&env, &transmission).await;
    assert_eq!(
        (
            processed["status"].as_str(),
            processed["deliveries"].as_i64()
        ),
        (Some("PROCESSED"), Some(7)),
        "one row, seven deliveries: {processed}"
    );
    assert_eq!(inbox(&env).await.len(), 1);
    let view = operator_view(&env, id).await;
    let deleted = event_kinds(&view)
        .iter()
        .filter(|k| *k == "subscription.card_deleted")
        .count();
    assert_eq!(deleted, 1, "one effect");
    let (_, sub) = env.get_as(&c, "/api/subscription").await;
    assert_eq!(sub["card"]["usable"], false);
    // The renewal is never sent to Toss: the subscription waits for a new card.
    env.clock
        .set(to_ms(datetime!(2027-03-01 09:00 +9)))
        .unwrap();
    eventually("the renewal declined locally", 10, || async {
        subscribed(&env, id).await["status"] == "PAST_DUE"
    })
    .await;
    let attempts = operator_view(&env, id).await["attempts"].clone();
    assert_eq!(attempts[1]["code"], "BILLING_KEY_DELETED", "{attempts}");
    assert_eq!(
        env.sim.count("charge", "processed").await,
        1,
        "never charged again"
    );
    assert_eq!(env.sim.calls("charge").await.len(), 1, "nothing sent");
}

async fn a_billing_deleted_for_an_unknown_key_changes_nothing(db: Db) {
    let env = Env::start_with(db, fast).await;
    register_webhook(&env).await;
    let (_, id) = subscriber_at(&env, datetime!(2027-02-01 09:00 +9)).await;
    let before = event_kinds(&operator_view(&env, id).await);
    let transmission = send_webhook(
        &env,
        "BILLING_DELETED",
        json!({"billingKey": "bk_someone_elses_or_made_up_0123456789=", "reason": "삭제 API 요청"}),
        1,
    )
    .await;
    let processed = webhook_processed(&env, &transmission).await;
    assert_eq!(processed["status"], "IGNORED", "{processed}");
    assert_eq!(
        count(
            &env.database,
            "SELECT COUNT(*) FROM billing_keys WHERE deleted_at IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(
        event_kinds(&operator_view(&env, id).await),
        before,
        "no event"
    );
    // The answer says nothing about whether a key matched: the same for a known key.
    let known = env.sim.billing_keys().await.pop().unwrap();
    let answer = |key: String| {
        let env = &env;
        async move {
            let r = env
                .http
                .post(env.url("/api/toss/webhooks"))
                .header("tosspayments-webhook-transmission-id", format!("wh_test_{}", &key[..6]))
                .header("origin", "https://somewhere-else.example")
                .json(&json!({"eventType": "BILLING_DELETED", "createdAt": "2027-02-01T09:00:00.000000", "data": {"billingKey": key, "reason": "x"}}))
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let unknown_answer = answer("unknownkey-abcdef".into()).await;
    let known_answer = answer(known).await;
    assert_eq!(
        unknown_answer, known_answer,
        "the same answer, cross-site Origin or not"
    );
    assert_eq!(unknown_answer.0, StatusCode::OK);
    // Bodies are bounded.
    let r = env
        .http
        .post(env.url("/api/toss/webhooks"))
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

async fn a_payment_status_changed_that_lies_about_the_amount_records_the_fetched_truth(db: Db) {
    let env = Env::start(db).await;
    let (_, payment_key) = charged(&env, "order-lie-1").await;
    // A refund made in Toss's console while no webhook was registered: we do not know it yet.
    console_cancel(
        &env,
        &payment_key,
        json!({"cancelReason": "콘솔 부분 환불", "cancelAmount": 3000}),
    )
    .await;
    register_webhook(&env).await;
    let transmission = send_webhook(
        &env,
        "PAYMENT_STATUS_CHANGED",
        json!({
            "paymentKey": payment_key, "orderId": "order-lie-1", "status": "CANCELED",
            "totalAmount": 9900, "balanceAmount": 0,
            "cancels": [{"cancelAmount": 9900, "transactionKey": "made-up-tx", "cancelStatus": "DONE"}],
        }),
        1,
    )
    .await;
    let processed = webhook_processed(&env, &transmission).await;
    assert_eq!(processed["status"], "PROCESSED", "{processed}");
    let refunds = refunds_of(&env, "order-lie-1").await;
    assert_eq!(refunds.len(), 1, "{refunds:#?}");
    assert_eq!(
        (
            refunds[0]["kind"].as_str(),
            refunds[0]["status"].as_str(),
            refunds[0]["amount"].as_i64()
        ),
        (Some("EXTERNAL"), Some("DONE"), Some(3000)),
        "Toss's truth, not the payload's 9,900"
    );
    assert_ne!(refunds[0]["transactionKey"], "made-up-tx");
    let (_, charge) = env.get_charge("order-lie-1").await;
    assert_eq!(charge["refundedAmount"], 3000);
    // What is left is still refundable, and no more.
    let (status, body) = refund(
        &env.http,
        &env.base,
        "order-lie-1",
        json!({"refundId": "refund-after-lie", "reason": "나머지"}),
        None,
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(body["amount"], 6900);
}

async fn a_console_refund_is_learned_through_the_webhook_and_our_own_refunds_change_nothing(
    db: Db,
) {
    let env = Env::start_with(db, fast).await;
    register_webhook(&env).await;
    let (c, id) = subscriber_at(&env, datetime!(2027-02-01 09:00 +9)).await;
    let view = operator_view(&env, id).await;
    let order_id = view["charges"][0]["orderId"].as_str().unwrap().to_owned();
    let (_, charge) = env.get_charge(&order_id).await;
    let payment_key = charge["paymentKey"].as_str().unwrap().to_owned();
    console_cancel(
        &env,
        &payment_key,
        json!({"cancelReason": "상담원 환불", "cancelAmount": 2000}),
    )
    .await;
    eventually("the console refund is learned", 15, || async {
        refunds_of(&env, &order_id).await.len() == 1
    })
    .await;
    let refunds = refunds_of(&env, &order_id).await;
    assert_eq!(
        (
            refunds[0]["kind"].as_str(),
            refunds[0]["amount"].as_i64(),
            refunds[0]["reason"].as_str()
        ),
        (Some("EXTERNAL"), Some(2000), Some("상담원 환불"))
    );
    let (_, history) = env.get_as(&c, "/api/subscription/charges").await;
    assert_eq!(
        history["charges"][0]["refunds"][0]["amount"], 2000,
        "{history}"
    );
    assert!(event_kinds(&operator_view(&env, id).await).contains(&"refund.succeeded".to_owned()));
    // Our own refund: Toss's webhook about it changes nothing.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = refund(
        &env.http,
        &env.base,
        &order_id,
        json!({"refundId": "refund-own-1", "amount": 1000, "reason": "보상"}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("both webhooks processed", 15, || async {
        let all = inbox(&env).await;
        all.len() == 2 && all.iter().all(|w| w["status"] == "PROCESSED")
    })
    .await;
    let refunds = refunds_of(&env, &order_id).await;
    assert_eq!(
        refunds.len(),
        2,
        "no external copy of our own refund: {refunds:#?}"
    );
    let (_, charge) = env.get_charge(&order_id).await;
    assert_eq!(charge["refundedAmount"], 3000);
}

// ---- removing a card -------------------------------------------------------------------------

async fn a_card_is_removed_only_without_a_live_subscription(db: Db) {
    let env = Env::start_with(db, fast).await;
    let (c, _) = subscriber_at(&env, datetime!(2027-02-01 09:00 +9)).await;
    let remove = |c: &Customer| {
        let (name, value) = c.auth();
        env.http
            .delete(env.url("/api/customer/card"))
            .header(name, value)
            .send()
    };
    let r = remove(&c).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "LIVE_SUBSCRIPTION"
    );
    assert_eq!(
        count(
            &env.database,
            "SELECT COUNT(*) FROM billing_keys WHERE deleted_at IS NOT NULL"
        )
        .await,
        0,
        "a live subscription keeps its card"
    );
    let (status, _) = env
        .post_as(&c, "/api/subscription/cancel", json!({"when": "now"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = remove(&c).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["removed"], 1, "{body}");
    assert_eq!(body["cards"][0]["deletedAtToss"], true, "{body}");
    assert_eq!(
        count(
            &env.database,
            "SELECT COUNT(*) FROM billing_keys WHERE length(nonce) = 0 AND length(ciphertext) = 0 \
             AND deleted_at IS NOT NULL AND erased_at IS NOT NULL AND remote_deleted_at IS NOT NULL"
        )
        .await,
        1,
        "erased here"
    );
    assert_eq!(
        count(&env.database, "SELECT COUNT(*) FROM charges").await,
        1,
        "the ledger stays"
    );
    let sim = env.sim.sim.stats().await.unwrap();
    assert_eq!(sim.billing_keys_deleted, 1, "deleted at Toss");
    assert_eq!(env.sim.count("delete", "processed").await, 1);
    let r = remove(&c).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["removed"],
        0,
        "a safe retry"
    );
    // The history is still there, receipts and refunds included; the card is not on file.
    let (_, history) = env.get_as(&c, "/api/subscription/charges").await;
    assert_eq!(history["charges"].as_array().unwrap().len(), 1);
    let (_, subscription) = env.get_as(&c, "/api/subscription").await;
    assert_eq!(subscription["card"], Value::Null, "{subscription}");
}

/// A card registered without a plan (no checkout session): no subscription (404), yet the card on
/// file is told and can be removed — the portal's only way to offer removing it.
async fn a_card_registered_without_a_plan_is_shown_and_removed_without_a_subscription(db: Db) {
    let env = Env::start(db).await;
    let stranger = env.visitor().await;
    let (status, body) = env.get_as(&stranger, "/api/customer/card").await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({"card": null})),
        "no card"
    );

    let c = env.customer_with_card().await;
    let (status, _) = env.get_as(&c, "/api/subscription").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no subscription");
    let (status, body) = env.get_as(&c, "/api/customer/card").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let number = body["card"]["number"].as_str().unwrap_or_default();
    assert!(number.contains('*'), "the masked number: {body}");
    assert!(
        !body.to_string().contains(&env.sim.billing_keys().await[0]),
        "never the billing key: {body}"
    );

    let (name, value) = c.auth();
    let r = env
        .http
        .delete(env.url("/api/customer/card"))
        .header(name, value)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["removed"], 1);
    let (status, body) = env.get_as(&c, "/api/customer/card").await;
    assert_eq!(
        (status, &body),
        (StatusCode::OK, &json!({"card": null})),
        "removed"
    );
    assert_eq!(
        env.sim.count("delete", "processed").await,
        1,
        "deleted at Toss"
    );
}
