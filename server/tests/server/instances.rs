//! Several instances on one database (each of SQLite and PostgreSQL): the idempotency lock is in
//! the database, so duplicates split across instances still make one Toss call.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{
    count, database, eventually, good_card, server_env, sim_calls, sim_rule, Db, Proc, Remote,
    TempDir,
};
use crate::{stories, BOTH};

stories! {
    BOTH => twenty_identical_hand_offs_split_across_two_instances_make_one_toss_call,
    BOTH => ten_charges_with_one_order_id_split_across_two_instances_make_one_charge,
    BOTH => an_instance_killed_mid_exchange_is_finished_by_the_other,
    BOTH => an_exchange_slower_than_its_lease_keeps_it_and_calls_toss_once,
    BOTH => a_charge_slower_than_its_lease_keeps_it_and_charges_once,
}

struct Pair {
    _dir: TempDir,
    database: billing_server::store::DatabaseUrl,
    sim: Proc,
    a: Proc,
    b: Proc,
    http: reqwest::Client,
}

async fn pair(db: Db) -> Pair {
    pair_with(db, &[]).await
}

/// Two instances whose settings differ from the tests' (`server_env`) by `changed`.
async fn pair_with(db: Db, changed: &[(&str, &str)]) -> Pair {
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
    let a = Proc::spawn(
        "shop-a",
        &[],
        &with(
            server_env(&database, &dir.path().join("a"), &sim.url, "shop-a"),
            changed,
        ),
    )
    .await;
    let b = Proc::spawn(
        "shop-b",
        &[],
        &with(
            server_env(&database, &dir.path().join("b"), &sim.url, "shop-b"),
            changed,
        ),
    )
    .await;
    Pair {
        _dir: dir,
        database,
        sim,
        a,
        b,
        http: reqwest::Client::new(),
    }
}

fn with(
    mut env: Vec<(&'static str, String)>,
    changed: &[(&str, &str)],
) -> Vec<(&'static str, String)> {
    for (name, value) in env.iter_mut() {
        if let Some((_, new)) = changed.iter().find(|(changed, _)| changed == name) {
            *value = (*new).to_owned();
        }
    }
    env
}

async fn twenty_identical_hand_offs_split_across_two_instances_make_one_toss_call(db: Db) {
    let p = pair(db).await;
    sim_rule(
        &p.http,
        &p.sim.url,
        json!({"api": "issue", "delayMs": 400, "times": 1}),
    )
    .await;
    let (a, b) = (Remote::new(&p.a.url), Remote::new(&p.b.url));
    let customer = a.visitor().await;
    let auth_key = good_card(&customer.key);
    let answers = futures::future::join_all((0..20).map(|i| {
        let (remote, customer, auth_key) = (if i % 2 == 0 { &a } else { &b }, &customer, &auth_key);
        async move { remote.hand_off(customer, auth_key).await.unwrap() }
    }))
    .await;
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK
                || (*status == StatusCode::ACCEPTED && body["code"] == "HANDOFF_PENDING"),
            "{status} {body}"
        );
    }
    let (status, body) = b.hand_off_until_final(&customer, &auth_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sim_calls(&p.http, &p.sim.url, "issue").await.len(),
        1,
        "one Toss call in all"
    );
    assert_eq!(
        count(&p.database, "SELECT COUNT(*) FROM billing_keys").await,
        1
    );
}

async fn ten_charges_with_one_order_id_split_across_two_instances_make_one_charge(db: Db) {
    let p = pair(db).await;
    let (a, b) = (Remote::new(&p.a.url), Remote::new(&p.b.url));
    let customer = a.visitor().await;
    assert_eq!(
        a.hand_off_until_final(&customer, &good_card(&customer.key))
            .await
            .0,
        StatusCode::OK
    );
    sim_rule(
        &p.http,
        &p.sim.url,
        json!({"api": "charge", "delayMs": 400, "times": 1}),
    )
    .await;
    let body = json!({"orderId": "order-split-1", "customerKey": customer.key, "amount": 9900, "orderName": "월간 구독"});
    let answers = futures::future::join_all((0..10).map(|i| {
        let (remote, body) = (if i % 2 == 0 { &a } else { &b }, &body);
        async move { remote.charge(body).await.unwrap() }
    }))
    .await;
    for (status, answer) in &answers {
        assert!(
            matches!(*status, StatusCode::OK | StatusCode::ACCEPTED),
            "{status} {answer}"
        );
    }
    eventually("the charge is DONE", 10, || async {
        count(
            &p.database,
            "SELECT COUNT(*) FROM charges WHERE status = 'DONE'",
        )
        .await
            == 1
    })
    .await;
    assert_eq!(
        sim_calls(&p.http, &p.sim.url, "charge").await.len(),
        1,
        "one Toss call in all"
    );
}

