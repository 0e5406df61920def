//! Subscriptions, told as a year of a customer's life: register, move the clock a month, see the
//! charge; declines and their retries; a new card; cancellation; two instances sharing 1,000 due
//! subscriptions while one of them is killed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;

use crate::support::{
    database, eventually, good_card, member_settings, server_env, sim_calls, sim_rule, Customer,
    Db, Env, Proc, Remote, TempDir, OPERATOR,
};
use crate::{stories, BOTH};
use billing_server::clock::{iso_kst, to_ms};
use toss_sim::sandbox_auth_key;

stories! {
    BOTH => a_year_of_a_monthly_subscription_on_the_31st_follows_the_calendar_and_the_price,
    BOTH => a_soft_decline_is_recovered_on_the_second_retry,
    BOTH => a_hard_decline_is_never_retried_and_ends_the_subscription,
    BOTH => exhausted_retries_end_in_the_configured_state,
    BOTH => a_new_card_while_past_due_is_charged_at_once,
    BOTH => canceled_at_period_end_means_no_further_charge,
    BOTH => events_reach_the_merchants_webhook_signed_and_retried,
    &[Db::Postgres] => two_instances_charge_a_thousand_due_subscriptions_once_each_even_when_one_is_killed,
}

const DAY: i64 = 86_400_000;

/// The subscription as the operator sees it.
pub async fn subscribed(env: &Env, id: i64) -> Value {
    operator_view(env, id).await["subscription"].clone()
}

