//! Crashes and deploys, caused for real: billing-server and the Toss simulator in their own
//! processes, SIGKILL after Toss issued the billing key and before it was stored (the database is
//! held busy at that moment, as a busy SQLite or a locked table would), SIGTERM mid-exchange.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::support::{
    count, database, eventually, good_card, server_env, sim_calls, sim_rule, Db, Proc, Remote,
    TempDir,
};
use crate::{stories, BOTH};
use billing_server::store::DatabaseUrl;

stories! {
    BOTH => sigkill_between_toss_and_the_store_then_the_reconciler_stores_the_key_once,
    BOTH => sigkill_between_toss_and_the_store_then_the_browser_retries_right_after_the_restart,
    BOTH => sigterm_mid_exchange_drains_it,
}

/// Holds the database busy for writes to billing_keys (SQLite: the write lock; PostgreSQL: the
/// table lock), from outside the server, until dropped.
enum Busy {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Busy {
    async fn hold(database: &DatabaseUrl) -> Busy {
        match database {
            DatabaseUrl::Sqlite(path) => {
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                Busy::Sqlite(c)
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut c).await.unwrap();
                sqlx::query("LOCK TABLE billing_keys IN EXCLUSIVE MODE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                Busy::Postgres(c)
            }
        }
    }

    async fn release(self) {
        match self {
            Busy::Sqlite(mut c) => sqlx::query("ROLLBACK")
                .execute(&mut c)
                .await
                .map(|_| ())
                .unwrap(),
            Busy::Postgres(mut c) => sqlx::query("ROLLBACK")
                .execute(&mut c)
                .await
                .map(|_| ())
                .unwrap(),
        }
    }
}

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
            &server_env(&self.database, self.dir.path(), &self.sim.url, instance),
        )
        .await
    }

    async fn billing_keys(&self) -> i64 {
        count(&self.database, "SELECT COUNT(*) FROM billing_keys").await
    }

    async fn minted(&self) -> usize {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/__control/stats", self.sim.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["billingKeys"].as_i64().unwrap() as usize
    }

    /// Kills `server` after Toss has issued the billing key and answered, while the store is
    /// blocked; returns the customer and the authKey whose exchange was cut short.
    async fn kill_between_toss_and_store(
        &self,
        server: &mut Proc,
    ) -> (crate::support::Customer, String) {
        let remote = Remote::new(&server.url);
        let customer = remote.visitor().await;
        let auth_key = good_card(&customer.key);
        sim_rule(
            &self.http,
            &self.sim.url,
            json!({"api": "issue", "delayAfterMs": 1500, "times": 1}),
        )
        .await;
        let request = {
            let (remote, customer, auth_key) =
                (Remote::new(&server.url), customer.clone(), auth_key.clone());
            tokio::spawn(async move { remote.hand_off(&customer, &auth_key).await })
        };
        // Toss has minted the billing key; its answer is on its way (1.5 s late).
        eventually("Toss issued the billing key", 10, || async {
            self.minted().await == 1
        })
        .await;
        let busy = Busy::hold(&self.database).await;
        // Toss answered: the server holds the billing key in memory and waits on the database.
        eventually("Toss answered", 10, || async {
            sim_calls(&self.http, &self.sim.url, "issue")
                .await
                .iter()
                .any(|c| c.outcome == "processed")
        })
        .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        server.kill().await;
        busy.release().await;
        let _ = request.await;
        assert_eq!(
            self.billing_keys().await,
            0,
            "the key was only in the killed process's memory"
        );
        assert_eq!(
            count(
                &self.database,
                "SELECT COUNT(*) FROM exchanges WHERE status = 'PENDING'"
            )
            .await,
            1,
            "written ahead"
        );
        (customer, auth_key)
    }
}

async fn sigkill_between_toss_and_the_store_then_the_reconciler_stores_the_key_once(db: Db) {
    let shop = Shop::open(db).await;
    let mut server = shop.server("shop-1").await;
    let (customer, auth_key) = shop.kill_between_toss_and_store(&mut server).await;
    // Restart, and nobody asks: the reconciler finishes the exchange with the same Idempotency-Key.
    let server = shop.server("shop-1").await;
    eventually("the reconciler stored the billing key", 20, || async {
        shop.billing_keys().await == 1
    })
    .await;
    assert_eq!(shop.minted().await, 1, "Toss issued one billing key");
    let calls = sim_calls(&shop.http, &shop.sim.url, "issue").await;
    assert!(
        calls.iter().any(|c| c.outcome == "replayed"),
        "the second call was Toss's replay: {calls:?}"
    );
    assert!(calls
        .iter()
        .all(|c| c.idempotency_key == calls[0].idempotency_key));
    // A later browser retry gets the card.
    let (status, body) = Remote::new(&server.url)
        .hand_off_until_final(&customer, &auth_key)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["card"]["company"], "현대");
    assert_eq!(shop.billing_keys().await, 1);
}

async fn sigkill_between_toss_and_the_store_then_the_browser_retries_right_after_the_restart(
    db: Db,
) {
    let shop = Shop::open(db).await;
    let mut server = shop.server("shop-1").await;
    let (customer, auth_key) = shop.kill_between_toss_and_store(&mut server).await;
    let server = shop.server("shop-1").await;
    let (status, body) = Remote::new(&server.url)
        .hand_off_until_final(&customer, &auth_key)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(shop.billing_keys().await, 1);
    assert_eq!(shop.minted().await, 1);
}

async fn sigterm_mid_exchange_drains_it(db: Db) {
    let shop = Shop::open(db).await;
    let mut server = shop.server("shop-1").await;
    let remote = Remote::new(&server.url);
    let customer = remote.visitor().await;
    let auth_key = good_card(&customer.key);
    sim_rule(
        &shop.http,
        &shop.sim.url,
        json!({"api": "issue", "delayMs": 1500, "times": 1}),
    )
    .await;
    let request = {
        let (remote, customer, auth_key) =
            (Remote::new(&server.url), customer.clone(), auth_key.clone());
        tokio::spawn(async move { remote.hand_off(&customer, &auth_key).await })
    };
    eventually("the exchange is written ahead", 10, || async {
        count(&shop.database, "SELECT COUNT(*) FROM exchanges").await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A deploy: SIGTERM while Toss is still working on it.
    let status = server.terminate().await;
    assert!(
        status.success(),
        "a clean exit: {status:?}\n{}",
        server.output()
    );
    assert_eq!(
        shop.billing_keys().await,
        1,
        "the exchange finished before the process exited"
    );
    let _ = request.await;
    let server = shop.server("shop-1").await;
    let (status, _) = Remote::new(&server.url)
        .hand_off_until_final(&customer, &auth_key)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shop.minted().await, 1);
    assert_eq!(
        sim_calls(&shop.http, &shop.sim.url, "issue").await.len(),
        1,
        "nothing was left to redo"
    );
}