async fn an_instance_killed_mid_exchange_is_finished_by_the_other(db: Db) {
    let mut p = pair(db).await;
    sim_rule(
        &p.http,
        &p.sim.url,
        json!({"api": "issue", "delayMs": 1000, "times": 1}),
    )
    .await;
    let a = Remote::new(&p.a.url);
    let customer = a.visitor().await;
    let auth_key = good_card(&customer.key);
    let request = {
        let (customer, auth_key, url) = (customer.clone(), auth_key.clone(), p.a.url.clone());
        tokio::spawn(async move { Remote::new(&url).hand_off(&customer, &auth_key).await })
    };
    eventually("A runs the exchange", 10, || async {
        count(
            &p.database,
            "SELECT COUNT(*) FROM exchanges WHERE lease_owner = 'shop-a'",
        )
        .await
            == 1
    })
    .await;
    p.a.kill().await;
    let _ = request.await;
    // B's reconciler takes the lapsed lease over (LEASE_MS=3000) and finishes with the same key.
    eventually("B stored the billing key", 20, || async {
        count(&p.database, "SELECT COUNT(*) FROM billing_keys").await == 1
    })
    .await;
    let (status, _) = Remote::new(&p.b.url)
        .hand_off_until_final(&customer, &auth_key)
        .await;
    assert_eq!(status, StatusCode::OK);
    let stats: serde_json::Value = p
        .http
        .get(format!("{}/__control/stats", p.sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["billingKeys"], 1, "Toss issued one billing key");
}

/// Toss answers after 7 s: more than twice the lease (LEASE_MS=3000), within the Toss timeout.
const SLOW_TOSS: &[(&str, &str)] = &[("TOSS_TIMEOUT_MS", "10000")];

// Toss answers after 7 s, more than twice the lease, while both reconcilers look every 200 ms:
// without A renewing its lease, a reconciler would take the exchange over and call Toss again.
async fn an_exchange_slower_than_its_lease_keeps_it_and_calls_toss_once(db: Db) {
    let p = pair_with(db, SLOW_TOSS).await;
    sim_rule(
        &p.http,
        &p.sim.url,
        json!({"api": "issue", "delayMs": 7000, "times": 1}),
    )
    .await;
    let customer = Remote::new(&p.a.url).visitor().await;
    let auth_key = good_card(&customer.key);
    let (status, body) = Remote::new(&p.a.url)
        .hand_off_until_final(&customer, &auth_key)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sim_calls(&p.http, &p.sim.url, "issue").await.len(),
        1,
        "one Toss call, however long it took"
    );
}

// The same for a charge: Toss answers after 7 s; no reconciler may send it again.
async fn a_charge_slower_than_its_lease_keeps_it_and_charges_once(db: Db) {
    let p = pair_with(db, SLOW_TOSS).await;
    let a = Remote::new(&p.a.url);
    let customer = a.visitor().await;
    assert_eq!(
        a.hand_off_until_final(&customer, &good_card(&customer.key))
            .await
            .0,
        StatusCode::OK
    );
    sim_rule(
        &p.http,
        &p.sim.url,
        json!({"api": "charge", "delayMs": 7000, "times": 1}),
    )
    .await;
    let body = json!({"orderId": "order-slow-1", "customerKey": customer.key, "amount": 9900, "orderName": "월간 구독"});
    a.charge(&body).await.unwrap();
    eventually("the charge is DONE", 20, || async {
        count(
            &p.database,
            "SELECT COUNT(*) FROM charges WHERE status = 'DONE'",
        )
        .await
            == 1
    })
    .await;
    assert_eq!(
        sim_calls(&p.http, &p.sim.url, "charge").await.len(),
        1,
        "one Toss charge, however long it took"
    );
}
