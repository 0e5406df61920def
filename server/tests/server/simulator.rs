//! The simulator is as strict as Toss where exactly-once depends on it: validation, idempotency
//! with `409` while in progress, the order lookup, and state that survives a restart or SIGKILL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{sim_calls, sim_rule, Db, Proc, Sim, TempDir};
use crate::{stories, SQLITE};
use billing_server::toss::basic_auth;
use toss_sim::sandbox_auth_key;

stories! {
    SQLITE => it_validates_like_the_documented_api,
    SQLITE => a_duplicate_in_progress_gets_409_then_the_first_answer,
    SQLITE => it_remembers_everything_across_a_restart_and_a_sigkill,
    SQLITE => scripted_outcomes_over_http,
}

pub const SECRET: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";

/// A merchant's backend calling the simulator as it would call Toss.
pub struct Toss {
    pub base: String,
    pub http: reqwest::Client,
    pub secret: &'static str,
}

impl Toss {
    pub fn new(base: &str) -> Toss {
        Toss {
            base: base.to_owned(),
            http: reqwest::Client::new(),
            secret: SECRET,
        }
    }
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url),
        }
        .header("authorization", basic_auth(self.secret));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let r = request.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    pub async fn issue(
        &self,
        auth_key: &str,
        customer_key: &str,
        key: Option<&str>,
    ) -> (u16, Value) {
        self.call(
            "POST",
            "/v1/billing/authorizations/issue",
            key,
            Some(json!({"authKey": auth_key, "customerKey": customer_key})),
            &[],
        )
        .await
    }
    pub async fn charge(&self, billing_key: &str, body: Value, key: Option<&str>) -> (u16, Value) {
        let path = format!("/v1/billing/{}", billing_key.replace('=', "%3D"));
        self.call("POST", &path, key, Some(body), &[]).await
    }
    /// `POST /v1/payments/{paymentKey}/cancel`.
    pub async fn cancel(&self, payment_key: &str, body: Value, key: Option<&str>) -> (u16, Value) {
        let path = format!("/v1/payments/{payment_key}/cancel");
        self.call("POST", &path, key, Some(body), &[]).await
    }
    /// `GET /v1/payments/{paymentKey}`.
    pub async fn payment(&self, payment_key: &str) -> (u16, Value) {
        let path = format!("/v1/payments/{payment_key}");
        self.call("GET", &path, None, None, &[]).await
    }
    /// `DELETE /v1/billing/{billingKey}`.
    pub async fn delete(&self, billing_key: &str) -> (u16, Value) {
        let path = format!("/v1/billing/{}", billing_key.replace('=', "%3D"));
        self.call("DELETE", &path, None, None, &[]).await
    }
    /// A billing key for `customer_key` on the card with these last 4 digits.
    pub async fn card(&self, customer_key: &str, last4: &str) -> String {
        let auth_key = sandbox_auth_key(customer_key, "433012", last4, "1299", "PERSONAL");
        let (status, issued) = self.issue(&auth_key, customer_key, None).await;
        assert_eq!(status, 200, "{issued}");
        issued["billingKey"].as_str().unwrap().to_owned()
    }
    /// A billing key for `customer_key` and one approved charge of `amount`: the Payment.
    pub async fn paid(&self, customer_key: &str, order_id: &str, amount: i64) -> Value {
        let billing_key = self.card(customer_key, "1234").await;
        let (status, paid) = self
            .charge(&billing_key, charge(order_id, customer_key, amount), None)
            .await;
        assert_eq!(
            (status, paid["status"].as_str()),
            (200, Some("DONE")),
            "{paid}"
        );
        paid
    }
}

/// A charge body.
pub fn charge(order_id: &str, customer_key: &str, amount: i64) -> Value {
    json!({"customerKey": customer_key, "amount": amount, "orderId": order_id, "orderName": "월간 구독"})
}