pub async fn operator_view(env: &Env, id: i64) -> Value {
    let r = env
        .http
        .get(env.url(&format!("/api/admin/subscriptions/{id}")))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Waits until the subscription has `n` attempts whose status is final.
pub async fn attempts_settled(env: &Env, id: i64, n: usize) -> Vec<Value> {
    let mut last = Value::Null;
    for _ in 0..200 {
        let view = operator_view(env, id).await;
        let attempts = view["attempts"].as_array().cloned().unwrap_or_default();
        if attempts.len() >= n
            && attempts
                .iter()
                .all(|a| a["status"] == "DONE" || a["status"] == "FAILED")
        {
            // …and the subscription has acted on the last one.
            let sub = &view["subscription"];
            if sub["nextChargeAt"].is_null()
                || sub["nextChargeAt"].as_str() > Some(iso_kst(env.clock.now_ms()).as_str())
            {
                return attempts;
            }
        }
        last = view;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("subscription {id} did not reach {n} settled attempts: {last:#}");
}

/// A fast scheduler, the demo's plans, and the shop's login as the identity (these stories span
/// months: longer than any cookie session).
pub fn fast(s: &mut billing_server::Settings) {
    s.scheduler_interval = Duration::from_millis(50);
    s.subscribe_plan = Some(billing_server::settings::DEMO_PLAN_ID.to_owned());
    member_settings(s);
}

/// Registers a card on the customer's checkout session: the hand-off's final answer, and the
/// subscription it started.
pub async fn register_answer(env: &Env, c: &Customer, auth_key: &str) -> (Value, i64) {
    let (status, body) = env.hand_off_until_final(c, auth_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, sub) = env.get_as(c, "/api/subscription").await;
    assert_eq!(status, StatusCode::OK, "{sub}");
    (
        body,
        sub["id"]
            .as_i64()
            .expect("registration created a subscription"),
    )
}

pub async fn register(env: &Env, c: &Customer, auth_key: &str) -> i64 {
    register_answer(env, c, auth_key).await.1
}

/// A customer with a registered card on premium-monthly (9,900원), charged at registration.
async fn subscriber(env: &Env) -> (Customer, i64) {
    let c = env.member(billing_server::settings::DEMO_PLAN_ID).await;
    let id = register(env, &c, &good_card(&c.key)).await;
    (c, id)
}

async fn a_year_of_a_monthly_subscription_on_the_31st_follows_the_calendar_and_the_price(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-01-31 10:00 +9)))
        .unwrap();
    let plan: Value = env
        .http
        .get(env.url("/api/plan"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        plan,
        json!({"name": "프리미엄 플랜", "amount": 9900, "cycle": "monthly", "firstChargeDate": "2027-01-31"})
    );
    let (c, id) = subscriber(&env).await;
    let mut attempts = attempts_settled(&env, id, 1).await;
    for month in 2..=12 {
        if month == 6 {
            // A price rise announced on May 31 for July 1: it reaches this subscription from its
            // first period starting on or after that date (July 31), and needs the customer's
            // consent, asked for 30 days before that period (July 1).
            let r = env
                .http
                .patch(env.url("/api/admin/plans/premium-monthly"))
                .header("authorization", format!("Bearer {OPERATOR}"))
                .json(&json!({"amount": 12900, "effectiveAt": "2027-07-01T00:00:00+09:00"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
            // The scheduler looks at the subscription again (a notice may be due), then sleeps
            // until the next charge.
            eventually("the next look after the announcement", 10, || async {
                subscribed(&env, id).await["nextChargeAt"] == "2027-06-30T10:00:00+09:00"
            })
            .await;
        }
        if month == 7 {
            env.clock
                .set(to_ms(datetime!(2027-07-02 10:00 +9)))
                .unwrap();
            eventually("the consent request", 10, || async {
                events(&env, id)
                    .await
                    .contains(&"subscription.consent_requested".to_owned())
            })
            .await;
            let (_, sub) = env.get_as(&c, "/api/subscription").await;
            let change = &sub["pendingChange"];
            assert_eq!(
                (
                    change["priceBefore"].as_i64(),
                    change["priceAfter"].as_i64(),
                    change["effectiveDate"].as_str()
                ),
                (Some(9900), Some(12900), Some("2027-07-31")),
                "the four items: {change}"
            );
            assert_eq!(change["paymentMethod"]["company"], "현대");
            let accept = format!("/api/subscription/changes/{}/accept", change["changeId"]);
            let (status, body) = env.post_as(&c, &accept, json!({})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let next = subscribed(&env, id).await["nextChargeAt"]
            .as_str()
            .unwrap()
            .to_owned();
        let at = time::OffsetDateTime::parse(&next, &time::format_description::well_known::Rfc3339)
            .unwrap();
        env.clock.set(to_ms(at)).unwrap();
        attempts = attempts_settled(&env, id, month).await;
    }
    let dates: Vec<&str> = attempts
        .iter()
        .map(|a| &a["createdAt"].as_str().unwrap()[..10])
        .collect();
    assert_eq!(
        dates,
        [
            "2027-01-31",
            "2027-02-28",
            "2027-03-31",
            "2027-04-30",
            "2027-05-31",
            "2027-06-30",
            "2027-07-31",
            "2027-08-31",
            "2027-09-30",
            "2027-10-31",
            "2027-11-30",
            "2027-12-31"
        ]
    );
    let amounts: Vec<i64> = attempts
        .iter()
        .map(|a| a["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(
        amounts,
        [9900, 9900, 9900, 9900, 9900, 9900, 12900, 12900, 12900, 12900, 12900, 12900]
    );
    let mut orders: Vec<&str> = attempts
        .iter()
        .map(|a| a["orderId"].as_str().unwrap())
        .collect();
    orders.dedup();
    assert_eq!(orders.len(), 12, "one orderId per charge");
    assert!(attempts.iter().all(|a| a["status"] == "DONE"));
    assert_eq!(
        env.sim.count("charge", "processed").await,
        12,
        "twelve charges at Toss, none twice"
    );
    let view = operator_view(&env, id).await;
    let kinds: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "invoice.paid").count(), 12);
    assert!(
        kinds.contains(&"subscription.created")
            && kinds.contains(&"subscription.change_accepted")
            && kinds.contains(&"subscription.change_applied"),
        "{kinds:?}"
    );
    assert_eq!(
        view["consents"].as_array().unwrap().len(),
        1,
        "one consent, kept as given"
    );
    assert_eq!(
        view["subscription"]["nextChargeAt"],
        "2028-01-31T10:00:00+09:00"
    );
    assert_eq!(
        (
            view["subscription"]["currentPeriodStart"].as_str(),
            view["subscription"]["currentPeriodEnd"].as_str()
        ),
        (
            Some("2027-12-31T10:00:00+09:00"),
            Some("2028-01-31T10:00:00+09:00")
        ),
        "the current period is the one being served"
    );
}

pub async fn events(env: &Env, id: i64) -> Vec<String> {
    operator_view(env, id).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_soft_decline_is_recovered_on_the_second_retry(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-10 09:00 +9)))
        .unwrap();
    let c = env.member(billing_server::settings::DEMO_PLAN_ID).await;
    // The 3rd monthly charge and its first retry are declined (limit); the second retry passes.
    env.sim.rule(json!({"api": "charge", "customerKey": c.key, "skip": 2, "times": 2, "code": "REJECT_CARD_PAYMENT"}));
    let id = register(&env, &c, &good_card(&c.key)).await;
    attempts_settled(&env, id, 1).await;
    env.clock
        .set(to_ms(datetime!(2027-04-10 09:00 +9)))
        .unwrap();
    attempts_settled(&env, id, 2).await;
    env.clock
        .set(to_ms(datetime!(2027-05-10 09:00 +9)))
        .unwrap();
    attempts_settled(&env, id, 3).await;
    let sub = subscribed(&env, id).await;
    assert_eq!(
        (sub["status"].as_str(), sub["nextChargeAt"].as_str()),
        (Some("PAST_DUE"), Some("2027-05-11T09:00:00+09:00"))
    );
    env.clock.advance(DAY).unwrap();
    attempts_settled(&env, id, 4).await;
    let sub = subscribed(&env, id).await;
    assert_eq!(
        (sub["status"].as_str(), sub["nextChargeAt"].as_str()),
        (Some("PAST_DUE"), Some("2027-05-13T09:00:00+09:00"))
    );
    env.clock.advance(2 * DAY).unwrap();
    let attempts = attempts_settled(&env, id, 5).await;
    let statuses: Vec<&str> = attempts
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["DONE", "DONE", "FAILED", "FAILED", "DONE"]);
    assert_eq!(attempts[2]["code"], "REJECT_CARD_PAYMENT");
    assert!(attempts[2..].iter().all(|a| a["period"] == 2));
    let sub = subscribed(&env, id).await;
    assert_eq!(sub["status"], "ACTIVE");
    assert_eq!(
        sub["nextChargeAt"], "2027-06-10T09:00:00+09:00",
        "the next period keeps the anchor"
    );
    let kinds: Vec<String> = operator_view(&env, id).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "invoice.payment_failed")
            .count(),
        2
    );
    assert!(
        kinds.contains(&"subscription.past_due".to_owned())
            && kinds.contains(&"subscription.recovered".to_owned())
    );
}

