//! Running it as a service (issue 32): the metrics after a scripted hand-off, charges, a refund, a
//! decline, a webhook that refuses and a rate limit (exact values); a lease taken over after a SIGKILL;
//! readiness during a real SIGTERM drain, on a kept-alive connection and a new one; the JSON log
//! lines of a hand-off, a subscription charge, an operator charge and its refund (their shape,
//! their request ids, and no authKey, billing key or secret key in any of them); answers that name no path, crate, type or
//! field they should not (an empty dist, dotfiles, operator routes with a wrong token).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use toss_sim::sandbox_auth_key;

use crate::support::{
    count, database, eventually, good_card, server_env, Db, Env, Proc, Remote, Sim, TempDir,
    OPERATOR,
};
use crate::{stories, BOTH, SQLITE};

stories! {
    BOTH => metrics_count_a_handoff_charges_a_decline_a_refused_webhook_and_rate_limits_exactly,
    BOTH => a_lease_lapsed_by_a_sigkill_is_counted_once_as_taken_over,
    SQLITE => readiness_turns_503_as_soon_as_sigterm_starts_the_drain,
    SQLITE => json_logs_carry_the_request_id_and_no_secret,
    SQLITE => no_answer_names_a_path_a_crate_or_an_operator_field,
    SQLITE => the_served_description_is_the_committed_file_and_every_operation_is_routed,
}

/// `GET /metrics` with the operator's token: every sample, by its series as written
/// (`name{label="value",…}`).
async fn scrape(http: &reqwest::Client, base: &str) -> HashMap<String, f64> {
    let r = http
        .get(format!("{base}/metrics"))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse::<f64>().unwrap())
        })
        .collect()
}

/// The value of a series, 0 when it was never created (a counter nothing happened to).
fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

/// A merchant's webhook that refuses (500) until told to accept.
struct Hook {
    url: String,
    accept: Arc<AtomicBool>,
    posts: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
}

