//! The system under test: the release frontend served by the reference backend (`billing-server`,
//! in-process, with its Toss simulator mounted, a fresh SQLite file and a copy of the release dist),
//! behind a small "front door" proxy that records every request and can inject faults (a 5xx, a
//! dropped connection, a delay) on chosen paths, the way a flaky network or backend would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use toss_sim::Simulator;

use super::build::{copy_dir, release_dist};
use super::Step;

/// What the front door does to a matching request instead of (or before) passing it on.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status with a JSON error body; the backend never sees the request.
    Status(u16),
    /// Answer this status with this JSON body (a merchant backend's own refusal).
    Body(u16, &'static str),
    /// Close the connection without an answer (the browser sees a network error).
    Drop,
    /// Wait, then pass the request on (a slow backend).
    Delay(Duration),
}

/// How a request seen by the front door ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed to the backend, which answered this status.
    Forwarded(u16),
    /// Answered by an injected fault with this status.
    Injected(u16),
    /// Dropped by an injected fault.
    Dropped,
}

/// One request the front door saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, as the browser sent them.
    pub target: String,
    /// What happened to it.
    pub outcome: Outcome,
}

struct Rule {
    method: &'static str,
    path: String,
    fault: Fault,
    remaining: Option<usize>,
}

#[derive(Default)]
struct FrontState {
    seen: Vec<Seen>,
    rules: Vec<Rule>,
}

/// The recording, fault-injecting proxy in front of the backend.
pub struct FrontDoor {
    upstream: String,
    state: Mutex<FrontState>,
    client: Client<HttpConnector, Full<Bytes>>,
}

#[derive(Debug)]
struct DroppedOnPurpose;

impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedOnPurpose {}

impl FrontDoor {
    /// Injects `fault` on `method` requests whose path starts with `path`, `times` times (or until
    /// [`FrontDoor::heal`] when `None`).
    pub fn inject(&self, method: &'static str, path: &str, fault: Fault, times: Option<usize>) {
        self.state.lock().unwrap().rules.push(Rule {
            method,
            path: path.to_owned(),
            fault,
            remaining: times,
        });
    }

    /// Removes every fault: the network and backend are healthy again.
    pub fn heal(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The requests to `path` (ignoring the query) with `method`.
    pub fn seen_at(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method && s.target.split('?').next() == Some(path))
            .collect()
    }

    fn fault_for(&self, method: &str, target: &str) -> Option<Fault> {
        let mut state = self.state.lock().unwrap();
        let index = state.rules.iter().position(|r| {
            r.method == method && target.starts_with(&r.path) && r.remaining != Some(0)
        })?;
        let rule = &mut state.rules[index];
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        Some(rule.fault.clone())
    }

    fn record(&self, method: &str, target: &str, outcome: Outcome) {
        self.state.lock().unwrap().seen.push(Seen {
            method: method.to_owned(),
            target: target.to_owned(),
            outcome,
        });
    }

    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, DroppedOnPurpose> {
        let method = request.method().to_string();
        let target = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        match self.fault_for(&method, &target) {
            Some(Fault::Status(status)) => {
                self.record(&method, &target, Outcome::Injected(status));
                let body = format!(
                    r#"{{"code":"INJECTED_FAULT","message":"fault injected by the e2e front door ({status})"}}"#
                );
                return Ok(Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .header("cache-control", "no-store")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap());
            }
            Some(Fault::Body(status, body)) => {
                self.record(&method, &target, Outcome::Injected(status));
                return Ok(Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .header("cache-control", "no-store")
                    .body(Full::new(Bytes::from_static(body.as_bytes())))
                    .unwrap());
            }
            Some(Fault::Drop) => {
                self.record(&method, &target, Outcome::Dropped);
                return Err(DroppedOnPurpose);
            }
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            None => {}
        }
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        // Headers (Host, Origin, Cookie, Sec-Fetch-*) pass unchanged: the backend sees what the
        // browser sent.
        let mut upstream = Request::builder()
            .method(parts.method)
            .uri(format!("{}{}", self.upstream, target));
        for (name, value) in &parts.headers {
            upstream = upstream.header(name, value);
        }
        let answer = match self
            .client
            .request(upstream.body(Full::new(body)).unwrap())
            .await
        {
            Ok(answer) => answer,
            Err(_) => {
                self.record(&method, &target, Outcome::Dropped);
                return Err(DroppedOnPurpose);
            }
        };
        let status = answer.status();
        let (parts, body) = answer.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        self.record(&method, &target, Outcome::Forwarded(status.as_u16()));
        let mut response = Response::builder().status(status);
        for (name, value) in &parts.headers {
            if name != "transfer-encoding" && name != "connection" && name != "content-length" {
                response = response.header(name, value);
            }
        }
        Ok(response.body(Full::new(body)).unwrap())
    }
}

