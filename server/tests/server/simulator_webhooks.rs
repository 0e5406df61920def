//! The webhooks the simulator sends, as Toss sends them (contract §10): to the endpoint registered
//! at `/__control/webhook`, with the three transmission headers and the documented body, retried
//! on anything but a `200` with one transmission id, from a durable outbox that a SIGKILL does
//! not empty. The receiver is a tiny axum server on 127.0.0.1.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::simulator::Toss;
use crate::support::{eventually, Db, Proc, Sim, TempDir};
use crate::{stories, SQLITE};

stories! {
    SQLITE => webhooks_are_delivered_with_toss_headers_and_retried_until_a_200,
    SQLITE => console_actions_deletions_and_test_faults_send_webhooks,
    SQLITE => webhook_deliveries_survive_a_simulator_sigkill,
}

/// One delivery as the merchant's endpoint saw it.
#[derive(Debug, Clone)]
struct Received {
    transmission_id: String,
    transmission_time: String,
    retried_count: u32,
    body: Value,
}

/// A merchant's webhook endpoint: answers `statuses` in turn, then `200`, and keeps every
/// delivery.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(statuses: &[u16]) -> Receiver {
        let answers = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let endpoint = {
            let seen = seen.clone();
            move |headers: HeaderMap, body: Bytes| async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                seen.lock().unwrap().push(Received {
                    transmission_id: header("tosspayments-webhook-transmission-id"),
                    transmission_time: header("tosspayments-webhook-transmission-time"),
                    retried_count: header("tosspayments-webhook-transmission-retried-count")
                        .parse()
                        .expect("a retried count"),
                    body: serde_json::from_slice(&body).expect("a JSON body"),
                });
                let status = answers.lock().unwrap().pop_front().unwrap_or(200);
                StatusCode::from_u16(status).unwrap()
            }
        };
        let app = axum::Router::new().route("/hooks/toss", axum::routing::post(endpoint));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/toss", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, seen }
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    async fn until_seen(&self, count: usize) -> Vec<Received> {
        eventually(&format!("{count} webhook deliveries"), 15, || async {
            self.seen().len() >= count
        })
        .await;
        self.seen()
    }
}

