//! The simulator's refunds (cancels), lookups by paymentKey, billing-key deletions and receipt
//! pages, as strict as the contract (§10): whole and partial cancels, the documented refusals,
//! Idempotency-Key replays and `409` while in progress, one cancel per second per payment.

use std::time::Duration;

use serde_json::{json, Value};

use crate::simulator::{charge, Toss};
use crate::support::{Db, Sim, TempDir};
use crate::{stories, SQLITE};

stories! {
    SQLITE => a_refund_cancels_the_whole_payment_and_lookups_show_it,
    SQLITE => partial_refunds_run_down_to_zero_then_already_canceled,
    SQLITE => refunds_are_validated_and_refused_like_the_documented_api,
    SQLITE => a_declined_payment_cannot_be_refunded,
    SQLITE => a_replayed_refund_returns_the_first_answer_and_refunds_once,
    SQLITE => a_duplicate_refund_while_the_first_is_delayed_gets_409,
    SQLITE => two_refunds_within_a_second_only_the_first_is_processed,
    SQLITE => a_deleted_billing_key_cannot_be_charged,
    SQLITE => the_receipt_page_shows_the_payment_under_the_hosts_prefix,
}

fn reason(amount: Option<i64>) -> Value {
    match amount {
        Some(amount) => json!({"cancelReason": "고객 요청", "cancelAmount": amount}),
        None => json!({"cancelReason": "고객 요청"}),
    }
}

fn key(payment: &Value) -> String {
    payment["paymentKey"].as_str().unwrap().to_owned()
}

/// Past the one-second window between two cancels of one payment.
fn a_second_later(sim: &Sim) {
    sim.clock.advance(1_100).unwrap();
}

async fn a_refund_cancels_the_whole_payment_and_lookups_show_it(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-full", "order-full", 9900).await;
    assert_eq!(paid["isPartialCancelable"], true);
    assert!(paid["cancels"].is_null());
    let (status, found) = toss.payment(&key(&paid)).await;
    assert_eq!((status, &found), (200, &paid), "lookup by paymentKey");

    let (status, canceled) = toss.cancel(&key(&paid), reason(None), None).await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "CANCELED");
    assert_eq!(canceled["totalAmount"], 9900);
    assert_eq!(canceled["balanceAmount"], 0);
    assert_eq!(canceled["paymentKey"], paid["paymentKey"]);
    let cancels = canceled["cancels"].as_array().unwrap();
    assert_eq!(cancels.len(), 1);
    let entry = &cancels[0];
    assert_eq!(entry["cancelAmount"], 9900);
    assert_eq!(entry["cancelReason"], "고객 요청");
    assert_eq!(entry["refundableAmount"], 0);
    assert_eq!(entry["taxFreeAmount"], 0);
    assert_eq!(entry["taxExemptionAmount"], 0);
    assert_eq!(entry["easyPayDiscountAmount"], 0);
    assert_eq!(entry["cancelStatus"], "DONE");
    assert!(entry["cancelRequestId"].is_null());
    assert!(entry["transactionKey"]
        .as_str()
        .is_some_and(|k| !k.is_empty()));
    assert!(entry["receiptKey"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(entry["canceledAt"]
        .as_str()
        .is_some_and(|at| at.ends_with("+09:00")));

    let (_, by_order) = toss
        .call("GET", "/v1/payments/orders/order-full", None, None, &[])
        .await;
    assert_eq!(by_order, canceled, "the order lookup shows the cancel");
    let (_, by_key) = toss.payment(&key(&paid)).await;
    assert_eq!(by_key, canceled, "the paymentKey lookup shows the cancel");
    let (status, missing) = toss.payment("tbill-nope").await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );
    let stats = sim.sim.stats().await.unwrap();
    assert_eq!(
        (
            stats.payments_canceled,
            stats.cancels,
            stats.refunded_amount
        ),
        (1, 1, 9900)
    );
    let calls = sim.calls("cancel").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, "processed");
    assert_eq!(calls[0].customer_key.as_deref(), Some("ck-full"));
    assert_eq!(calls[0].order_id.as_deref(), Some("order-full"));
    assert_eq!(calls[0].payment_key.as_deref(), Some(key(&paid).as_str()));
    assert_eq!(sim.count("payment", "found").await, 2);
    assert_eq!(sim.count("payment", "not_found").await, 1);
}

