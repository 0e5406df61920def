//! `./scripts/bench-server.sh` (or `cargo bench -p billing-server --bench load` with
//! `BENCH_POSTGRES_URL` set): the release billing-server against its simulator in its own process,
//! on SQLite and on PostgreSQL, with one and two instances. Prints two tables:
//!
//! - hand-offs: 200 concurrent first-time hand-offs (each its own customer), the simulator
//!   answering each issue call after 100 ms; latency from the POST to the final 200 (a `202` is
//!   asked again after 250 ms, as the page does), p50 and p99;
//! - scheduler: `BENCH_SUBSCRIPTIONS` (default 2,000) due subscriptions, the simulator answering
//!   each charge after 100 ms; charges per second from the scheduler's start until the last one is
//!   DONE, and per instance.
//!
//! Figures, not assertions: the machine is shared; compare within one run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};

const KEY: &str = "k1:YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktMDE=";

struct Proc {
    child: tokio::process::Child,
    url: String,
}

impl Proc {
    fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// CPU seconds (user + system) a process has used, from /proc (100 ticks a second).
fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// The machine's CPU ticks so far: (busy, all), from the first line of /proc/stat (steal counts
/// as busy: the hypervisor gave the time to someone else).
fn machine_ticks() -> (u64, u64) {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<u64> = stat
                .lines()
                .next()?
                .split_whitespace()
                .skip(1)
                .filter_map(|n| n.parse().ok())
                .collect();
            let all: u64 = fields.iter().take(8).sum();
            let idle = fields.get(3)? + fields.get(4)?; // idle + iowait
            Some((all - idle, all))
        })
        .unwrap_or((0, 1))
}

/// CPU seconds of every PostgreSQL process on the machine.
fn postgres_cpu_seconds() -> f64 {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn spawn(args: &[&str], env: &[(&str, String)]) -> Proc {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_billing-server"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("billing-server runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                if let Some((_, url)) = line.split_once(" listening on ") {
                    break url.trim().to_owned();
                }
            }
            _ => panic!("billing-server did not start"),
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Proc { child, url }
}

#[derive(Clone, Copy, PartialEq)]
enum Db {
    Sqlite,
    Postgres,
}

async fn fresh_database(db: Db, dir: &Path) -> String {
    match db {
        Db::Sqlite => dir.join("billing.sqlite").display().to_string(),
        Db::Postgres => {
            let admin = std::env::var("BENCH_POSTGRES_URL").expect("BENCH_POSTGRES_URL");
            let name = format!(
                "bench_{}",
                billing_server::ids::hex(&billing_server::ids::random_bytes::<6>())
            );
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .await
                .unwrap();
            format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
        }
    }
}

fn server_env(
    database: &str,
    dir: &Path,
    sim: &str,
    instance: &str,
    scheduler: bool,
) -> Vec<(&'static str, String)> {
    let dist = dir.join(format!("dist-{instance}"));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
    vec![
        ("PORT", "0".into()),
        ("DATABASE_URL", database.into()),
        ("DIST_DIR", dist.display().to_string()),
        ("TOSS_API_BASE", sim.into()),
        ("BILLING_KEY_ENCRYPTION_KEY", KEY.into()),
        ("INSTANCE_ID", instance.into()),
        ("SCHEDULER", if scheduler { "on" } else { "off" }.into()),
        ("SCHEDULER_INTERVAL_MS", "200".into()),
        ("HANDOFF_RATE_PER_MINUTE", "1000000".into()),
        ("HANDOFF_BURST", "100000".into()),
        ("SESSION_RATE_PER_MINUTE", "1000000".into()),
        ("SESSION_BURST", "100000".into()),
        ("MAX_CONNECTIONS", "4096".into()),
        (
            "SCHEDULER_CONCURRENCY",
            std::env::var("BENCH_SCHEDULER_CONCURRENCY").unwrap_or_else(|_| "32".into()),
        ),
    ]
}

struct Customer {
    cookie: String,
    key: String,
}

async fn visitor(http: &reqwest::Client, base: &str) -> Customer {
    let r = http
        .get(format!("{base}/api/customer"))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let key = r.json::<Value>().await.unwrap()["customerKey"]
        .as_str()
        .unwrap()
        .to_owned();
    Customer { cookie, key }
}

/// One hand-off until its final answer; returns how long it took.
async fn hand_off(http: &reqwest::Client, base: &str, c: &Customer) -> Duration {
    let auth_key = toss_sim::sandbox_auth_key(&c.key, "433012", "1234", "1299", "PERSONAL");
    let body = json!({ "authKey": auth_key, "customerKey": c.key });
    let started = Instant::now();
    loop {
        let r = http
            .post(format!("{base}/api/billing/issue"))
            .header("cookie", &c.cookie)
            .header(
                "idempotency-key",
                billing_server::ids::exchange_key(&auth_key),
            )
            .json(&body)
            .send()
            .await;
        match r.map(|r| r.status().as_u16()) {
            Ok(200) => return started.elapsed(),
            Ok(202) | Ok(503) | Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            Ok(other) => panic!("hand-off answered {other}"),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn count(database: &str, db: Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{database}"))
                .await
                .unwrap();
            sqlx::query_as::<_, (i64,)>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
                .0
        }
        Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(database).await.unwrap();
            sqlx::query_as::<_, (i64,)>(sql)
                .fetch_one(&mut c)
                .await
                .unwrap()
                .0
        }
    }
}