async fn a_hard_decline_is_never_retried_and_ends_the_subscription(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-10 09:00 +9)))
        .unwrap();
    let c = env.member(billing_server::settings::DEMO_PLAN_ID).await;
    env.sim.rule(
        json!({"api": "charge", "customerKey": c.key, "skip": 1, "code": "INVALID_STOPPED_CARD"}),
    );
    let id = register(&env, &c, &good_card(&c.key)).await;
    attempts_settled(&env, id, 1).await;
    env.clock
        .set(to_ms(datetime!(2027-04-10 09:00 +9)))
        .unwrap();
    attempts_settled(&env, id, 2).await;
    let sub = subscribed(&env, id).await;
    assert_eq!(
        (sub["status"].as_str(), sub["nextChargeAt"].as_str()),
        (Some("PAST_DUE"), Some("2027-04-17T09:00:00+09:00")),
        "waits for a new card, never retries"
    );
    for _ in 0..6 {
        env.clock.advance(DAY).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        operator_view(&env, id).await["attempts"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "no retry of a stopped card"
    );
    env.clock.advance(DAY).unwrap();
    eventually("the subscription ends", 10, || async {
        subscribed(&env, id).await["status"] == "CANCELED"
    })
    .await;
    assert_eq!(env.sim.count("charge", "scripted").await, 1);
}