async fn partial_refunds_run_down_to_zero_then_already_canceled(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-part", "order-part", 10_000).await;
    let mut transaction_keys = Vec::new();
    for (amount, left, status) in [
        (Some(3_000), 7_000, "PARTIAL_CANCELED"),
        (Some(2_500), 4_500, "PARTIAL_CANCELED"),
        (None, 0, "CANCELED"),
    ] {
        let (code, answer) = toss.cancel(&key(&paid), reason(amount), None).await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(
            (answer["status"].as_str(), answer["balanceAmount"].as_i64()),
            (Some(status), Some(left))
        );
        assert_eq!(answer["totalAmount"], 10_000);
        let last = answer["cancels"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(last["refundableAmount"], left);
        transaction_keys.push(last["transactionKey"].as_str().unwrap().to_owned());
        a_second_later(&sim);
    }
    let unique: std::collections::HashSet<_> = transaction_keys.iter().collect();
    assert_eq!(unique.len(), 3, "a transactionKey per cancel");
    let (status, refused) = toss.cancel(&key(&paid), reason(None), None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("ALREADY_CANCELED_PAYMENT"))
    );
    let (status, refused) = toss.cancel(&key(&paid), reason(Some(100)), None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("ALREADY_CANCELED_PAYMENT"))
    );
    let (_, found) = toss.payment(&key(&paid)).await;
    let amounts: Vec<i64> = found["cancels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cancelAmount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [3_000, 2_500, 4_500]);
}

async fn refunds_are_validated_and_refused_like_the_documented_api(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-val", "order-val", 9900).await;
    let invalid = [
        json!({}),
        json!({"cancelReason": ""}),
        json!({"cancelReason": "가".repeat(201)}),
        json!({"cancelReason": "r", "cancelAmount": 0}),
        json!({"cancelReason": "r", "cancelAmount": -100}),
        json!({"cancelReason": "r", "cancelAmount": "100"}),
        json!({"cancelReason": "r", "amount": 100}),
        json!({"cancelReason": "r", "refundReceiveAccount": {"bank": "20", "accountNumber": "123", "holderName": "홍길동"}}),
    ];
    for body in invalid {
        let (status, answer) = toss.cancel(&key(&paid), body.clone(), None).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{body}"
        );
    }
    let (status, over) = toss.cancel(&key(&paid), reason(Some(9901)), None).await;
    assert_eq!(
        (status, over["code"].as_str()),
        (403, Some("NOT_CANCELABLE_AMOUNT"))
    );
    let (status, missing) = toss.cancel("tbill-nope", reason(None), None).await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );
    let other_merchant = Toss {
        secret: "test_sk_AnotherMerchantKey0000000000",
        ..Toss::new(&sim.url)
    };
    let (status, _) = other_merchant.cancel(&key(&paid), reason(None), None).await;
    assert_eq!(
        status, 404,
        "another merchant's payment does not exist for it"
    );
    let (_, untouched) = toss.payment(&key(&paid)).await;
    assert_eq!(untouched["balanceAmount"], 9900, "nothing was refunded");
    assert_eq!(sim.sim.stats().await.unwrap().cancels, 0);
}

async fn a_declined_payment_cannot_be_refunded(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let declining = toss.card("ck-dec", "5001").await;
    let (_, declined) = toss
        .charge(&declining, charge("order-dec", "ck-dec", 9900), None)
        .await;
    assert_eq!(declined["code"], "REJECT_CARD_PAYMENT");
    let (_, aborted) = toss
        .call("GET", "/v1/payments/orders/order-dec", None, None, &[])
        .await;
    assert_eq!(aborted["status"], "ABORTED");
    let (status, refused) = toss.cancel(&key(&aborted), reason(None), None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("NOT_CANCELABLE_PAYMENT"))
    );

    // A card whose payments can only be cancelled whole (last 4 digits 5002).
    let whole_only = toss.card("ck-whole", "5002").await;
    let (_, paid) = toss
        .charge(&whole_only, charge("order-whole", "ck-whole", 9900), None)
        .await;
    assert_eq!(paid["isPartialCancelable"], false);
    let (status, refused) = toss.cancel(&key(&paid), reason(Some(1000)), None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("NOT_ALLOWED_PARTIAL_REFUND"))
    );
    let (status, canceled) = toss.cancel(&key(&paid), reason(None), None).await;
    assert_eq!(
        (status, canceled["status"].as_str()),
        (200, Some("CANCELED"))
    );
}

async fn a_replayed_refund_returns_the_first_answer_and_refunds_once(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-rep", "order-rep", 9900).await;
    let (status, first) = toss
        .cancel(&key(&paid), reason(Some(1000)), Some("refund-1"))
        .await;
    assert_eq!(status, 200, "{first}");
    a_second_later(&sim);
    let (status, replay) = toss
        .cancel(&key(&paid), reason(Some(1000)), Some("refund-1"))
        .await;
    assert_eq!((status, &replay), (200, &first), "the first answer, again");
    let (_, found) = toss.payment(&key(&paid)).await;
    assert_eq!(found["balanceAmount"], 8900, "refunded once");
    assert_eq!(found["cancels"].as_array().unwrap().len(), 1);
    assert_eq!(sim.count("cancel", "replayed").await, 1);

    // An injected failure is not kept for replays: the retry with the same key is processed.
    sim.rule(json!({"api": "cancel", "paymentKey": key(&paid), "times": 1, "code": "FAILED_REFUND_PROCESS"}));
    let (status, failed) = toss
        .cancel(&key(&paid), reason(Some(500)), Some("refund-2"))
        .await;
    assert_eq!(
        (status, failed["code"].as_str()),
        (500, Some("FAILED_REFUND_PROCESS"))
    );
    let (status, retried) = toss
        .cancel(&key(&paid), reason(Some(500)), Some("refund-2"))
        .await;
    assert_eq!(
        (status, retried["balanceAmount"].as_i64()),
        (200, Some(8400))
    );
    assert_eq!(sim.sim.stats().await.unwrap().cancels, 2);
}