/// What a test wants of the shop.
#[derive(Debug, Clone)]
pub struct ShopSetup {
    /// Fields merged into the page's `toss-billing-config` JSON block (the shipped defaults stay
    /// untouched: each shop serves its own copy of the release dist).
    pub page_config: Value,
    /// How long the backend waits for one Toss call.
    pub toss_timeout: Duration,
    /// Serve the storefront from the Leptos SSR example (`examples/ssr`) instead of the release
    /// dist: the browser opens the example, which passes `/api` to billing-server.
    pub ssr_example: bool,
    /// Serve the storefront from the dev loop (`trunk serve`, dev.html, a debug build) with its
    /// proxy to billing-server, as `scripts/dev.sh` does.
    pub dev_loop: bool,
}

impl Default for ShopSetup {
    fn default() -> Self {
        Self {
            page_config: Value::Object(Default::default()),
            toss_timeout: Duration::from_secs(3),
            ssr_example: false,
            dev_loop: false,
        }
    }
}

/// A card row the backend stored (the billing key itself stays encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    /// The customer it belongs to.
    pub customer_key: String,
    /// e.g. `현대`.
    pub company: String,
    /// Masked, e.g. `433012******123*`.
    pub number: String,
    /// e.g. `신용`.
    pub card_type: Option<String>,
}

/// A running shop: the page's origin, the backend, its simulator and its database.
pub struct Shop {
    /// What the browser opens: the front door (`http://127.0.0.1:PORT`), or the SSR example.
    pub origin: String,
    /// The recording, fault-injecting proxy.
    pub front: Arc<FrontDoor>,
    /// The Toss API simulator the backend calls.
    pub sim: Simulator,
    dir: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server: billing_server::Server,
    ssr: Option<std::process::Child>,
}

/// Rewrites the JSON configuration block of a document of the build, merging `overrides` into it.
fn configure_page(index: &Path, overrides: &Value) -> Step {
    let html = std::fs::read_to_string(index)?;
    let open = r#"<script type="application/json" id="toss-billing-config">"#;
    let start = html
        .find(open)
        .ok_or("index.html has no toss-billing-config block")?
        + open.len();
    let end = start
        + html[start..]
            .find("</script>")
            .ok_or("the toss-billing-config block is not closed")?;
    let mut config: Value = serde_json::from_str(&html[start..end])?;
    for (name, value) in overrides.as_object().into_iter().flatten() {
        config[name] = value.clone();
    }
    let html = format!(
        "{}{}{}",
        &html[..start],
        serde_json::to_string(&config)?,
        &html[end..]
    );
    std::fs::write(index, html)?;
    Ok(())
}

impl Shop {
    /// Starts a fresh shop on free ports of 127.0.0.1.
    pub async fn open(setup: &ShopSetup) -> Step<Shop> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "toss-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let dist = dir.join("dist");
        copy_dir(release_dist(), &dist)?;
        configure_page(&dist.join("index.html"), &setup.page_config)?;
        // Host pages that are not the demo: a plain page mounting from its own script, and the
        // element, each also standing in for the pages Toss returns to (e2e/fixtures/host).
        let host = dist.join("host");
        copy_dir(
            &super::build::workspace_root().join("e2e/fixtures/host"),
            &host,
        )?;
        for (page, copies) in [
            ("mount.html", ["mount-ok.html", "mount-no.html"]),
            ("element.html", ["element-ok.html", "element-no.html"]),
        ] {
            for copy in copies {
                std::fs::copy(host.join(page), host.join(copy))?;
            }
        }
        // return.html (the same page preloading the return bundle, which the server gives on the
        // success and fail paths) carries the configuration too.
        for page in ["return.html", "account.html"] {
            let page = dist.join(page);
            if page.is_file() {
                configure_page(&page, &setup.page_config)?;
            }
        }

        // The front door's port is the page's origin, so the backend must accept it as its own.
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let origin = format!("http://{}", listener.local_addr()?);
        // The SSR example's port is chosen now, so billing-server can allow its origin.
        let ssr_port = if setup.ssr_example || setup.dev_loop {
            Some(
                std::net::TcpListener::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port(),
            )
        } else {
            None
        };