async fn exhausted_retries_end_in_the_configured_state(db: Db) {
    let env = Env::start_with(db, |s| {
        fast(s);
        s.dunning_final_state = billing_server::billing::dunning::FinalState::Unpaid;
    })
    .await;
    env.clock
        .set(to_ms(datetime!(2027-03-10 09:00 +9)))
        .unwrap();
    let c = env.member(billing_server::settings::DEMO_PLAN_ID).await;
    // The first month is paid; every renewal is declined (limit).
    env.sim.rule(
        json!({"api": "charge", "customerKey": c.key, "skip": 1, "code": "REJECT_CARD_PAYMENT"}),
    );
    let id = register(&env, &c, &good_card(&c.key)).await;
    attempts_settled(&env, id, 1).await;
    env.clock
        .set(to_ms(datetime!(2027-04-10 09:00 +9)))
        .unwrap();
    attempts_settled(&env, id, 2).await;
    for (n, day) in [(3, 11), (4, 13), (5, 15), (6, 17)] {
        let at = to_ms(datetime!(2027-04-01 09:00 +9)) + (day - 1) * DAY;
        env.clock.set(at).unwrap();
        attempts_settled(&env, id, n).await;
    }
    let sub = subscribed(&env, id).await;
    assert_eq!(
        (sub["status"].as_str(), &sub["nextChargeAt"]),
        (Some("UNPAID"), &Value::Null)
    );
    env.clock.advance(40 * DAY).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        operator_view(&env, id).await["attempts"]
            .as_array()
            .unwrap()
            .len(),
        6,
        "the paid month, the renewal and its 4 retries, then nothing"
    );
}

async fn a_new_card_while_past_due_is_charged_at_once(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-10 09:00 +9)))
        .unwrap();
    let c = env.member(billing_server::settings::DEMO_PLAN_ID).await;
    env.sim.rule(json!({"api": "charge", "customerKey": c.key, "skip": 1, "times": 1, "code": "REJECT_CARD_PAYMENT"}));
    let id = register(&env, &c, &good_card(&c.key)).await;
    attempts_settled(&env, id, 1).await;
    env.clock
        .set(to_ms(datetime!(2027-04-10 09:00 +9)))
        .unwrap();
    attempts_settled(&env, id, 2).await;
    assert_eq!(subscribed(&env, id).await["status"], "PAST_DUE");
    // The customer registers another card (no checkout session: the card of the live
    // subscription); the clock does not move.
    let card_only = Customer {
        session: None,
        ..c.clone()
    };
    let (status, answer) = env
        .hand_off_until_final(
            &card_only,
            &sandbox_auth_key(&c.key, "451842", "1234", "1299", "PERSONAL"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["subscription"]["status"], "cardChanged", "{answer}");
    assert_eq!(
        answer["subscription"]["subscriptionStatus"], "ACTIVE",
        "{answer}"
    );
    let attempts = attempts_settled(&env, id, 3).await;
    assert_eq!(attempts[2]["status"], "DONE");
    let sub = subscribed(&env, id).await;
    assert_eq!(
        (sub["status"].as_str(), sub["card"]["company"].as_str()),
        (Some("ACTIVE"), Some("신한"))
    );
    assert_eq!(sub["nextChargeAt"], "2027-05-10T09:00:00+09:00");
    let kinds: Vec<String> = operator_view(&env, id).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"subscription.card_changed".to_owned()),
        "{kinds:?}"
    );
}