async fn it_validates_like_the_documented_api(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let toss = Toss::new(&sim.url);
    let r = toss
        .http
        .post(format!("{}/v1/billing/authorizations/issue", sim.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        toss.call(
            "POST",
            "/v1/billing/authorizations/issue",
            None,
            Some(json!({"authKey": "a", "customerKey": "ck-1", "x": 1})),
            &[]
        )
        .await
        .1["code"],
        "INVALID_REQUEST"
    );
    let (status, issued) = toss.issue("plain-auth-key", "ck-1", None).await;
    assert_eq!(status, 200);
    let billing_key = issued["billingKey"].as_str().unwrap().to_owned();
    assert!(billing_key.ends_with('='), "billing keys can end in '='");
    assert_eq!(
        toss.issue("plain-auth-key", "ck-1", None).await.1["code"],
        "INVALID_AUTH_KEY",
        "authKeys are one-time"
    );
    assert_eq!(
        toss.charge("nope", charge("order-1", "ck-1", 9900), None)
            .await
            .1["code"],
        "INVALID_BILL_KEY_REQUEST"
    );
    assert_eq!(
        toss.charge(&billing_key, charge("order-1", "ck-2", 9900), None)
            .await
            .1["code"],
        "NOT_MATCHES_CUSTOMER_KEY"
    );
    assert_eq!(
        toss.charge(&billing_key, charge("order-1", "ck-1", 50), None)
            .await
            .1["code"],
        "BELOW_MINIMUM_AMOUNT"
    );
    assert_eq!(
        toss.charge(&billing_key, charge("o", "ck-1", 9900), None)
            .await
            .1["code"],
        "INVALID_REQUEST"
    );
    let (status, paid) = toss
        .charge(&billing_key, charge("order-1", "ck-1", 9900), None)
        .await;
    assert_eq!(
        (status, paid["status"].as_str(), paid["type"].as_str()),
        (200, Some("DONE"), Some("BILLING"))
    );
    assert_eq!(
        toss.charge(&billing_key, charge("order-1", "ck-1", 9900), None)
            .await
            .1["code"],
        "DUPLICATED_ORDER_ID"
    );
    let (status, found) = toss
        .call("GET", "/v1/payments/orders/order-1", None, None, &[])
        .await;
    assert_eq!((status, &found["paymentKey"]), (200, &paid["paymentKey"]));
    let (status, missing) = toss
        .call("GET", "/v1/payments/orders/order-none", None, None, &[])
        .await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );
    let (status, coded) = toss
        .call(
            "POST",
            "/v1/billing/authorizations/issue",
            None,
            Some(json!({"authKey": "another", "customerKey": "ck-1"})),
            &[("TossPayments-Test-Code", "INVALID_CARD_EXPIRATION")],
        )
        .await;
    assert_eq!(
        (status, coded["code"].as_str()),
        (400, Some("INVALID_CARD_EXPIRATION"))
    );
    let card = sandbox_auth_key("ck-3", "451842", "4001", "1299", "PERSONAL");
    assert_eq!(
        toss.issue(&card, "ck-3", None).await.1["code"],
        "INVALID_STOPPED_CARD"
    );
}