impl Hook {
    async fn start() -> Hook {
        let accept = Arc::new(AtomicBool::new(false));
        let posts = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let (accept, posts, accepted) = (accept.clone(), posts.clone(), accepted.clone());
                move || {
                    let (accept, posts, accepted) =
                        (accept.clone(), posts.clone(), accepted.clone());
                    async move {
                        posts.fetch_add(1, Ordering::SeqCst);
                        if accept.load(Ordering::SeqCst) {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            axum::http::StatusCode::NO_CONTENT
                        } else {
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hook {
            url,
            accept,
            posts,
            accepted,
        }
    }
}

/// A card that registers and whose every charge is declined (`REJECT_CARD_PAYMENT`).
fn declining_card(customer_key: &str) -> String {
    sandbox_auth_key(customer_key, "433012", "5001", "1299", "PERSONAL")
}

async fn metrics_count_a_handoff_charges_a_decline_a_refused_webhook_and_rate_limits_exactly(
    db: Db,
) {
    let hook = Hook::start().await;
    let url = hook.url.clone();
    let env = Env::start_with(db, move |s| {
        s.scheduler_interval = Duration::from_millis(50);
        s.subscribe_plan = Some(billing_server::settings::DEMO_PLAN_ID.to_owned());
        s.webhook_url = Some(url);
        s.webhook_secret = Some(billing_server::settings::Secret::new(
            "webhook-secret-for-tests-0123456789",
        ));
        s.metrics_refresh = Duration::ZERO;
        s.limits.session_per_minute = 1;
        s.limits.session_burst = 3;
    })
    .await;
    let m = scrape(&env.http, &env.base).await;
    assert_eq!(
        value(
            &m,
            r#"billing_subscriptions{scope="database",status="ACTIVE"}"#
        ),
        0.0
    );
    assert!(
        m.contains_key(r#"billing_scheduler_lag_seconds{scope="database"}"#),
        "the database gauges exist before anything happened"
    );
    assert_eq!(value(&m, "billing_draining"), 0.0);

    // A hand-off on a checkout: the card, a subscription and its first charge (3 events).
    let c = env.shopper(billing_server::settings::DEMO_PLAN_ID).await;
    let (status, body) = env.hand_off_until_final(&c, &good_card(&c.key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A card only (no checkout), every charge of which is declined.
    let d = env.visitor().await;
    let (status, body) = env.hand_off_until_final(&d, &declining_card(&d.key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The operator charges each once.
    let (status, body) = env
        .charge(json!({"orderId": "ops-approved-1", "customerKey": c.key, "amount": 1000, "orderName": "x"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = env
        .charge(json!({"orderId": "ops-declined-1", "customerKey": d.key, "amount": 1000, "orderName": "x"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "REJECT_CARD_PAYMENT");
    // The operator refunds part of the approved charge.
    let (status, body) = refund(
        &env,
        "ops-approved-1",
        json!({"refundId": "ops-refund-1", "amount": 400, "reason": "a partial refund"}),
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("DONE")),
        "{body}"
    );
    // The webhook refused each of the three events once (their next try is 30 s away).
    eventually("each event tried once", 20, || async {
        env.count("SELECT COUNT(*) FROM subscription_events WHERE delivery_attempts >= 1")
            .await
            == 3
    })
    .await;
    assert_eq!(hook.posts.load(Ordering::SeqCst), 3);

    let m = scrape(&env.http, &env.base).await;
    let expect = [
        (
            r#"billing_handoffs_total{outcome="registered",code=""}"#,
            2.0,
        ),
        (
            r#"billing_charges_total{kind="subscription",outcome="approved",code=""}"#,
            1.0,
        ),
        (
            r#"billing_charges_total{kind="operator",outcome="approved",code=""}"#,
            1.0,
        ),
        (
            r#"billing_charges_total{kind="operator",outcome="declined",code="REJECT_CARD_PAYMENT"}"#,
            1.0,
        ),
        (
            r#"billing_toss_request_duration_seconds_count{api="issue",outcome="ok"}"#,
            2.0,
        ),
        (
            r#"billing_toss_request_duration_seconds_count{api="charge",outcome="ok"}"#,
            2.0,
        ),
        (
            r#"billing_toss_request_duration_seconds_count{api="charge",outcome="refused"}"#,
            1.0,
        ),
        (r#"billing_refunds_total{outcome="refunded",code=""}"#, 1.0),
        (
            r#"billing_toss_request_duration_seconds_count{api="cancel",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"billing_webhook_deliveries_total{outcome="refused"}"#,
            3.0,
        ),
        (
            r#"billing_webhook_deliveries_total{outcome="delivered"}"#,
            0.0,
        ),
        (r#"billing_outbox_undelivered{scope="database"}"#, 3.0),
        (
            r#"billing_subscriptions{scope="database",status="ACTIVE"}"#,
            1.0,
        ),
        (
            r#"billing_reconciler_backlog{scope="database",work="exchange"}"#,
            0.0,
        ),
        (
            r#"billing_reconciler_backlog{scope="database",work="charge"}"#,
            0.0,
        ),
        (r#"billing_leases_taken_over_total{work="charge"}"#, 0.0),
        (r#"billing_rate_limited_total{limit="customer"}"#, 0.0),
    ];
    for (series, want) in expect {
        assert_eq!(value(&m, series), want, "{series}");
    }
    for (series, v) in &m {
        if series.starts_with("billing_charges_total")
            || series.starts_with("billing_handoffs_total")
            || series.starts_with("billing_refunds_total")
        {
            assert!(
                expect.iter().any(|(s, _)| s == series) || *v == 0.0,
                "nothing else was counted: {series} {v}"
            );
        }
    }
    assert!(
        value(
            &m,
            r#"billing_outbox_oldest_undelivered_age_seconds{scope="database"}"#
        ) >= 0.0
    );

    // The webhook comes back; after the backoff (the clock moved) every event is delivered.
    hook.accept.store(true, Ordering::SeqCst);
    env.clock.advance(60_000).unwrap();
    eventually("the three events delivered", 20, || async {
        hook.accepted.load(Ordering::SeqCst) == 3
            && env
                .count("SELECT COUNT(*) FROM subscription_events WHERE delivered_at IS NULL")
                .await
                == 0
    })
    .await;
    let m = scrape(&env.http, &env.base).await;
    assert_eq!(
        value(
            &m,
            r#"billing_webhook_deliveries_total{outcome="delivered"}"#
        ),
        3.0
    );
    assert_eq!(
        value(&m, r#"billing_webhook_deliveries_total{outcome="refused"}"#),
        3.0
    );
    assert_eq!(
        value(&m, r#"billing_outbox_undelivered{scope="database"}"#),
        0.0
    );
    assert_eq!(
        value(
            &m,
            r#"billing_outbox_oldest_undelivered_age_seconds{scope="database"}"#
        ),
        0.0
    );

    // A visitor's burst of cookie-less visits: each 429 is counted, nothing else.
    let mut refused = 0;
    for _ in 0..8 {
        let r = env.http.get(env.url("/api/customer")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused >= 5, "the burst of 3 is spent: {refused}");
    let m = scrape(&env.http, &env.base).await;
    assert_eq!(
        value(&m, r#"billing_rate_limited_total{limit="customer"}"#),
        refused as f64
    );
    assert_eq!(
        value(&m, r#"billing_rate_limited_total{limit="checkout"}"#),
        0.0
    );

    // Without the token: 401; with METRICS_TOKEN's own token, in the next story.
    let r = env.http.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// `POST /api/admin/charges/{orderId}/refunds` with the operator's token.
async fn refund(env: &Env, order_id: &str, body: Value) -> (StatusCode, Value) {
    let (status, body, _) = env
        .post(
            &format!("/api/admin/charges/{order_id}/refunds"),
            &[
                ("authorization", &format!("Bearer {OPERATOR}")),
                ("content-type", "application/json"),
            ],
            &body.to_string(),
        )
        .await;
    (status, body)
}

/// SIGTERM without waiting for the exit.
fn sigterm(proc: &Proc) {
    let pid = proc.child.id().expect("running") as i32;
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

async fn a_lease_lapsed_by_a_sigkill_is_counted_once_as_taken_over(db: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("simulator.sqlite")).await;
    let database = database(db, dir.path()).await;
    let metrics_token = "metrics-token-for-tests-0123456789";
    let env_of = |instance: &str| {
        let mut env = server_env(&database, dir.path(), &sim.url, instance);
        env.push(("METRICS_TOKEN", metrics_token.into()));
        env.push(("METRICS_REFRESH_MS", "0".into()));
        env
    };
    let mut a = Proc::spawn("instance a", &[], &env_of("ops-a")).await;
    let remote = Remote::new(&a.url);
    let c = remote.visitor().await;
    let (status, body) = remote.hand_off_until_final(&c, &good_card(&c.key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Toss takes 4 s to answer this charge; instance a dies while it waits.
    sim.rule(json!({"api": "charge", "customerKey": c.key, "delayMs": 4000, "times": 1}));
    let charging = tokio::spawn({
        let body = json!({"orderId": "ops-taken-over", "customerKey": c.key, "amount": 1000, "orderName": "x"});
        async move { remote.charge(&body).await }
    });
    eventually("the charge was sent", 10, || async {
        count(&database, "SELECT COUNT(*) FROM charges WHERE sends = 1").await == 1
    })
    .await;
    a.kill().await;
    let _ = charging.await;
    let b = Proc::spawn("instance b", &[], &env_of("ops-b")).await;
    eventually("instance b settles the charge", 30, || async {
        count(
            &database,
            "SELECT COUNT(*) FROM charges WHERE order_id = 'ops-taken-over' AND status = 'DONE'",
        )
        .await
            == 1
    })
    .await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/metrics", b.url))
        .header("authorization", format!("Bearer {metrics_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("billing_leases_taken_over_total{work=\"charge\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "billing_charges_total{kind=\"operator\",outcome=\"approved\",code=\"\"} 1\n"
        ),
        "{text}"
    );
    assert!(!text.contains("work=\"exchange\"} 1"), "{text}");
}

/// One HTTP/1.1 connection kept alive across requests, as a load balancer's health checker keeps
/// one.
struct KeptAlive {
    stream: BufReader<TcpStream>,
}

impl KeptAlive {
    async fn open(base: &str) -> KeptAlive {
        let addr = base.trim_start_matches("http://");
        KeptAlive {
            stream: BufReader::new(TcpStream::connect(addr).await.unwrap()),
        }
    }

    /// `GET path` on this connection: the status and the body.
    async fn get(&mut self, path: &str) -> (u16, Value) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut status_line = String::new();
        self.stream.read_line(&mut status_line).await.unwrap();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .unwrap_or_else(|| panic!("a status line: {status_line:?}"))
            .parse()
            .unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, v)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

async fn readiness_turns_503_as_soon_as_sigterm_starts_the_drain(db: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("simulator.sqlite")).await;
    let database = database(db, dir.path()).await;
    let mut env = server_env(&database, dir.path(), &sim.url, "ops-drain");
    env.push(("DRAIN_GRACE_MS", "1500".into()));
    let mut server = Proc::spawn("billing-server", &[], &env).await;
    let remote = Remote::new(&server.url);
    let c = remote.visitor().await;
    let (status, body) = remote.hand_off_until_final(&c, &good_card(&c.key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut checker = KeptAlive::open(&server.url).await;
    assert_eq!(
        checker.get("/api/health/live").await,
        (200, json!({"live": true}))
    );
    assert_eq!(
        checker.get("/api/health/ready").await,
        (
            200,
            json!({"ready": true, "checks": {"database": "ok", "migrations": "ok", "serving": "ok"}})
        )
    );
    // A request in flight when the signal comes: Toss takes 2.5 s.
    sim.rule(json!({"api": "charge", "customerKey": c.key, "delayMs": 2500, "times": 1}));
    let in_flight = tokio::spawn({
        let body = json!({"orderId": "ops-in-flight", "customerKey": c.key, "amount": 1000, "orderName": "x"});
        async move { remote.charge(&body).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = tokio::time::Instant::now();
    sigterm(&server);
    let draining = json!({"ready": false, "checks": {"database": "ok", "migrations": "ok", "serving": "draining"}});
    // The health checker's kept-alive connection sees 503 before the listener closes…
    let mut seen = None;
    while signalled.elapsed() < Duration::from_millis(1200) {
        let answer = checker.get("/api/health/ready").await;
        if answer.0 == 503 {
            seen = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, Some((503, draining.clone())), "within the grace");
    // …and so does a new connection, while the listener still accepts.
    let r = reqwest::Client::new()
        .get(format!("{}/api/health/ready", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        signalled.elapsed() < Duration::from_millis(1500),
        "still within the grace"
    );
    assert_eq!(r.json::<Value>().await.unwrap(), draining);
    // The request in flight finishes; then the listener closes and the process exits.
    let (status, body) = in_flight.await.unwrap().unwrap();
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("DONE")));
    let exit = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("it exits after the drain")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        signalled.elapsed() >= Duration::from_millis(1500),
        "not before the grace"
    );
    assert!(
        tokio::net::TcpStream::connect(server.url.trim_start_matches("http://"))
            .await
            .is_err(),
        "the listener is closed"
    );
    assert!(server.output().contains("draining"), "{}", server.output());
}

/// The spans' fields of a JSON log line (`spans` is the list from the root).
fn request_ids(line: &Value) -> Vec<String> {
    line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|span| span["request_id"].as_str())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn json_logs_carry_the_request_id_and_no_secret(db: Db) {
    let dir = TempDir::new();
    let sim = Sim::start(&dir.path().join("simulator.sqlite")).await;
    let database = database(db, dir.path()).await;
    let mut env = server_env(&database, dir.path(), &sim.url, "ops-logs");
    env.push(("LOG_FORMAT", "json".into()));
    env.push(("TRUST_PROXY_HEADERS", "1".into()));
    env.push(("SUBSCRIBE_PLAN", "premium-monthly".into()));
    env.push(("SCHEDULER_INTERVAL_MS", "100".into()));
    let mut server = Proc::spawn("billing-server", &[], &env).await;
    let remote = Remote::new(&server.url);
    let http = &remote.http;

    // The hand-off, through a proxy that names the request.
    let c = remote.shopper("premium-monthly").await;
    let auth_key = good_card(&c.key);
    let mut body = Value::Null;
    for _ in 0..20 {
        // A 202 is asked again, as the page does (the proxy keeps the id here).
        let r = http
            .post(format!("{}/api/billing/issue", server.url))
            .header("cookie", &c.cookie)
            .header("x-request-id", "handoff-0001")
            .json(&c.hand_off_body(&auth_key))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["x-request-id"], "handoff-0001");
        let status = r.status();
        body = r.json().await.unwrap();
        if status != StatusCode::ACCEPTED {
            assert_eq!(status, StatusCode::OK, "{body}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(body["subscription"]["status"], "active", "{body}");
    // The operator's charge.
    let r = http
        .post(format!("{}/api/admin/charges", server.url))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .header("x-request-id", "charge-0001")
        .json(&json!({"orderId": "ops-logged-1", "customerKey": c.key, "amount": 1000, "orderName": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-request-id"], "charge-0001");
    // The operator refunds part of it.
    let r = http
        .post(format!(
            "{}/api/admin/charges/ops-logged-1/refunds",
            server.url
        ))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .header("x-request-id", "refund-0001")
        .json(&json!({"refundId": "ops-logged-refund-1", "amount": 300, "reason": "a partial refund"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "refund-0001");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "DONE");
    // An id that is not one is replaced by a minted one, as is a missing one.
    for sent in [Some("bad id!"), Some(&*"x".repeat(65)), None] {
        let mut request = http.get(format!("{}/api/health", server.url));
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let r = request.send().await.unwrap();
        let minted = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(Some(minted.as_str()), sent);
        assert!(billing_server::request_id::is_valid(&minted), "{minted}");
        assert_eq!(minted.len(), 36, "a UUID: {minted}");
    }
    // The three events of the subscription are logged (no WEBHOOK_URL).
    eventually("the events logged", 20, || async {
        server
            .output()
            .matches("notice (no WEBHOOK_URL: logged)")
            .count()
            == 3
    })
    .await;
    let exit = server.terminate().await;
    assert!(exit.success());

    let output = server.output();
    let mut lines = Vec::new();
    for text in output.lines().filter(|l| !l.trim().is_empty()) {
        let line: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("not a JSON object ({e}): {text}"));
        assert!(line["timestamp"].is_string(), "{text}");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap()),
            "{text}"
        );
        assert!(line["fields"]["message"].is_string(), "{text}");
        assert!(line["target"].is_string(), "{text}");
        lines.push(line);
    }
    let of = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| request_ids(l).iter().any(|r| r == id))
            .collect()
    };
    let messages = |id: &str| -> Vec<String> {
        of(id)
            .iter()
            .map(|l| {
                let api = l["fields"]["api"].as_str().unwrap_or_default();
                format!("{} {api}", l["fields"]["message"].as_str().unwrap())
                    .trim()
                    .to_owned()
            })
            .collect()
    };
    let handoff = messages("handoff-0001");
    for expected in [
        "Toss call Issue",
        "billing key stored",
        "notice (no WEBHOOK_URL: logged)",
    ] {
        assert!(
            handoff.iter().any(|m| m == expected),
            "the hand-off's lines include {expected:?}: {handoff:#?}"
        );
    }
    let charge = messages("charge-0001");
    for expected in ["Toss call Charge", "charge approved"] {
        assert!(
            charge.iter().any(|m| m == expected),
            "the operator charge's lines include {expected:?}: {charge:#?}"
        );
    }
    let refund = messages("refund-0001");
    for expected in ["refund recorded", "Toss call Cancel", "refunded"] {
        assert!(
            refund.iter().any(|m| m == expected),
            "the operator refund's lines include {expected:?}: {refund:#?}"
        );
    }
    // The subscription's first charge was logged too (by the hand-off, or by the scheduler).
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["fields"]["message"] == "charge approved")
            .count(),
        2
    );
    // No authKey, no billing key, no secret key in any line.
    let billing_keys = sim.billing_keys().await;
    assert_eq!(billing_keys.len(), 1);
    let secrets: Vec<&str> = [
        auth_key.as_str(),
        billing_server::settings::DOCS_TEST_SECRET_KEY,
    ]
    .into_iter()
    .chain(billing_keys.iter().map(String::as_str))
    .collect();
    for secret in secrets {
        assert!(
            !output.contains(secret),
            "a secret in the logs: {}…",
            &secret[..8]
        );
    }
}

async fn no_answer_names_a_path_a_crate_or_an_operator_field(db: Db) {
    // An empty dist: the pages answer a plain 404 that names no folder.
    let empty = TempDir::new();
    let empty_dist = empty.path().join("dist");
    std::fs::create_dir_all(&empty_dist).unwrap();
    let mut env = Env::start_with(db, |s| s.dist_dir = empty_dist.clone()).await;
    for path in ["/", "/billing/success", "/done/ok", "/index.html"] {
        let r = env.http.get(env.url(path)).send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::NOT_FOUND, "not found"),
            "{path}"
        );
        assert!(!body.contains(&empty.path().display().to_string()));
    }
    // Health answers JSON, never the page.
    for path in ["/api/health/live", "/api/health/ready"] {
        let r = env.http.get(env.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
    env.server.take().unwrap().shutdown().await;

    let env = Env::start(db).await;
    let dir = env.dir.path().display().to_string();
    let dist = env.dir.path().join("dist");
    std::fs::write(dist.join(".env"), "TOSS_SECRET_KEY=live_sk_leaked").unwrap();
    std::fs::create_dir_all(dist.join(".git")).unwrap();
    std::fs::write(dist.join(".git/config"), "[core] leaked").unwrap();
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("assets/.hidden"), "leaked").unwrap();
    let get = |path: String| {
        let env = &env;
        async move {
            let r = env.http.get(env.url(&path)).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let never = [
        dir.as_str(),
        "/tmp",
        "leaked",
        "DIST_DIR",
        "sqlx",
        "axum",
        "serde",
        "hyper",
        "tower",
        "i64",
        "panicked",
        "SELECT",
        ".rs",
        "Cannot parse",
        "Failed to deserialize",
    ];
    let says_nothing = |path: &str, body: &str| {
        for word in never {
            assert!(!body.contains(word), "{path} answered {word:?}: {body}");
        }
    };
    // Dotfiles, however spelled.
    for path in [
        "/.env",
        "/%2eenv",
        "/%2Eenv",
        "/.git/config",
        "/%2egit/config",
        "/assets/.hidden",
        "/assets/%2ehidden",
        "/.well-known/security.txt",
    ] {
        let (status, body) = get(path.to_owned()).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::NOT_FOUND, "not found"),
            "{path}"
        );
    }
    // Parameters that do not parse, with the operator's token.
    for (path, expected) in [
        ("/api/admin/subscriptions/abc", StatusCode::NOT_FOUND),
        (
            "/api/admin/subscriptions?limit=abc",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/admin/subscriptions?sneaky=1", StatusCode::BAD_REQUEST),
        ("/api/admin/charges/%ff%fe", StatusCode::NOT_FOUND),
        ("/api/nothing/here", StatusCode::NOT_FOUND),
    ] {
        let r = env
            .http
            .get(env.url(path))
            .header("authorization", format!("Bearer {OPERATOR}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, expected, "{path}: {body}");
        says_nothing(path, &body);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["code"].is_string(), "{path}: {body}");
    }

    // Every operator route, found in the routes' source (a new one cannot be forgotten), with a
    // wrong token and a body that breaks its shape: 401 before anything reads the body.
    let mut routes = Vec::new();
    for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes")).unwrap() {
        let source = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for piece in source.split("\"/api/admin").skip(1) {
            let rest = piece.split('"').next().unwrap();
            routes.push(format!("/api/admin{rest}"));
        }
    }
    routes.sort();
    routes.dedup();
    assert!(
        routes.len() >= 10 && routes.contains(&"/api/admin/clock".to_owned()),
        "the operator routes were found: {routes:?}"
    );
    routes.push("/api/admin/not-a-route".to_owned());
    let unauthorized = json!({"code": "UNAUTHORIZED", "message": "operator token required"});
    for route in &routes {
        // Path parameters get values that would not parse either.
        let mut path = String::new();
        for segment in route.split('/').skip(1) {
            path.push('/');
            path.push_str(if segment.starts_with('{') {
                "x%20y"
            } else {
                segment
            });
        }
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            for authorization in [
                Some("Bearer wrong-token-wrong-token-wrong-token"),
                Some("Basic b3BlcmF0b3I6"),
                None,
            ] {
                let mut request = env
                    .http
                    .request(method.clone(), env.url(&format!("{path}?limit=x&sneaky=1")))
                    .header("content-type", "application/json")
                    .body(r#"{"amount": "lots", "unknownField": 1, "#);
                if let Some(a) = authorization {
                    request = request.header("authorization", a);
                }
                let r = request.send().await.unwrap();
                let status = r.status();
                let body = r.text().await.unwrap();
                assert_eq!(
                    (status, serde_json::from_str::<Value>(&body).ok()),
                    (StatusCode::UNAUTHORIZED, Some(unauthorized.clone())),
                    "{method} {path} with {authorization:?}"
                );
            }
        }
    }
}

/// `GET /api/openapi.json` serves `server/openapi.json` as it is committed, and the running server
/// routes every operation it describes: no `405`, and no operation without parameters answered by
/// the `/api/` catch-all (`routes::openapi`'s unit tests compare it with the routes' source).
async fn the_served_description_is_the_committed_file_and_every_operation_is_routed(db: Db) {
    let env = Env::start(db).await;
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let r = env
        .http
        .get(env.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let served = r.text().await.unwrap();
    assert!(
        served == committed,
        "the served description is not server/openapi.json"
    );

    let send = |method: Method, path: String| {
        let env = &env;
        async move {
            let mut request = env
                .http
                .request(method.clone(), env.url(&path))
                .header("authorization", format!("Bearer {OPERATOR}"));
            if method != Method::GET {
                request = request
                    .header("content-type", "application/json")
                    .body("{}");
            }
            let r = request.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let unrouted = send(Method::GET, "/api/no-such-route".to_owned()).await;
    assert_eq!(unrouted.0, StatusCode::NOT_FOUND);

    let description: Value = serde_json::from_str(&committed).unwrap();
    let mut operations = 0;
    for (path, item) in description["paths"].as_object().unwrap() {
        let has_parameters = path.contains('{');
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "0"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            // An operation that says it may answer 404 (a plan that is not set up, say) may
            // answer what the catch-all answers.
            let may_be_missing = operation["responses"].get("404").is_some();
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if !matches!(
                method,
                Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            ) {
                continue;
            }
            operations += 1;
            let (status, body) = send(method.clone(), concrete.clone()).await;
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {body}"
            );
            if !has_parameters && !may_be_missing {
                assert!(
                    (status, &body) != (unrouted.0, &unrouted.1),
                    "{method} {path} is described but not routed"
                );
            }
        }
    }
    assert!(operations > 30, "only {operations} operations described");
}