async fn a_duplicate_refund_while_the_first_is_delayed_gets_409(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-dup", "order-dup", 9900).await;
    sim.rule(json!({"api": "cancel", "customerKey": "ck-dup", "delayMs": 800, "times": 1}));
    let payment_key = key(&paid);
    let first = toss.cancel(&payment_key, reason(None), Some("refund-dup"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        toss.cancel(&payment_key, reason(None), Some("refund-dup"))
            .await
    };
    let ((s1, b1), (s2, b2)) = tokio::join!(first, second);
    assert_eq!((s1, b1["status"].as_str()), (200, Some("CANCELED")));
    assert_eq!(
        (s2, b2["code"].as_str()),
        (409, Some("IDEMPOTENT_REQUEST_PROCESSING"))
    );
    let (s3, b3) = toss
        .cancel(&key(&paid), reason(None), Some("refund-dup"))
        .await;
    assert_eq!((s3, &b3), (200, &b1), "then the first answer");
    assert_eq!(sim.sim.stats().await.unwrap().cancels, 1);
}

async fn two_refunds_within_a_second_only_the_first_is_processed(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-con", "order-con", 9900).await;
    let (status, _) = toss
        .cancel(&key(&paid), reason(Some(1000)), Some("refund-a"))
        .await;
    assert_eq!(status, 200);
    let (status, refused) = toss
        .cancel(&key(&paid), reason(Some(1000)), Some("refund-b"))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("FORBIDDEN_CONSECUTIVE_REQUEST"))
    );
    let (_, found) = toss.payment(&key(&paid)).await;
    assert_eq!(found["balanceAmount"], 8900, "only the first was processed");
    a_second_later(&sim);
    let (status, second) = toss
        .cancel(&key(&paid), reason(Some(1000)), Some("refund-b"))
        .await;
    assert_eq!(
        (status, second["balanceAmount"].as_i64()),
        (200, Some(7900)),
        "a refused call's key is not kept: its retry a second later is processed"
    );
}

async fn a_deleted_billing_key_cannot_be_charged(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let billing_key = toss.card("ck-del", "1234").await;
    let (status, deleted) = toss.delete(&billing_key).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["billingKey"], billing_key.as_str());
    assert!(deleted["deletedAt"].as_str().is_some());
    let (status, refused) = toss
        .charge(&billing_key, charge("order-del", "ck-del", 9900), None)
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("INVALID_BILL_KEY_REQUEST"))
    );
    for gone in [billing_key.as_str(), "no-such-key"] {
        let (status, again) = toss.delete(gone).await;
        assert_eq!(
            (status, again["code"].as_str()),
            (400, Some("INVALID_BILL_KEY_REQUEST"))
        );
    }
    let calls = sim.calls("delete").await;
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].customer_key.as_deref(), Some("ck-del"));
    assert_eq!(
        calls.iter().map(|c| c.outcome.as_str()).collect::<Vec<_>>(),
        ["processed", "refused", "refused"]
    );
    let stats = sim.sim.stats().await.unwrap();
    assert_eq!((stats.billing_keys, stats.billing_keys_deleted), (1, 1));
}

async fn the_receipt_page_shows_the_payment_under_the_hosts_prefix(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-rcpt", "order-rcpt", 12_300).await;
    let url = paid["receipt"]["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/receipts/{}", sim.url, key(&paid)));
    let page = toss.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("12,300원"), "{html}");
    assert!(html.contains("433012******123*"));
    assert!(html.contains(paid["card"]["approveNo"].as_str().unwrap()));
    let missing = toss
        .http
        .get(format!("{}/receipts/tbill-nope", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // Nested under a prefix, as billing-server's demo mounts it: the URL keeps the prefix.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().nest_service("/__toss-sim", sim.sim.router());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(toss_sim::serve::serve(listener, app, stop.clone()));
    let nested = Toss::new(&format!("{host}/__toss-sim"));
    let billing_key = nested.card("ck-nest", "1234").await;
    let (_, paid) = nested
        .charge(&billing_key, charge("order-nest", "ck-nest", 9900), None)
        .await;
    let url = paid["receipt"]["url"].as_str().unwrap();
    assert_eq!(url, format!("{host}/__toss-sim/receipts/{}", key(&paid)));
    let html = toss
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("9,900원"), "{html}");
    stop.cancel();
}