        let data = dir.join("data");
        let mut settings = billing_server::Settings::demo();
        settings.port = 0;
        settings.database = billing_server::store::DatabaseUrl::Sqlite(data.join("billing.sqlite"));
        settings.simulator_database = data.join("simulator.sqlite");
        settings.dist_dir = dist;
        settings.mount_simulator = true;
        settings.toss_api_base = None;
        settings.toss_timeout = setup.toss_timeout;
        settings.toss_quick_retries = 2;
        settings.toss_backoff = Duration::from_millis(20);
        settings.encryption =
            billing_server::settings::KeySource::Env(billing_server::settings::Secret::new(
                "e2e:WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=",
            ));
        settings.allowed_origins = vec![origin.clone()];
        if let Some(port) = ssr_port {
            settings
                .allowed_origins
                .push(format!("http://127.0.0.1:{port}"));
        }
        settings.instance_id = format!("e2e-{}", dir.display());
        settings.reconcile_interval = Duration::from_millis(500);
        // The stories move the test clock by months: a customer who "stays signed in" (as on a
        // merchant's site with its own login), so the account page still knows them afterwards.
        settings.session_idle = Duration::from_secs(400 * 86_400);
        settings.session_max_age = Duration::from_secs(400 * 86_400);
        settings.limits.handoff_per_minute = 10_000;
        settings.limits.handoff_burst = 1_000;
        settings.limits.session_per_minute = 10_000;
        settings.limits.session_burst = 1_000;
        let running = billing_server::start(settings)
            .await
            .map_err(|e| format!("billing-server did not start: {e}"))?;
        let sim = running
            .simulator
            .clone()
            .ok_or("billing-server started without its simulator")?;