/// `PUT /__control/webhook`, with every retry 100 ms after the failure before it.
async fn register(http: &reqwest::Client, sim_url: &str, url: &str, first_retry_ms: u64) {
    let delays = [first_retry_ms, 100, 100, 100, 100, 100, 100];
    let r = http
        .put(format!("{sim_url}/__control/webhook"))
        .json(&json!({"url": url, "retryDelaysMs": delays}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn control(
    http: &reqwest::Client,
    method: &str,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = match method {
        "GET" => http.get(url),
        "PUT" => http.put(url),
        "DELETE" => http.delete(url),
        _ => http.post(url),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSSSSS`, no zone.
fn is_webhook_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 26
        && b[10] == b'T'
        && b[19] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit())
}

async fn webhooks_are_delivered_with_toss_headers_and_retried_until_a_200(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let http = reqwest::Client::new();
    let receiver = Receiver::start(&[500, 500]).await;
    register(&http, &sim.url, &receiver.url, 100).await;
    let toss = Toss::new(&sim.url);
    let paid = toss.paid("ck-hook", "order-hook", 9900).await;
    assert!(
        receiver.seen().is_empty(),
        "no webhook when a billing charge succeeds"
    );
    let payment_key = paid["paymentKey"].as_str().unwrap();
    let (status, canceled) = toss
        .cancel(payment_key, json!({"cancelReason": "고객 요청"}), None)
        .await;
    assert_eq!(status, 200);

    let seen = receiver.until_seen(3).await;
    assert_eq!(
        seen.iter().map(|r| r.retried_count).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let id = &seen[0].transmission_id;
    assert!(!id.is_empty());
    assert!(
        seen.iter().all(|r| &r.transmission_id == id),
        "one transmission id"
    );
    assert!(seen.iter().all(|r| !r.transmission_time.is_empty()));
    let body = &seen[2].body;
    assert_eq!(body["eventType"], "PAYMENT_STATUS_CHANGED");
    assert!(
        is_webhook_time(body["createdAt"].as_str().unwrap()),
        "{body}"
    );
    assert_eq!(body["data"], canceled, "data is the whole Payment");
    assert!(
        seen.iter().all(|r| &r.body == body),
        "the same body on every retry"
    );
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["createdAt", "data", "eventType"]
    );

    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.seen().len(), 3, "nothing after the 200");
    let (_, listed) = control(
        &http,
        "GET",
        format!("{}/__control/webhook/deliveries", sim.url),
        None,
    )
    .await;
    let deliveries = listed["deliveries"].as_array().unwrap();
    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d["retriedCount"].as_u64(), d["status"].as_u64()))
            .collect::<Vec<_>>(),
        [
            (Some(0), Some(500)),
            (Some(1), Some(500)),
            (Some(2), Some(200))
        ]
    );
    assert!(deliveries.iter().all(|d| &d["transmissionId"] == id));
    let (_, events) = control(
        &http,
        "GET",
        format!("{}/__control/webhook/events", sim.url),
        None,
    )
    .await;
    assert_eq!(events["events"][0]["state"], "DELIVERED");
    assert_eq!(events["events"][0]["attempts"], 3);
}

async fn console_actions_deletions_and_test_faults_send_webhooks(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let http = reqwest::Client::new();
    let receiver = Receiver::start(&[]).await;
    let put = |body: Value| {
        control(
            &http,
            "PUT",
            format!("{}/__control/webhook", sim.url),
            Some(body),
        )
    };
    assert_eq!(put(json!({"url": "not a url"})).await.0, 400);
    assert_eq!(put(json!({"url": "ftp://127.0.0.1/"})).await.0, 400);
    assert_eq!(
        put(json!({"url": receiver.url, "retryDelaysMs": [1, 2, 3]}))
            .await
            .0,
        400
    );
    assert_eq!(
        put(json!({"url": receiver.url, "secret": "x"})).await.0,
        400
    );
    let (status, registered) = put(json!({"url": receiver.url})).await;
    assert_eq!(status, 200);
    assert_eq!(
        registered["retryDelaysMs"],
        json!([
            60_000,
            240_000,
            960_000,
            3_840_000,
            15_360_000,
            61_440_000,
            245_760_000
        ]),
        "Toss's schedule by default"
    );
    let toss = Toss::new(&sim.url);

    // A cancel in the console: the API's rules, no secret key, the same webhook.
    let paid = toss.paid("ck-console", "order-console", 9900).await;
    let console_cancel = |payment_key: String, body: Value| {
        control(
            &http,
            "POST",
            format!(
                "{}/__control/console/payments/{payment_key}/cancel",
                sim.url
            ),
            Some(body),
        )
    };
    let payment_key = paid["paymentKey"].as_str().unwrap().to_owned();
    let (status, partial) = console_cancel(
        payment_key.clone(),
        json!({"cancelReason": "콘솔 환불", "cancelAmount": 1000}),
    )
    .await;
    assert_eq!(
        (status, partial["status"].as_str()),
        (200, Some("PARTIAL_CANCELED"))
    );
    sim.clock.advance(1_100).unwrap();
    let (status, over) = console_cancel(
        payment_key.clone(),
        json!({"cancelReason": "콘솔 환불", "cancelAmount": 1_000_000}),
    )
    .await;
    assert_eq!(
        (status, over["code"].as_str()),
        (403, Some("NOT_CANCELABLE_AMOUNT"))
    );
    let (status, _) = console_cancel("tbill-nope".into(), json!({"cancelReason": "r"})).await;
    assert_eq!(status, 404);
    let seen = receiver.until_seen(1).await;
    assert_eq!(seen[0].body["eventType"], "PAYMENT_STATUS_CHANGED");
    assert_eq!(seen[0].body["data"], partial);

    // Deletions: through the API, then in the console.
    let by_api = toss.card("ck-bye", "1234").await;
    assert_eq!(toss.delete(&by_api).await.0, 200);
    let in_console = toss.card("ck-bye-2", "1234").await;
    let (status, _) = control(
        &http,
        "POST",
        format!(
            "{}/__control/console/billing/{}/delete",
            sim.url,
            in_console.replace('=', "%3D")
        ),
        Some(json!({"reason": "고객 탈퇴"})),
    )
    .await;
    assert_eq!(status, 200);
    let seen = receiver.until_seen(3).await;
    assert_eq!(
        seen[1].body["data"],
        json!({"billingKey": by_api, "reason": "삭제 API 요청"})
    );
    assert_eq!(seen[1].body["eventType"], "BILLING_DELETED");
    assert_eq!(
        seen[2].body["data"],
        json!({"billingKey": in_console, "reason": "고객 탈퇴"})
    );
    assert_ne!(seen[1].transmission_id, seen[2].transmission_id);

    // A lying event, delivered twice under one transmission id, then once more on request.
    let (status, sent) = control(
        &http,
        "POST",
        format!("{}/__control/webhook/send", sim.url),
        Some(json!({"eventType": "BILLING_DELETED", "data": {"billingKey": "never-issued", "reason": "삭제 API 요청"}, "repeat": 2})),
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    let id = sent["transmissionId"].as_str().unwrap().to_owned();
    let seen = receiver.until_seen(5).await;
    assert!(seen[3..].iter().all(|r| r.transmission_id == id));
    assert_eq!(seen[4].body, seen[3].body);
    assert_eq!(seen[3].body["data"]["billingKey"], "never-issued");
    let (status, _) = control(
        &http,
        "POST",
        format!("{}/__control/webhook/deliveries/{id}/redeliver", sim.url),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let seen = receiver.until_seen(6).await;
    assert_eq!(seen[5].transmission_id, id);
    let (status, _) = control(
        &http,
        "POST",
        format!("{}/__control/webhook/deliveries/wh_nope/redeliver", sim.url),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Without a registration nothing is sent.
    let (status, _) = control(
        &http,
        "DELETE",
        format!("{}/__control/webhook", sim.url),
        None,
    )
    .await;
    assert_eq!(status, 200);
    sim.clock.advance(1_100).unwrap();
    let (status, _) = console_cancel(payment_key, json!({"cancelReason": "나머지"})).await;
    assert_eq!(status, 200);
    let (status, refused) = control(
        &http,
        "POST",
        format!("{}/__control/webhook/send", sim.url),
        Some(json!({"eventType": "X", "data": {}})),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("NO_WEBHOOK_REGISTERED"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.seen().len(), 6);
    let stats = sim.sim.stats().await.unwrap();
    assert_eq!((stats.cancels, stats.payments_canceled), (2, 1));
}

async fn webhook_deliveries_survive_a_simulator_sigkill(_: Db) {
    let dir = TempDir::new();
    let env = [
        (
            "SIMULATOR_DATABASE",
            dir.path().join("sim.sqlite").display().to_string(),
        ),
        ("PORT", "0".to_owned()),
    ];
    let http = reqwest::Client::new();
    let receiver = Receiver::start(&[500]).await;
    let mut first = Proc::spawn("simulator", &["simulate"], &env).await;
    // The retry falls due 3 s after the failure: well after the SIGKILL below.
    register(&http, &first.url, &receiver.url, 3_000).await;
    let toss = Toss::new(&first.url);
    let paid = toss.paid("ck-kill", "order-kill", 9900).await;
    let payment_key = paid["paymentKey"].as_str().unwrap();
    let (status, canceled) = toss
        .cancel(payment_key, json!({"cancelReason": "고객 요청"}), None)
        .await;
    assert_eq!(status, 200);
    let deliveries_url = |base: &str| format!("{base}/__control/webhook/deliveries");
    eventually("the first delivery is recorded", 15, || async {
        let (_, listed) = control(&http, "GET", deliveries_url(&first.url), None).await;
        listed["deliveries"]
            .as_array()
            .is_some_and(|d| d.len() == 1)
    })
    .await;
    first.kill().await;

    let second = Proc::spawn("simulator", &["simulate"], &env).await;
    let seen = receiver.until_seen(2).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].transmission_id, seen[0].transmission_id);
    assert_eq!(seen[1].retried_count, 1);
    assert_eq!(seen[1].body["data"], canceled);
    let (_, listed) = control(&http, "GET", deliveries_url(&second.url), None).await;
    let statuses: Vec<_> = listed["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_u64())
        .collect();
    assert_eq!(statuses, [Some(500), Some(200)]);
}
