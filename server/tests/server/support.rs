//! What the stories stand on: a database of either kind, the simulator on its own listener (or in
//! its own process), billing-server in-process or as a real process, and a customer's requests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use billing_server::clock::Clock;
use billing_server::settings::{KeySource, Secret, Settings};
use billing_server::store::{DatabaseUrl, PoolSize, Store};
use billing_server::Server;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;
use toss_sim::{sandbox_auth_key, CallRecord, Rule, Simulator};

/// Which database a story runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
        }
    }
}

/// The encryption key every test server uses (two instances must share it).
pub const ENCRYPTION_KEY: &str = "k1:dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDEyMzQ=";
/// The operator token of every test server.
pub const OPERATOR: &str = "operator-token-for-tests-0123456789";

/// A folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "billing-server-test-{}",
            billing_server::ids::hex(&billing_server::ids::random_bytes::<8>())
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh database: a file in `dir`, or a new database on the test cluster.
pub async fn database(db: Db, dir: &Path) -> DatabaseUrl {
    match db {
        Db::Sqlite => DatabaseUrl::Sqlite(dir.join("billing.sqlite")),
        Db::Postgres => {
            let admin = std::env::var("TEST_POSTGRES_URL").expect("checked by the harness");
            let name = format!(
                "t_{}",
                billing_server::ids::hex(&billing_server::ids::random_bytes::<6>())
            );
            let mut connection = sqlx::PgConnection::connect(&admin)
                .await
                .expect("the test PostgreSQL answers");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut connection)
                .await
                .expect("CREATE DATABASE");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            DatabaseUrl::Postgres(format!("{base}/{name}"))
        }
    }
}

/// The database URL as `DATABASE_URL` takes it.
pub fn url_text(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => path.display().to_string(),
        DatabaseUrl::Postgres(url) => url.clone(),
    }
}

/// The simulator on its own listener, with its own SQLite file.
pub struct Sim {
    pub sim: Simulator,
    pub url: String,
    /// The simulator's clock (stories move it past Toss's one-second window between cancels).
    pub clock: Clock,
    stop: CancellationToken,
}