        let front = Arc::new(FrontDoor {
            upstream: running.base_url.clone(),
            state: Mutex::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let accept = {
            let front = front.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let front = front.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            front.clone().handle(request)
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        let (origin, ssr) = match ssr_port {
            None => (origin, None),
            Some(port) if setup.dev_loop => {
                let child = start_dev_loop(&dir, port, &origin)?;
                let dev_origin = format!("http://127.0.0.1:{port}");
                // trunk builds first (a debug build of every page), then listens.
                let deadline = std::time::Instant::now() + Duration::from_secs(600);
                while tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err()
                {
                    if std::time::Instant::now() > deadline {
                        return Err("trunk serve did not start listening in 10 minutes".into());
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                (dev_origin, Some(child))
            }
            Some(port) => {
                let (bin, site) = super::build::ssr_example();
                let child = std::process::Command::new(bin)
                    .env("PORT", port.to_string())
                    .env("SITE_ROOT", site)
                    .env("BILLING_SERVER_URL", &origin)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot start the SSR example: {e}"))?;
                let ssr_origin = format!("http://127.0.0.1:{port}");
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                while tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_err()
                {
                    if std::time::Instant::now() > deadline {
                        return Err("the SSR example did not start listening".into());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (ssr_origin, Some(child))
            }
        };
        Ok(Shop {
            origin,
            front,
            sim,
            dir,
            tasks: vec![accept],
            server: running,
            ssr,
        })
    }

    /// `origin` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }

    /// Hand-offs that reached the backend (`POST /api/billing/issue` passed through the front door).
    pub fn hand_offs(&self) -> usize {
        self.front
            .seen_at("POST", "/api/billing/issue")
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Forwarded(_)))
            .count()
    }

    /// The operator's API, as the operator page calls it (`Authorization: Bearer` the demo token):
    /// `method` `path` with an optional JSON body; the answer's status and JSON body.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Step<(u16, Value)> {
        let client = reqwest::Client::new();
        let url = format!("{}{}", self.server.base_url, path);
        let mut request = client
            .request(reqwest::Method::from_bytes(method.as_bytes())?, url)
            .header(
                "authorization",
                format!("Bearer {}", billing_server::settings::DEMO_OPERATOR_TOKEN),
            );
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request.send().await?;
        let status = answer.status().as_u16();
        let text = answer.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// The shop's only subscription, as the operator sees it (`GET /api/admin/subscriptions/{id}`:
    /// the subscription with its attempts, charges and refunds, changes and consents).
    pub async fn the_subscription(&self) -> Step<Value> {
        let (status, list) = self.admin("GET", "/api/admin/subscriptions", None).await?;
        let subscriptions = list["subscriptions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if status != 200 || subscriptions.is_empty() {
            return Err(format!("no subscription: {status} {list}").into());
        }
        let id = subscriptions[0]["id"]
            .as_i64()
            .ok_or("a subscription without an id")?;
        let (status, body) = self
            .admin("GET", &format!("/api/admin/subscriptions/{id}"), None)
            .await?;
        if status != 200 {
            return Err(format!("the subscription: {status} {body}").into());
        }
        Ok(body)
    }

    /// KRW of each charge Toss approved for the shop's only subscription (renewals, upgrades),
    /// oldest first.
    pub async fn paid_amounts(&self) -> Step<Vec<i64>> {
        let sub = self.the_subscription().await?;
        let mut paid: Vec<(String, i64)> = sub["charges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["status"] == "DONE")
            .map(|a| {
                (
                    a["createdAt"].as_str().unwrap_or_default().to_owned(),
                    a["amount"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        paid.sort();
        Ok(paid.into_iter().map(|(_, amount)| amount).collect())
    }

    /// Moves the backend's clock forward by `days` (the demo clock: `POST /api/admin/clock`) and
    /// lets its scheduler run what fell due.
    pub async fn move_clock_days(&self, days: u64) -> Step {
        let (status, body) = self
            .admin(
                "POST",
                "/api/admin/clock",
                Some(serde_json::json!({ "advanceMs": days * 86_400_000 })),
            )
            .await?;
        if status != 200 {
            return Err(format!("moving the clock: {status} {body}").into());
        }
        Ok(())
    }

    /// Calls the backend made to Toss's issue API.
    pub async fn toss_issue_calls(&self) -> Step<usize> {
        Ok(self.sim.calls_to("issue").await?.len())
    }

    /// Scripts the Toss simulator (the JSON of `POST /__toss-sim/__control/rules`).
    pub fn toss_rule(&self, rule: Value) -> Step {
        self.sim.add_rule(serde_json::from_value(rule)?);
        Ok(())
    }

    /// The success redirects the browser arrived with (full path and query, authKey included).
    pub fn success_redirects(&self) -> Vec<String> {
        self.front
            .seen_at("GET", "/billing/success")
            .into_iter()
            .filter(|s| s.target.contains("authKey="))
            .map(|s| s.target)
            .collect()
    }

    /// The cards the backend stored, read straight from its SQLite file.
    pub async fn stored_cards(&self) -> Step<Vec<StoredCard>> {
        use sqlx::Row;
        let url = format!("sqlite://{}?mode=ro", self.database_path().display());
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?;
        let rows = sqlx::query(
            "SELECT customer_key, card_company, card_number, card_type FROM billing_keys ORDER BY id",
        )
        .fetch_all(&pool)
        .await?;
        pool.close().await;
        Ok(rows
            .iter()
            .map(|row| StoredCard {
                customer_key: row.get(0),
                company: row.get::<Option<String>, _>(1).unwrap_or_default(),
                number: row.get::<Option<String>, _>(2).unwrap_or_default(),
                card_type: row.get(3),
            })
            .collect())
    }

    fn database_path(&self) -> PathBuf {
        self.dir.join("data").join("billing.sqlite")
    }

    /// The database files' raw bytes (main file, WAL and shared memory).
    pub fn database_bytes(&self) -> Vec<u8> {
        let mut all = vec![];
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.database_path().into_os_string();
            path.push(suffix);
            if let Ok(bytes) = std::fs::read(path) {
                all.extend(bytes);
            }
        }
        all
    }

    /// A short account of the backend's side, for failure reports.
    pub async fn account(&self) -> String {
        let seen = self
            .front
            .seen()
            .iter()
            .map(|s| {
                format!(
                    "    {} {} -> {:?}",
                    s.method,
                    shorten(&s.target, 140),
                    s.outcome
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "  requests through the front door:\n{seen}\n  Toss simulator calls: {:?}",
            self.sim
                .calls()
                .await
                .unwrap_or_default()
                .iter()
                .map(|c| (c.api.clone(), c.status, c.outcome.clone()))
                .collect::<Vec<_>>()
        )
    }
}

/// `trunk serve` on `port` with the repository's dev page (dev.html) and a proxy of `/api/` to
/// `backend`: the dev loop of scripts/dev.sh, with its own config file so the proxy points at this
/// shop (the repository's Trunk.toml points at :8090).
fn start_dev_loop(dir: &Path, port: u16, backend: &str) -> Step<std::process::Child> {
    let root = super::build::workspace_root();
    let config = dir.join("Trunk.toml");
    std::fs::write(
        &config,
        format!(
            "[build]\ntarget = {target:?}\ndist = {dist:?}\n\n[tools]\nwasm_bindgen = \"0.2.130\"\n\n\
             [serve]\naddresses = [\"127.0.0.1\"]\nport = {port}\n\n\
             [[proxy]]\nrewrite = \"/api/\"\nbackend = \"{backend}/api/\"\n",
            target = root.join("dev.html").display().to_string(),
            dist = dir.join("trunk-dist").display().to_string(),
        ),
    )?;
    Ok(std::process::Command::new("trunk")
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", super::build::target_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run trunk serve: {e}"))?)
}

/// `text`, cut to `max` characters.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.server.stop();
        if let Some(mut ssr) = self.ssr.take() {
            let _ = ssr.kill();
            let _ = ssr.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