async fn canceled_at_period_end_means_no_further_charge(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-10 09:00 +9)))
        .unwrap();
    let (c, id) = subscriber(&env).await;
    attempts_settled(&env, id, 1).await;
    let (status, sub) = env
        .post_as(
            &c,
            "/api/subscription/cancel",
            json!({"when": "period_end"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (sub["status"].as_str(), sub["cancelAtPeriodEnd"].as_bool()),
        (Some("ACTIVE"), Some(true)),
        "the paid month is kept"
    );
    env.clock
        .set(to_ms(datetime!(2027-04-10 09:00 +9)))
        .unwrap();
    eventually("canceled at the period's end", 10, || async {
        subscribed(&env, id).await["status"] == "CANCELED"
    })
    .await;
    env.clock.advance(90 * DAY).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.sim.count("charge", "processed").await,
        1,
        "no further charge"
    );
    // Cancel now, by the operator, on another customer.
    let (d, other) = subscriber(&env).await;
    attempts_settled(&env, other, 1).await;
    let r = env
        .http
        .post(env.url(&format!("/api/admin/subscriptions/{other}/cancel")))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .json(&json!({"when": "now"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "CANCELED");
    let (status, body) = env
        .post_as(&d, "/api/subscription/cancel", json!({"when": "now"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("SUBSCRIPTION_ENDED")),
        "already ended"
    );
}

async fn two_instances_charge_a_thousand_due_subscriptions_once_each_even_when_one_is_killed(
    db: Db,
) {
    const N: usize = 1000;
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
    let http = reqwest::Client::new();
    // 1,000 customers register a card on an instance whose scheduler is off: each first month
    // is charged by the hand-off itself; their renewals are what the two instances race for.
    let mut env = server_env(&database, &dir.path().join("seed"), &sim.url, "seed");
    env.push(("SCHEDULER", "off".into()));
    let seeder = Proc::spawn("seeder", &[], &env).await;
    let remote = Remote::new(&seeder.url);
    futures::stream::iter(0..N)
        .for_each_concurrent(16, |_| {
            let remote = &remote;
            async move {
                let c = remote.shopper("premium-monthly").await;
                let (status, body) = remote.hand_off_until_final(&c, &good_card(&c.key)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["subscription"]["status"], "active", "{body}");
            }
        })
        .await;
    assert_eq!(
        crate::support::count(
            &database,
            "SELECT COUNT(*) FROM subscriptions WHERE status = 'ACTIVE' AND period_paid"
        )
        .await,
        N as i64
    );
    drop(seeder);
    // Toss answers each charge after 100 ms, as a real API would.
    sim_rule(&http, &sim.url, json!({"api": "charge", "delayMs": 100})).await;
    // A month and a day later, every renewal is due.
    let month = (32 * DAY).to_string();
    let mut a_env = server_env(&database, &dir.path().join("a"), &sim.url, "shop-a");
    a_env.push(("SCHEDULER_CONCURRENCY", "16".into()));
    a_env.push(("CLOCK_OFFSET_MS", month.clone()));
    let mut b_env = server_env(&database, &dir.path().join("b"), &sim.url, "shop-b");
    b_env.push(("SCHEDULER_CONCURRENCY", "16".into()));
    b_env.push(("CLOCK_OFFSET_MS", month));
    let mut a = Proc::spawn("shop-a", &[], &a_env).await;
    let _b = Proc::spawn("shop-b", &[], &b_env).await;
    let done = || {
        crate::support::count(
            &database,
            "SELECT COUNT(*) FROM charges WHERE status = 'DONE' AND period_no = 1",
        )
    };
    eventually("a third of the renewals", 60, || async {
        done().await >= (N / 3) as i64
    })
    .await;
    // A dies mid-run, holding leases on subscriptions and charges.
    a.kill().await;
    eventually("every renewal charged", 120, || async {
        done().await == N as i64
    })
    .await;
    // A charge is settled before its subscription moves on (two transactions). When B takes over
    // a lapsed subscription whose charge A left in flight, it has the charge settled and looks at
    // the subscription again after its recheck (2 s): the last subscriptions move on a moment
    // after the last charge is DONE (with B's reconciler slowed down, 992 of 1,000 had then).
    let paid = || {
        crate::support::count(
            &database,
            "SELECT COUNT(*) FROM subscriptions WHERE period_no = 1 AND period_paid",
        )
    };
    eventually("every subscription's second period paid", 30, || async {
        paid().await >= N as i64
    })
    .await;
    assert_eq!(
        paid().await,
        N as i64,
        "every period 1 paid, no period skipped"
    );
    let calls = sim_calls(&http, &sim.url, "charge").await;
    let processed: Vec<&str> = calls
        .iter()
        .filter(|c| c.outcome == "processed")
        .filter_map(|c| c.order_id.as_deref())
        .filter(|order| order.ends_with("-1-1"))
        .collect();
    let mut distinct = processed.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        (processed.len(), distinct.len()),
        (N, N),
        "exactly 1,000 renewals at Toss, none twice"
    );
    let stats: Value = http
        .get(format!("{}/__control/stats", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["paymentsDone"],
        2 * N as i64,
        "1,000 first months and 1,000 renewals"
    );
}

use futures::StreamExt;

/// A merchant's webhook endpoint: records what it receives; fails the first `fail_first` posts.
struct Receiver {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
    /// Every post it was sent, answered or refused.
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn receiver(fail_first: usize) -> Receiver {
    use axum::http::{HeaderMap, StatusCode as Status};
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = received.clone();
            move |headers: HeaderMap, body: String| {
                let (received, seen) = (received.clone(), seen.clone());
                async move {
                    if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < fail_first {
                        return Status::INTERNAL_SERVER_ERROR;
                    }
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    received.lock().unwrap().push((
                        h("billing-event-id"),
                        h("billing-signature"),
                        body,
                    ));
                    Status::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url,
        received,
        seen: counted,
    }
}

async fn events_reach_the_merchants_webhook_signed_and_retried(db: Db) {
    const SECRET: &str = "webhook-secret-for-tests-0123456789";
    let hook = receiver(1).await;
    let url = hook.url.clone();
    let env = Env::start_with(db, move |s| {
        fast(s);
        s.webhook_url = Some(url);
        s.webhook_secret = Some(billing_server::settings::Secret::new(SECRET));
    })
    .await;
    let (c, id) = subscriber(&env).await;
    attempts_settled(&env, id, 1).await;
    // The first delivery fails (500): once it has, it is retried after its backoff (30 s on the
    // moved clock).
    eventually("the first delivery, refused", 20, || async {
        hook.seen.load(std::sync::atomic::Ordering::SeqCst) >= 1
    })
    .await;
    env.clock.advance(60_000).unwrap();
    eventually("the three events delivered", 20, || async {
        hook.received.lock().unwrap().len() >= 3
    })
    .await;
    let received = hook.received.lock().unwrap().clone();
    let mut kinds = Vec::new();
    for (event_id, signature, body) in &received {
        let t: i64 = signature
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("t=")
            .parse()
            .unwrap();
        assert_eq!(
            signature,
            &billing_server::notices::signature(SECRET, t, body),
            "signed with the secret"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(&v["id"], event_id.as_str());
        assert_eq!(v["customerKey"], c.key.as_str());
        kinds.push(v["type"].as_str().unwrap().to_owned());
    }
    assert!(
        kinds.contains(&"subscription.created".into())
            && kinds.contains(&"invoice.paid".into())
            && kinds.contains(&"subscription.activated".into()),
        "{kinds:?}"
    );
    let ids: std::collections::HashSet<_> = received.iter().map(|r| r.0.clone()).collect();
    assert_eq!(
        ids.len(),
        received.len(),
        "each event delivered once after its success"
    );
}