async fn with_sim(dir: &Path) -> Proc {
    let sim = spawn(
        &["simulate"],
        &[
            (
                "SIMULATOR_DATABASE",
                dir.join("sim.sqlite").display().to_string(),
            ),
            ("PORT", "0".into()),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    for api in ["issue", "charge"] {
        http.post(format!("{}/__control/rules", sim.url))
            .json(&json!({ "api": api, "delayMs": 100 }))
            .send()
            .await
            .unwrap();
    }
    sim
}

async fn bench_handoffs(db: Db, instances: usize) -> (Duration, Duration) {
    let dir = TempDir::new();
    let sim = with_sim(dir.path()).await;
    let database = fresh_database(db, dir.path()).await;
    let mut servers = Vec::new();
    for i in 0..instances {
        servers.push(
            spawn(
                &[],
                &server_env(
                    &database,
                    dir.path(),
                    &sim.url,
                    &format!("bench-{i}"),
                    false,
                ),
            )
            .await,
        );
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    let mut customers = Vec::new();
    for i in 0..200 {
        customers.push((
            i % instances,
            visitor(&http, &servers[i % instances].url).await,
        ));
    }
    let mut latencies: Vec<Duration> = futures::future::join_all(
        customers
            .iter()
            .map(|(i, c)| hand_off(&http, &servers[*i].url, c)),
    )
    .await;
    latencies.sort();
    assert_eq!(
        count(&database, db, "SELECT COUNT(*) FROM billing_keys").await,
        200
    );
    (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

async fn bench_scheduler(db: Db, instances: usize, subscriptions: usize) -> f64 {
    let dir = TempDir::new();
    let sim = with_sim(dir.path()).await;
    let database = fresh_database(db, dir.path()).await;
    {
        let seeder = spawn(
            &[],
            &server_env(&database, dir.path(), &sim.url, "seed", false),
        )
        .await;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(128)
            .build()
            .unwrap();
        futures::stream::iter(0..subscriptions)
            .for_each_concurrent(64, |_| {
                let (http, url) = (&http, &seeder.url);
                async move {
                    let c = visitor(http, url).await;
                    hand_off(http, url, &c).await;
                }
            })
            .await;
        while count(&database, db, "SELECT COUNT(*) FROM subscriptions").await
            < subscriptions as i64
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut servers = Vec::new();
    for i in 0..instances {
        servers.push(
            spawn(
                &[],
                &server_env(&database, dir.path(), &sim.url, &format!("sched-{i}"), true),
            )
            .await,
        );
    }
    // Timed from the moment every instance is up (each starts charging at once).
    let started = Instant::now();
    let servers_before: Vec<f64> = servers
        .iter()
        .map(|s| s.pid().map_or(0.0, cpu_seconds))
        .collect();
    let sim_before = sim.pid().map_or(0.0, cpu_seconds);
    let pg_before = postgres_cpu_seconds();
    // Sampled while it runs: PostgreSQL sessions waiting on a lock (instances must not wait on
    // each other); and how busy the whole machine was (other work on it skews the figures).
    let (mut samples, mut lock_waits, mut max_lock_waits) = (0u32, 0u32, 0i64);
    let machine_before = machine_ticks();
    loop {
        let done = count(
            &database,
            db,
            "SELECT COUNT(*) FROM charges WHERE status = 'DONE'",
        )
        .await;
        if done >= subscriptions as i64 {
            break;
        }
        samples += 1;
        if db == Db::Postgres {
            let waiting = count(
                &database,
                db,
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
            )
            .await;
            lock_waits += u32::from(waiting > 0);
            max_lock_waits = max_lock_waits.max(waiting);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let machine_after = machine_ticks();
    let machine_busy = 100.0 * (machine_after.0 - machine_before.0) as f64
        / (machine_after.1 - machine_before.1).max(1) as f64;
    // Where the time went: each process's CPU over the run (this machine has 2 cores: 2 CPU
    // seconds per second), and calls beyond one charge per subscription (lookups, resends).
    let servers_cpu: Vec<String> = servers
        .iter()
        .zip(&servers_before)
        .map(|(s, before)| format!("{:.1}", s.pid().map_or(0.0, cpu_seconds) - before))
        .collect();
    let sim_cpu = sim.pid().map_or(0.0, cpu_seconds) - sim_before;
    let pg_cpu = postgres_cpu_seconds() - pg_before;
    let stats: Value = reqwest::get(format!("{}/__control/stats", sim.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resent = count(
        &database,
        db,
        "SELECT COUNT(*) FROM charges WHERE sends > 1",
    )
    .await;
    eprintln!(
        "  {} x{instances}: {elapsed:.1} s; CPU seconds: billing-server {}, simulator {sim_cpu:.1}, \
         PostgreSQL {pg_cpu:.1} (the machine has {:.1}); simulator calls {}; charges sent twice: {resent}; \
         the machine {machine_busy:.0}% busy{}",
        if db == Db::Sqlite { "SQLite" } else { "PostgreSQL" },
        servers_cpu.join(" + "),
        elapsed * 2.0,
        stats["calls"],
        if db == Db::Postgres {
            format!("; sessions waiting on a lock: in {lock_waits} of {samples} samples (at most {max_lock_waits})")
        } else {
            String::new()
        }
    );
    subscriptions as f64 / elapsed
}

/// The simulator alone, with no billing-server in front: `n` billing keys issued, then each
/// charged once, `concurrency` at a time, each answered after 100 ms. Its charges per second are
/// the ceiling of the scheduler table on this machine: Toss itself is not a bottleneck, but the
/// stand-in (one SQLite writer, on the same two cores) can be.
async fn bench_simulator_alone(n: usize, concurrency: usize) -> f64 {
    use base64::Engine;
    let dir = TempDir::new();
    let sim = with_sim(dir.path()).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("test_sk_benchsimulatoralone:")
    );
    let (http, auth, base) = (&http, &auth, &sim.url);
    let keys: Vec<(String, String)> = futures::stream::iter(0..n)
        .map(|i| async move {
            let customer = format!("bench-sim-{i}");
            let r: Value = http
                .post(format!("{base}/v1/billing/authorizations/issue"))
                .header("authorization", auth)
                .json(&json!({ "authKey": format!("bench-auth-{i}"), "customerKey": customer }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (
                r["billingKey"].as_str().expect("a billing key").to_owned(),
                customer,
            )
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let started = Instant::now();
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(concurrency, |(i, (key, customer))| async move {
            let r = http
                .post(format!("{base}/v1/billing/{key}"))
                .header("authorization", auth)
                .header("idempotency-key", format!("bench-charge-{i}"))
                .json(&json!({
                    "customerKey": customer, "amount": 9900,
                    "orderId": format!("bench-order-{i}"), "orderName": "bench",
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        })
        .await;
    n as f64 / started.elapsed().as_secs_f64()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "billing-bench-{}",
            billing_server::ids::hex(&billing_server::ids::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` lists or smoke-runs benches: nothing to do here.
    }
    let subscriptions: usize = std::env::var("BENCH_SUBSCRIPTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let mut databases = vec![Db::Sqlite];
    if std::env::var("BENCH_POSTGRES_URL").is_ok() {
        databases.push(Db::Postgres);
    } else {
        eprintln!("BENCH_POSTGRES_URL is not set: PostgreSQL is not measured (scripts/bench-server.sh sets it)");
    }
    let name = |db: Db| {
        if db == Db::Sqlite {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    };
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "handoffs" {
        println!("\nhand-offs: 200 concurrent, Toss (simulator) answering after 100 ms\n");
        println!("| database | instances | p50 | p99 |\n|---|---:|---:|---:|");
        for &db in &databases {
            for instances in [1, 2] {
                let (p50, p99) = bench_handoffs(db, instances).await;
                println!(
                    "| {} | {instances} | {} ms | {} ms |",
                    name(db),
                    p50.as_millis(),
                    p99.as_millis()
                );
            }
        }
    }
    if only == "handoffs" {
        return;
    }
    // The same charges straight at the simulator, as many at a time as one and as two
    // instances send (SCHEDULER_CONCURRENCY each): what the table below could reach at most.
    let per_instance: usize = std::env::var("BENCH_SCHEDULER_CONCURRENCY")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32);
    println!("\nthe simulator alone (no billing-server), each charge answered after 100 ms:\n");
    println!("| at a time | charges/s |\n|---:|---:|");
    for at_a_time in [per_instance, 2 * per_instance] {
        let rate = bench_simulator_alone(subscriptions, at_a_time).await;
        println!("| {at_a_time} | {rate:.0} |");
    }
    if only == "simulator" {
        return;
    }
    println!("\nscheduler: {subscriptions} due subscriptions, Toss (simulator) answering each charge after 100 ms\n");
    println!("| database | instances | charges/s | per instance |\n|---|---:|---:|---:|");
    for &db in &databases {
        let mut one = 0.0;
        for instances in [1, 2] {
            let rate = bench_scheduler(db, instances, subscriptions).await;
            if instances == 1 {
                one = rate;
            }
            let scale = if instances == 2 {
                format!(" ({:.2}× one)", rate / one)
            } else {
                String::new()
            };
            println!(
                "| {} | {instances} | {rate:.0}{scale} | {:.0} |",
                name(db),
                rate / instances as f64
            );
        }
    }
}