impl Sim {
    pub async fn start(path: &Path) -> Sim {
        let clock = Clock::movable(0);
        let sim = Simulator::open(path, clock.clone())
            .await
            .expect("the simulator opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn({
            let (sim, stop) = (sim.clone(), stop.clone());
            async move { sim.serve(listener, stop).await }
        });
        Sim {
            sim,
            url,
            clock,
            stop,
        }
    }

    /// Adds a scripted rule from JSON (the same shape as `POST /__control/rules`).
    pub fn rule(&self, rule: Value) {
        self.sim
            .add_rule(serde_json::from_value::<Rule>(rule).expect("a valid rule"));
    }

    /// The calls to `api` with `outcome`.
    pub async fn count(&self, api: &str, outcome: &str) -> usize {
        self.calls(api)
            .await
            .iter()
            .filter(|c| c.outcome == outcome)
            .count()
    }

    pub async fn calls(&self, api: &str) -> Vec<CallRecord> {
        self.sim.calls_to(api).await.unwrap()
    }

    pub async fn billing_keys(&self) -> Vec<String> {
        self.sim.minted_billing_keys().await.unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Reads the simulator's control API over HTTP (a simulator in another process).
pub async fn sim_calls(http: &reqwest::Client, sim_url: &str, api: &str) -> Vec<CallRecord> {
    let v: Value = http
        .get(format!("{sim_url}/__control/calls?api={api}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    serde_json::from_value(v["calls"].clone()).unwrap()
}

pub async fn sim_rule(http: &reqwest::Client, sim_url: &str, rule: Value) {
    let r = http
        .post(format!("{sim_url}/__control/rules"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
}

/// A test frontend: an index.html with a config block, a return.html, and an asset.
pub fn write_dist(dir: &Path) -> PathBuf {
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        r#"<!doctype html><html><head><script type="application/json" id="toss-billing-config">{"clientKey": "test_ck_x", "successPath": "/done/ok", "failPath": "/done/no"}</script><script type="module" src="/boot-0123456789abcdef.js"></script></head><body>registration</body></html>"#,
    )
    .unwrap();
    std::fs::write(
        dist.join("return.html"),
        "<!doctype html><html><body>return</body></html>",
    )
    .unwrap();
    std::fs::write(dist.join("boot-0123456789abcdef.js"), "export {}").unwrap();
    std::fs::write(dist.join("plain.js"), "export {}").unwrap();
    dist
}

/// Settings of a test server: demo mode against `sim_url`, fast timeouts, generous limits.
pub fn test_settings(database: DatabaseUrl, dir: &Path, sim_url: &str) -> Settings {
    let mut s = Settings::demo();
    s.port = 0;
    s.database = database;
    s.dist_dir = write_dist(dir);
    s.toss_api_base = Some(sim_url.to_owned());
    s.mount_simulator = false;
    s.simulator_database = dir.join("mounted-simulator.sqlite");
    s.toss_timeout = Duration::from_secs(2);
    s.toss_quick_retries = 1;
    s.toss_backoff = Duration::from_millis(20);
    s.encryption = KeySource::Env(Secret::new(ENCRYPTION_KEY));
    s.operator_token = Some(Secret::new(OPERATOR));
    s.handoff_wait = Duration::from_secs(3);
    s.lease = Duration::from_secs(3);
    s.reconcile_interval = Duration::from_millis(200);
    s.instance_id = format!(
        "test-{}",
        billing_server::ids::hex(&billing_server::ids::random_bytes::<4>())
    );
    s.limits.handoff_per_minute = 100_000;
    s.limits.handoff_burst = 10_000;
    s.limits.session_per_minute = 100_000;
    s.limits.session_burst = 10_000;
    // Registrations only store the card here; the subscription stories subscribe explicitly.
    s.subscribe_plan = None;
    s
}

/// A customer's browser: its cookie and customerKey, and the checkout session it was shown (the
/// hand-off sends it back, as the page does).
#[derive(Debug, Clone)]
pub struct Customer {
    pub cookie: String,
    pub key: String,
    pub session: Option<String>,
    /// A signed-in user of the merchant's login (`SIGNED_IN_USER_HEADER=x-shop-user`), instead of
    /// the cookie: stories that span months outlive any cookie session.
    pub user: Option<String>,
}

/// The login header of [`member_settings`].
pub const USER_HEADER: &str = "x-shop-user";

/// The merchant's login is the identity (a trusted header), as a real shop's would be.
pub fn member_settings(s: &mut Settings) {
    s.identity = billing_server::settings::IdentitySource::TrustedHeader(USER_HEADER.to_owned());
}

impl Customer {
    /// The header that says who this is: the login header, or the cookie.
    pub fn auth(&self) -> (&'static str, String) {
        match &self.user {
            Some(user) => (USER_HEADER, user.clone()),
            None => ("cookie", self.cookie.clone()),
        }
    }

    /// The hand-off body for `auth_key`, with this browser's checkout session if it has one.
    pub fn hand_off_body(&self, auth_key: &str) -> Value {
        let mut body = json!({ "authKey": auth_key, "customerKey": self.key });
        if let Some(session) = &self.session {
            body["checkoutSession"] = json!(session);
        }
        body
    }
}

/// `GET /api/checkout?plan=…` (as `auth`, or as a new visitor): the answer's status and body,
/// and the cookie it set.
pub async fn checkout(
    http: &reqwest::Client,
    base: &str,
    plan: &str,
    auth: Option<(&str, String)>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = http.get(format!("{base}/api/checkout?plan={plan}"));
    if let Some((name, value)) = auth {
        request = request.header(name, value);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    (status, r.json().await.unwrap(), set_cookie)
}

/// One running server in this process, its simulator and database.
pub struct Env {
    pub base: String,
    pub http: reqwest::Client,
    pub sim: Sim,
    pub server: Option<Server>,
    pub database: DatabaseUrl,
    pub store: Store,
    pub clock: Clock,
    pub dir: TempDir,
}

/// A card that works, for `customer_key`.
pub fn good_card(customer_key: &str) -> String {
    sandbox_auth_key(customer_key, "433012", "1234", "1299", "PERSONAL")
}

impl Env {
    pub async fn start(db: Db) -> Env {
        Env::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Db, edit: impl FnOnce(&mut Settings)) -> Env {
        let dir = TempDir::new();
        let sim = Sim::start(&dir.path().join("simulator.sqlite")).await;
        let database = database(db, dir.path()).await;
        let mut settings = test_settings(database.clone(), dir.path(), &sim.url);
        edit(&mut settings);
        let server = billing_server::start(settings)
            .await
            .expect("the server starts");
        Env {
            base: server.base_url.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            store: server.store.clone(),
            clock: server.clock.clone(),
            server: Some(server),
            sim,
            database,
            dir,
        }
    }

    /// Stops the server gracefully and starts a new one on the same database and simulator.
    pub async fn restart(&mut self, edit: impl FnOnce(&mut Settings)) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let mut settings = test_settings(self.database.clone(), self.dir.path(), &self.sim.url);
        edit(&mut settings);
        let server = billing_server::start(settings)
            .await
            .expect("the server restarts");
        self.base = server.base_url.clone();
        self.store = server.store.clone();
        self.clock = server.clock.clone();
        self.server = Some(server);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /api/customer` without a cookie: a new visitor.
    pub async fn visitor(&self) -> Customer {
        let r = self
            .http
            .get(self.url("/api/customer"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        Customer {
            cookie: set_cookie.split(';').next().unwrap().to_owned(),
            key: body["customerKey"].as_str().unwrap().to_owned(),
            session: None,
            user: None,
        }
    }

    /// A new visitor on the checkout page of `plan`: the customerKey and the signed terms.
    pub async fn shopper(&self, plan: &str) -> Customer {
        let (status, body, cookie) = checkout(&self.http, &self.base, plan, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Customer {
            cookie: cookie.expect("a visitor's cookie"),
            key: body["customerKey"].as_str().unwrap().to_owned(),
            session: Some(body["checkoutSession"].as_str().unwrap().to_owned()),
            user: None,
        }
    }

    /// A signed-in user of the shop ([`member_settings`]) on the checkout page of `plan`.
    pub async fn member(&self, plan: &str) -> Customer {
        let user = format!(
            "user-{}",
            billing_server::ids::hex(&billing_server::ids::random_bytes::<6>())
        );
        let (status, body, _) = checkout(
            &self.http,
            &self.base,
            plan,
            Some((USER_HEADER, user.clone())),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Customer {
            cookie: String::new(),
            key: body["customerKey"].as_str().unwrap().to_owned(),
            session: Some(body["checkoutSession"].as_str().unwrap().to_owned()),
            user: Some(user),
        }
    }

    /// This customer opens the checkout page of `plan` again: a new session.
    pub async fn checkout_again(&self, c: &Customer, plan: &str) -> (StatusCode, Value) {
        let (status, body, _) = checkout(&self.http, &self.base, plan, Some(c.auth())).await;
        (status, body)
    }

    /// `GET` as this customer.
    pub async fn get_as(&self, c: &Customer, path: &str) -> (StatusCode, Value) {
        let (name, value) = c.auth();
        let r = self
            .http
            .get(self.url(path))
            .header(name, value)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        )
    }

    /// `POST` `body` as this customer (same-origin, as the page is).
    pub async fn post_as(&self, c: &Customer, path: &str, body: Value) -> (StatusCode, Value) {
        let (name, value) = c.auth();
        let r = self
            .http
            .post(self.url(path))
            .header(name, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        )
    }

    pub async fn hand_off_as(
        &self,
        cookie: &str,
        auth_key: &str,
        customer_key: &str,
    ) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url("/api/billing/issue"))
            .header("cookie", cookie)
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                billing_server::ids::exchange_key(auth_key),
            )
            .body(json!({ "authKey": auth_key, "customerKey": customer_key }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        let status = r.status();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, body)
    }

    pub async fn hand_off(&self, c: &Customer, auth_key: &str) -> (StatusCode, Value) {
        let (name, value) = c.auth();
        let r = self
            .http
            .post(self.url("/api/billing/issue"))
            .header(name, value)
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                billing_server::ids::exchange_key(auth_key),
            )
            .body(c.hand_off_body(auth_key).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        let status = r.status();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, body)
    }

    /// Asks again while the answer is `202`, as the page does.
    pub async fn hand_off_until_final(&self, c: &Customer, auth_key: &str) -> (StatusCode, Value) {
        for _ in 0..60 {
            let (status, body) = self.hand_off(c, auth_key).await;
            if status != StatusCode::ACCEPTED {
                return (status, body);
            }
            assert_eq!(body["code"], "HANDOFF_PENDING");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the hand-off never turned final");
    }

    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut request = self.http.post(self.url(path)).body(body.to_owned());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let r = request.send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path} answered {status} not JSON: {text}"));
        (status, body, headers)
    }

    pub async fn charge(&self, body: Value) -> (StatusCode, Value) {
        let (status, body, _) = self
            .post(
                "/api/admin/charges",
                &[
                    ("authorization", &format!("Bearer {OPERATOR}")),
                    ("content-type", "application/json"),
                ],
                &body.to_string(),
            )
            .await;
        (status, body)
    }

    pub async fn get_charge(&self, order_id: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(&format!("/api/admin/charges/{order_id}")))
            .header("authorization", format!("Bearer {OPERATOR}"))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// Waits until `GET` the charge says something final.
    pub async fn charge_settles(&self, order_id: &str) -> Value {
        for _ in 0..120 {
            let (status, body) = self.get_charge(order_id).await;
            if status != StatusCode::ACCEPTED {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("charge {order_id} never settled");
    }

    /// A visitor with a registered card.
    pub async fn customer_with_card(&self) -> Customer {
        let c = self.visitor().await;
        let (status, body) = self.hand_off_until_final(&c, &good_card(&c.key)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        c
    }

    pub async fn count(&self, sql: &str) -> i64 {
        count(&self.database, sql).await
    }
}

/// Runs `SELECT COUNT(*) …` on a database from outside the server.
pub async fn count(database: &DatabaseUrl, sql: &str) -> i64 {
    match database {
        DatabaseUrl::Sqlite(path) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut c).await.unwrap();
            n
        }
        DatabaseUrl::Postgres(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&mut c).await.unwrap();
            n
        }
    }
}

/// Opens the store directly (as a second process would).
pub async fn open_store(database: &DatabaseUrl) -> Store {
    Store::open(database, PoolSize { max_connections: 2 })
        .await
        .unwrap()
}

/// A child process (billing-server, or its simulator) with its output kept for failure reports.
pub struct Proc {
    pub child: tokio::process::Child,
    pub url: String,
    pub output: Arc<Mutex<String>>,
    pub name: String,
}

impl Proc {
    /// Spawns `billing-server [args]` with `env`, and waits for its "listening on" line.
    pub async fn spawn(name: &str, args: &[&str], env: &[(&str, String)]) -> Proc {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_billing-server"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("billing-server runs");
        let output = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        tokio::spawn({
            let output = output.clone();
            async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut o = output.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some((_, url)) = line.split_once(" listening on ") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(url) = url else {
            let _ = child.start_kill();
            let status = child.wait().await;
            panic!(
                "{name} did not start ({status:?}):\n{}",
                output.lock().unwrap()
            );
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Proc {
            child,
            url,
            output,
            name: name.to_owned(),
        }
    }

    /// SIGKILL: no chance to clean up.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }

    /// SIGTERM, and the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running") as i32;
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("it exits after SIGTERM")
            .unwrap()
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- {} output ----\n{}", self.name, self.output());
        }
        let _ = self.child.start_kill();
    }
}

/// The environment of a billing-server process on `database` against the simulator at `sim_url`.
pub fn server_env(
    database: &DatabaseUrl,
    dir: &Path,
    sim_url: &str,
    instance: &str,
) -> Vec<(&'static str, String)> {
    let dist = write_dist(dir);
    vec![
        ("PORT", "0".into()),
        ("DATABASE_URL", url_text(database)),
        ("DIST_DIR", dist.display().to_string()),
        ("TOSS_API_BASE", sim_url.to_owned()),
        ("TOSS_TIMEOUT_MS", "3000".into()),
        ("TOSS_QUICK_RETRIES", "1".into()),
        ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY.into()),
        ("OPERATOR_TOKEN", OPERATOR.into()),
        ("INSTANCE_ID", instance.into()),
        ("HANDOFF_WAIT_MS", "3000".into()),
        ("LEASE_MS", "3000".into()),
        ("RECONCILE_INTERVAL_MS", "200".into()),
        ("DRAIN_TIMEOUT_MS", "20000".into()),
        ("HANDOFF_RATE_PER_MINUTE", "100000".into()),
        ("HANDOFF_BURST", "10000".into()),
        ("SESSION_RATE_PER_MINUTE", "100000".into()),
        ("SESSION_BURST", "10000".into()),
        ("SUBSCRIBE_PLAN", "none".into()),
    ]
}

/// An HTTP client for a server in another process.
pub struct Remote {
    pub base: String,
    pub http: reqwest::Client,
}

impl Remote {
    pub fn new(base: &str) -> Remote {
        Remote {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub async fn visitor(&self) -> Customer {
        let r = self
            .http
            .get(format!("{}/api/customer", self.base))
            .send()
            .await
            .unwrap();
        let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        Customer {
            cookie: set_cookie.split(';').next().unwrap().to_owned(),
            key: body["customerKey"].as_str().unwrap().to_owned(),
            session: None,
            user: None,
        }
    }

    /// A new visitor on the checkout page of `plan`.
    pub async fn shopper(&self, plan: &str) -> Customer {
        let (status, body, cookie) = checkout(&self.http, &self.base, plan, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Customer {
            cookie: cookie.expect("a visitor's cookie"),
            key: body["customerKey"].as_str().unwrap().to_owned(),
            session: Some(body["checkoutSession"].as_str().unwrap().to_owned()),
            user: None,
        }
    }

    pub async fn hand_off(
        &self,
        c: &Customer,
        auth_key: &str,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let (name, value) = c.auth();
        let r = self
            .http
            .post(format!("{}/api/billing/issue", self.base))
            .header(name, value)
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                billing_server::ids::exchange_key(auth_key),
            )
            .body(c.hand_off_body(auth_key).to_string())
            .send()
            .await?;
        let status = r.status();
        Ok((status, r.json().await?))
    }

    pub async fn hand_off_until_final(&self, c: &Customer, auth_key: &str) -> (StatusCode, Value) {
        for _ in 0..80 {
            match self.hand_off(c, auth_key).await {
                Ok((StatusCode::ACCEPTED, _)) => {}
                Ok(other) => return other,
                Err(e) => eprintln!("hand-off attempt failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the hand-off never turned final");
    }

    pub async fn charge(&self, body: &Value) -> Result<(StatusCode, Value), reqwest::Error> {
        let r = self
            .http
            .post(format!("{}/api/admin/charges", self.base))
            .header("authorization", format!("Bearer {OPERATOR}"))
            .json(body)
            .send()
            .await?;
        let status = r.status();
        Ok((status, r.json().await?))
    }
}

/// Polls `check` every 50 ms until it returns true, or fails after `secs`.
pub async fn eventually<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {secs} s");
}