async fn a_duplicate_in_progress_gets_409_then_the_first_answer(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    sim.rule(json!({"api": "issue", "delayMs": 800, "times": 1}));
    let toss = Toss::new(&sim.url);
    let first = toss.issue("auth-1", "ck-1", Some("ak-one"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        toss.issue("auth-1", "ck-1", Some("ak-one")).await
    };
    let ((s1, b1), (s2, b2)) = tokio::join!(first, second);
    assert_eq!(s1, 200);
    assert_eq!(
        (s2, b2["code"].as_str()),
        (409, Some("IDEMPOTENT_REQUEST_PROCESSING"))
    );
    let (s3, b3) = toss.issue("auth-1", "ck-1", Some("ak-one")).await;
    assert_eq!(
        (s3, &b3["billingKey"]),
        (200, &b1["billingKey"]),
        "a repeat gets the first answer"
    );
    assert_eq!(sim.billing_keys().await.len(), 1);
    // A key is scoped to its path: the same key on another API is another request.
    let billing_key = b1["billingKey"].as_str().unwrap();
    let (status, _) = toss
        .charge(billing_key, charge("order-9", "ck-1", 9900), Some("ak-one"))
        .await;
    assert_eq!(status, 200);
}

async fn it_remembers_everything_across_a_restart_and_a_sigkill(_: Db) {
    let dir = TempDir::new();
    let path = dir.path().join("sim.sqlite");
    let env = [
        ("SIMULATOR_DATABASE", path.display().to_string()),
        ("PORT", "0".to_owned()),
    ];
    let mut sim = Proc::spawn("simulator", &["simulate"], &env).await;
    let toss = Toss::new(&sim.url);
    let (_, issued) = toss.issue("auth-kept", "ck-1", Some("ak-kept")).await;
    let billing_key = issued["billingKey"].as_str().unwrap().to_owned();
    toss.charge(
        &billing_key,
        charge("order-kept-1", "ck-1", 9900),
        Some("ch-1"),
    )
    .await;
    sim.kill().await;
    let sim = Proc::spawn("simulator", &["simulate"], &env).await;
    let toss = Toss::new(&sim.url);
    let (status, _) = toss
        .charge(&billing_key, charge("order-kept-2", "ck-1", 9900), None)
        .await;
    assert_eq!(
        status, 200,
        "a card registered before the restart is still chargeable"
    );
    assert_eq!(
        toss.issue("auth-kept", "ck-1", None).await.1["code"],
        "INVALID_AUTH_KEY"
    );
    let (status, replay) = toss.issue("auth-kept", "ck-1", Some("ak-kept")).await;
    assert_eq!(
        (status, &replay["billingKey"]),
        (200, &issued["billingKey"]),
        "idempotency records survive"
    );
    assert_eq!(
        toss.charge(&billing_key, charge("order-kept-1", "ck-1", 9900), None)
            .await
            .1["code"],
        "DUPLICATED_ORDER_ID"
    );
    let http = reqwest::Client::new();
    assert_eq!(
        sim_calls(&http, &sim.url, "charge").await.len(),
        3,
        "the call log survives too"
    );
}

async fn scripted_outcomes_over_http(_: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("sim.sqlite")).await;
    let http = reqwest::Client::new();
    let toss = Toss::new(&sim.url);
    let (_, issued) = toss.issue("auth-s", "ck-s", None).await;
    let billing_key = issued["billingKey"].as_str().unwrap().to_owned();
    sim_rule(&http, &sim.url, json!({"api": "charge", "customerKey": "ck-s", "skip": 1, "times": 1, "code": "REJECT_CARD_PAYMENT"})).await;
    assert_eq!(
        toss.charge(&billing_key, charge("order-s1", "ck-s", 9900), None)
            .await
            .0,
        200
    );
    assert_eq!(
        toss.charge(&billing_key, charge("order-s2", "ck-s", 9900), None)
            .await
            .1["code"],
        "REJECT_CARD_PAYMENT"
    );
    assert_eq!(
        toss.charge(&billing_key, charge("order-s3", "ck-s", 9900), None)
            .await
            .0,
        200
    );
    sim_rule(
        &http,
        &sim.url,
        json!({"api": "charge", "status": 503, "times": 1}),
    )
    .await;
    assert_eq!(
        toss.charge(&billing_key, charge("order-s4", "ck-s", 9900), Some("k4"))
            .await
            .0,
        503
    );
    assert_eq!(
        toss.charge(&billing_key, charge("order-s4", "ck-s", 9900), Some("k4"))
            .await
            .0,
        200,
        "a 5xx is not replayed"
    );
    let r = http
        .post(format!("{}/__control/rules", sim.url))
        .json(&json!({"api": "charge", "bogus": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let stats: Value = http
        .get(format!("{}/__control/stats", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["paymentsDone"], 3);
    let r = http
        .delete(format!("{}/__control/rules", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
