//! Settings, from environment variables (`billing-server --help` lists them). Production fails
//! closed: a setting that would move real money with a test key, keep billing keys under a key the
//! operator never chose, or leave the simulator or a movable clock next to a live key stops the
//! server at start-up with a message that names the variable, never its value.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use crate::store::DatabaseUrl;

/// The public documentation test secret key: only ever used in demo mode, where the Toss API is
/// a simulator.
pub const DOCS_TEST_SECRET_KEY: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";

/// The operator token of the offline demo (its operator page and clock): demo mode only.
pub const DEMO_OPERATOR_TOKEN: &str = "demo-operator-token-not-a-secret";

/// The demo's default plan (a checkout that names none is for it).
pub const DEMO_PLAN_ID: &str = "premium-monthly";

/// The demo's plans, created at start-up in demo mode: 베이직 and 프리미엄 monthly (one can
/// switch between them), and 프리미엄 with a 14-day free trial.
pub fn demo_plans() -> Vec<crate::store::subscriptions::PlanRow> {
    use crate::store::subscriptions::{PlanCycle, PlanRow};
    let monthly = |id: &str, name: &str, amount: i64, trial_days: i64| PlanRow {
        id: id.to_owned(),
        name: name.to_owned(),
        amount,
        cycle: PlanCycle::Monthly,
        interval_days: None,
        trial_days,
    };
    vec![
        monthly(DEMO_PLAN_ID, "프리미엄 플랜", 9_900, 0),
        monthly("basic-monthly", "베이직 플랜", 4_900, 0),
        monthly("premium-trial", "프리미엄 플랜 (14일 무료 체험)", 9_900, 14),
    ]
}

/// The version of the cancellation terms' text the demo pages show (`TERMS_VERSION`).
pub const DEFAULT_TERMS_VERSION: &str = "2026-12-01";

/// The real Toss API.
pub const TOSS_API: &str = "https://api.tosspayments.com";

/// Where Toss's webhooks are received unless `TOSS_WEBHOOK_PATH` says otherwise.
pub const DEFAULT_TOSS_WEBHOOK_PATH: &str = "/api/toss/webhooks";

/// Toss's published webhook source addresses (toss-billing-contract.md §10), for
/// `TOSS_WEBHOOK_ALLOWLIST=on`.
pub const TOSS_WEBHOOK_SOURCES: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::new(13, 124, 18, 147)),
    IpAddr::V4(Ipv4Addr::new(13, 124, 108, 35)),
    IpAddr::V4(Ipv4Addr::new(3, 36, 173, 151)),
    IpAddr::V4(Ipv4Addr::new(3, 38, 81, 32)),
];

/// A webhook path that cannot collide with the API's own routes or the pages: `/` and then
/// letters, digits, `/ _ - .`; under `/api/` only below `/api/toss/`; never the simulator's or the
/// operator page's prefix.
pub fn check_webhook_path(path: &str) -> Result<(), &'static str> {
    let shaped = path.len() >= 2
        && path.len() <= 200
        && path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains("//")
        && !path.contains("..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if !shaped {
        return Err("must be a path like /api/toss/webhooks (letters, digits, / _ - .)");
    }
    if (path.starts_with("/api/") && !path.starts_with("/api/toss/"))
        || path.starts_with("/__toss-sim")
        || path.starts_with("/operator")
    {
        return Err("must not be under /api/ (except /api/toss/), /__toss-sim or /operator");
    }
    Ok(())
}

/// What this server is for; decides what may be left to defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Offline: the simulator is the Toss API, every default works, the clock can be moved.
    Demo,
    /// Toss's test environment (`test_sk_`): an explicit secret key and encryption key; the clock
    /// may still be moved, the simulator mounted for staging checks.
    Test,
    /// Real money (`live_sk_`): explicit keys, no simulator, no movable clock, Secure cookies.
    Live,
}

/// A secret whose `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the billing keys' encryption keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// `BILLING_KEY_ENCRYPTION_KEY`: `id:base64[,id:base64…]`, the first seals.
    Env(Secret),
    /// `BILLING_KEY_ENCRYPTION_KEY_FILE`: the same, one per line, in a file only its owner reads.
    File(PathBuf),
    /// Demo mode only: generated once into this file.
    DemoFile(PathBuf),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env(_) => f.write_str("Env(<redacted>)"),
            KeySource::File(p) => write!(f, "File({})", p.display()),
            KeySource::DemoFile(p) => write!(f, "DemoFile({})", p.display()),
        }
    }
}

/// How the server learns who the customer is (`server/README.md`, "Who is the customer").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// The reference server's own cookie sessions (the demo).
    Sessions,
    /// The merchant's login in front of this server puts the signed-in user's id in this header
    /// (and strips it from what browsers send). Cookie sessions are not used then.
    TrustedHeader(String),
}

/// Who may read `GET /metrics` (`METRICS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Nobody: 404.
    Off,
    /// A bearer token: `METRICS_TOKEN`, or the operator's (the default).
    Token,
    /// Anyone who reaches the listener (only where the network keeps strangers out).
    Open,
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human text (the default).
    Text,
    /// One JSON object per line (tracing-subscriber's JSON layer).
    Json,
}

/// `LOG_FORMAT` (read before the other settings: logging starts first).
pub fn log_format_from_env() -> Result<LogFormat, SettingsError> {
    match std::env::var("LOG_FORMAT").ok().as_deref().map(str::trim) {
        None | Some("") | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(_) => Err(invalid("LOG_FORMAT", "must be text or json")),
    }
}

/// Request limits against slow and greedy clients.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// A request's headers must arrive within this.
    pub header_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
    /// A whole request, answer included.
    pub request_timeout: Duration,
    /// JSON bodies at most.
    pub max_body_bytes: usize,
    /// Hand-offs per client IP: sustained per minute, and burst.
    pub handoff_per_minute: u32,
    /// Burst of hand-offs.
    pub handoff_burst: u32,
    /// New sessions (cookie-less visits) per client IP per minute.
    pub session_per_minute: u32,
    /// Burst of new sessions.
    pub session_burst: u32,
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Demo, test or live.
    pub mode: Mode,
    /// Address to listen on (default 127.0.0.1).
    pub bind: IpAddr,
    /// Port (`0`: any free port).
    pub port: u16,
    /// SQLite file or PostgreSQL URL.
    pub database: DatabaseUrl,
    /// Built frontend to serve.
    pub dist_dir: PathBuf,
    /// Toss secret key; `None` = the docs test key (demo only).
    pub secret_key: Option<Secret>,
    /// Toss API base; `None` = the simulator mounted on this server.
    pub toss_api_base: Option<String>,
    /// Mount the simulator at `/__toss-sim`.
    pub mount_simulator: bool,
    /// The simulator's own SQLite file (when mounted).
    pub simulator_database: PathBuf,
    /// One Toss call.
    pub toss_timeout: Duration,
    /// Quick retries within one run of an exchange or charge (the reconciler retries later).
    pub toss_quick_retries: u32,
    /// First pause between quick retries (doubles).
    pub toss_backoff: Duration,
    /// The billing keys' encryption keys.
    pub encryption: KeySource,
    /// Bearer token of the operator API (`None`: disabled).
    pub operator_token: Option<Secret>,
    /// Extra origins allowed to POST.
    pub allowed_origins: Vec<String>,
    /// Secure cookies even on plain HTTP requests.
    pub cookie_secure: bool,
    /// Believe `X-Forwarded-For`/`-Proto` (only behind a proxy that sets them).
    pub trust_proxy_headers: bool,
    /// Who the customer is.
    pub identity: IdentitySource,
    /// Sessions end after this long unused.
    pub session_idle: Duration,
    /// Sessions end after this long whatever happens.
    pub session_max_age: Duration,
    /// This instance's name in leases; the same name after a restart takes its work back at once.
    pub instance_id: String,
    /// How long a hand-off request waits for its exchange before answering `202`.
    pub handoff_wait: Duration,
    /// How long a runner's lease on an exchange or charge lasts without renewal.
    pub lease: Duration,
    /// How often the reconciler looks for unfinished work.
    pub reconcile_interval: Duration,
    /// How long SIGTERM waits for running exchanges and charges.
    pub drain_timeout: Duration,
    /// After SIGTERM, readiness answers 503 this long before the listener closes (load balancers
    /// stop sending traffic first).
    pub drain_grace: Duration,
    /// Who may read `GET /metrics`.
    pub metrics: MetricsAccess,
    /// The scraper's bearer token (`METRICS=token`; the operator token also works).
    pub metrics_token: Option<Secret>,
    /// The database gauges are read at most this often (concurrent scrapes share a read).
    pub metrics_refresh: Duration,
    /// Request limits.
    pub limits: Limits,
    /// Whether this instance charges due subscriptions.
    pub scheduler: bool,
    /// How often the scheduler looks for due subscriptions.
    pub scheduler_interval: Duration,
    /// Subscriptions one instance charges at once.
    pub scheduler_concurrency: usize,
    /// Soft-decline retries, in days after the period's first failure.
    pub retry_days: Vec<u32>,
    /// Where a subscription ends when they run out.
    pub dunning_final_state: crate::billing::dunning::FinalState,
    /// The plan a checkout session is for when the page names none (demo: `premium-monthly`).
    pub subscribe_plan: Option<String>,
    /// The version of the cancellation terms' text shown at checkout, recorded with each
    /// subscription.
    pub terms_version: String,
    /// 청약철회: days from a period's charge during which it is refunded whole (0: not offered).
    pub withdrawal_days: u32,
    /// What 중도해지 refunds: the unused days pro rata, or nothing.
    pub mid_term_refund: crate::billing::refund_policy::MidTermRefund,
    /// Where Toss's webhooks are received (registered in Toss's developer console).
    pub toss_webhook_path: String,
    /// Accept Toss's webhooks only from Toss's published source addresses.
    pub toss_webhook_allowlist: bool,
    /// Where subscription events are posted (`None`: the log).
    pub webhook_url: Option<String>,
    /// Their signing secret.
    pub webhook_secret: Option<Secret>,
    /// Whether the operator's clock API (`/api/admin/clock`) may move time (demo and test mode only).
    pub movable_clock: bool,
    /// Start the clock this far ahead (tests; demo and test mode only).
    pub clock_offset_ms: i64,
}

/// Why the settings were refused. Messages name variables, never secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A variable has a value that cannot be used.
    #[error("{name}: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Test or live mode without an explicit secret key.
    #[error("BILLING_MODE={0} needs TOSS_SECRET_KEY or TOSS_SECRET_KEY_FILE: the public docs key is for the offline demo only")]
    SecretKeyRequired(&'static str),
    /// A test key in live mode, or a live key outside live mode.
    #[error("{0}")]
    KeyModeMismatch(&'static str),
    /// The simulator (or a movable clock) next to a live key.
    #[error("{0} cannot run next to a live key (BILLING_MODE=live)")]
    NotWithLiveKey(&'static str),
    /// Outside demo mode without an encryption key.
    #[error("BILLING_MODE={0} needs BILLING_KEY_ENCRYPTION_KEY or BILLING_KEY_ENCRYPTION_KEY_FILE: a key generated next to the database would travel with every backup of it")]
    EncryptionKeyRequired(&'static str),
    /// Demo mode pointed at something that is not a local simulator.
    #[error("TOSS_API_BASE: demo mode talks only to a simulator on this machine (127.0.0.1/localhost); use BILLING_MODE=test with your own test_sk_ key for Toss")]
    DemoNotLocal,
}

fn invalid(name: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        name,
        problem: problem.into(),
    }
}

/// Every variable, for `--help`.
pub const ENV_HELP: &str = "\
billing-server: reference merchant backend for the TossPayments billing (자동결제) flow.

Usage:
  billing-server            serve the API (and the frontend, and in demo mode the simulator)
  billing-server simulate   run only the offline Toss API simulator (its own process, own SQLite)
  billing-server --help

Configuration comes from environment variables (server/README.md explains each):
  BILLING_MODE                demo (default) | test | live
  PORT, BIND_ADDRESS          listen address (default 127.0.0.1:8080; PORT=0 picks a free port)
  DATABASE_URL                SQLite file (default data/billing.sqlite) or postgres://user@host/db
  DIST_DIR                    built frontend to serve (default dist)
  TOSS_SECRET_KEY[_FILE]      Toss secret key; required in test and live mode (demo: the docs key)
  TOSS_API_BASE               Toss API (default: demo = the simulator on this server;
                              test and live = https://api.tosspayments.com)
  TOSS_SIMULATOR              on|off: mount the simulator at /__toss-sim (never in live mode)
  SIMULATOR_DATABASE          the simulator's SQLite file (default data/simulator.sqlite)
  TOSS_TIMEOUT_MS             one Toss call (default 10000)
  TOSS_QUICK_RETRIES          retries within one run before the reconciler takes over (default 2)
  BILLING_KEY_ENCRYPTION_KEY[_FILE]
                              id:base64-of-32-bytes[,older ids…]; required in test and live mode
                              (demo: generated into billing-key-encryption.key next to the database)
  OPERATOR_TOKEN              bearer token of the operator API (>= 24 characters; unset = disabled;
                              demo: demo-operator-token-not-a-secret)
  ALLOWED_ORIGINS             extra origins allowed to POST (comma-separated)
  COOKIE_SECURE               1: Secure + __Host- cookies even over plain HTTP (always in live mode)
  TRUST_PROXY_HEADERS         1: believe X-Forwarded-For / X-Forwarded-Proto (behind your proxy only)
  SIGNED_IN_USER_HEADER       header your login puts the signed-in user id in (replaces sessions)
  SESSION_IDLE_MINUTES, SESSION_MAX_DAYS
                              session lifetimes (default 10080 minutes = 7 days, 30 days)
  INSTANCE_ID                 this instance's name in work leases (default hostname:port)
  HANDOFF_WAIT_MS             how long a hand-off waits for Toss before answering 202 (default 5000)
  LEASE_MS                    work lease without renewal (default 30000)
  RECONCILE_INTERVAL_MS       how often unfinished work is looked for (default 5000)
  DRAIN_TIMEOUT_MS            SIGTERM waits this long for running work (default 30000)
  DRAIN_GRACE_MS              after SIGTERM, /api/health/ready answers 503 this long before the
                              listener closes (default 0; behind a load balancer: a few of its
                              health-check intervals)
  METRICS                     GET /metrics: token (default: Bearer METRICS_TOKEN or OPERATOR_TOKEN;
                              404 without either) | open | off
  METRICS_TOKEN               the scraper's bearer token (>= 24 characters)
  METRICS_REFRESH_MS          database gauges read at most this often (default 5000)
  LOG_FORMAT                  text (default) | json (one object per line, with the request id)
  MAX_CONNECTIONS             open connections at most (default 512)
  HEADER_TIMEOUT_MS, BODY_TIMEOUT_MS, REQUEST_TIMEOUT_MS
                              slow clients are cut off (defaults 10000, 10000, 30000)
  HANDOFF_RATE_PER_MINUTE, HANDOFF_BURST, SESSION_RATE_PER_MINUTE, SESSION_BURST
                              per client IP (defaults 30, 10, 30, 20)
  SCHEDULER                   on|off: this instance charges due subscriptions (default on)
  SCHEDULER_INTERVAL_MS       how often it looks (default 1000); SCHEDULER_CONCURRENCY (default 32)
  RETRY_DAYS                  soft-decline retries, days after the first failure (default 1,3,5,7)
  DUNNING_FINAL_STATE         canceled (default) | unpaid, when the retries run out
  SUBSCRIBE_PLAN              plan id of a checkout that names no plan (demo: premium-monthly;
                              none = a checkout must name its plan)
  TERMS_VERSION               version of the cancellation terms' text the pages show (default 2026-12-01)
  WITHDRAWAL_DAYS             청약철회: days from a period's charge (its day is day 1) during which
                              the customer gets it back whole (default 7; 0 = not offered)
  MID_TERM_REFUND             중도해지 refunds: prorata (default: the unused days) | none
  TOSS_WEBHOOK_PATH           where Toss's webhooks are received (default /api/toss/webhooks)
  TOSS_WEBHOOK_ALLOWLIST      on: accept them only from Toss's published addresses (default off)
  WEBHOOK_URL, WEBHOOK_SECRET where subscription events are posted, signed (HMAC-SHA256)
  CLOCK_OFFSET_MS             demo/test: start the clock this far ahead (POST /api/admin/clock moves it)
  RUST_LOG                    log filter (default info)
";

impl Settings {
    /// The demo defaults: everything offline on 127.0.0.1:8080.
    pub fn demo() -> Settings {
        Settings {
            mode: Mode::Demo,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            database: DatabaseUrl::Sqlite(PathBuf::from("data/billing.sqlite")),
            dist_dir: PathBuf::from("dist"),
            secret_key: None,
            toss_api_base: None,
            mount_simulator: true,
            simulator_database: PathBuf::from("data/simulator.sqlite"),
            toss_timeout: Duration::from_secs(10),
            toss_quick_retries: 2,
            toss_backoff: Duration::from_millis(200),
            encryption: KeySource::DemoFile(PathBuf::from("data/billing-key-encryption.key")),
            operator_token: Some(Secret::new(DEMO_OPERATOR_TOKEN)),
            allowed_origins: Vec::new(),
            cookie_secure: false,
            trust_proxy_headers: false,
            identity: IdentitySource::Sessions,
            session_idle: Duration::from_secs(7 * 86_400),
            session_max_age: Duration::from_secs(30 * 86_400),
            instance_id: String::new(),
            handoff_wait: Duration::from_secs(5),
            lease: Duration::from_secs(30),
            reconcile_interval: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(30),
            drain_grace: Duration::ZERO,
            metrics: MetricsAccess::Token,
            metrics_token: None,
            metrics_refresh: Duration::from_secs(5),
            limits: Limits {
                max_connections: 512,
                header_timeout: Duration::from_secs(10),
                body_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(30),
                max_body_bytes: 8 * 1024,
                handoff_per_minute: 30,
                handoff_burst: 10,
                session_per_minute: 30,
                session_burst: 20,
            },
            scheduler: true,
            scheduler_interval: Duration::from_secs(1),
            scheduler_concurrency: 32,
            retry_days: vec![1, 3, 5, 7],
            dunning_final_state: crate::billing::dunning::FinalState::Canceled,
            subscribe_plan: Some(DEMO_PLAN_ID.to_owned()),
            terms_version: DEFAULT_TERMS_VERSION.to_owned(),
            withdrawal_days: 7,
            mid_term_refund: crate::billing::refund_policy::MidTermRefund::ProRata,
            toss_webhook_path: DEFAULT_TOSS_WEBHOOK_PATH.to_owned(),
            toss_webhook_allowlist: false,
            webhook_url: None,
            webhook_secret: None,
            movable_clock: true,
            clock_offset_ms: 0,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get` (tests pass a map), then checks them ([`Settings::check`]).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let flag = |name: &'static str| -> Result<Option<bool>, SettingsError> {
            get(name)
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "1" | "on" | "true" | "yes" => Ok(true),
                    "0" | "off" | "false" | "no" => Ok(false),
                    _ => Err(invalid(name, "must be on or off")),
                })
                .transpose()
        };
        let number = |name: &'static str, range: std::ops::RangeInclusive<u64>| {
            get(name)
                .map(|v| {
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| range.contains(n))
                        .ok_or_else(|| {
                            invalid(
                                name,
                                format!(
                                    "must be a number from {} to {}",
                                    range.start(),
                                    range.end()
                                ),
                            )
                        })
                })
                .transpose()
        };
        let millis =
            |name: &'static str, range| number(name, range).map(|n| n.map(Duration::from_millis));

        let mut s = Settings::demo();
        s.mode = match get("BILLING_MODE").as_deref() {
            None | Some("demo") => Mode::Demo,
            Some("test") => Mode::Test,
            Some("live") => Mode::Live,
            Some(_) => return Err(invalid("BILLING_MODE", "must be demo, test or live")),
        };
        if s.mode != Mode::Demo {
            // Outside the demo the operator API exists only with a token of the operator's own,
            // and registrations subscribe only to a plan the operator named.
            s.operator_token = None;
            s.subscribe_plan = None;
        }
        if let Some(port) = number("PORT", 0..=65_535)? {
            s.port = port as u16;
        }
        if let Some(bind) = get("BIND_ADDRESS") {
            s.bind = bind
                .parse()
                .map_err(|_| invalid("BIND_ADDRESS", "must be an IP address"))?;
        }
        if let Some(url) = get("DATABASE_URL").or_else(|| get("DATABASE_PATH")) {
            s.database = DatabaseUrl::parse(&url).map_err(|p| invalid("DATABASE_URL", p))?;
        }
        if let DatabaseUrl::Sqlite(path) = &s.database {
            let dir = path.parent().map(PathBuf::from).unwrap_or_default();
            s.encryption = KeySource::DemoFile(dir.join("billing-key-encryption.key"));
            s.simulator_database = dir.join("simulator.sqlite");
        }
        if let Some(dir) = get("DIST_DIR") {
            s.dist_dir = PathBuf::from(dir);
        }
        if let Some(path) = get("SIMULATOR_DATABASE") {
            s.simulator_database = PathBuf::from(path);
        }
        let secret = match (get("TOSS_SECRET_KEY"), get("TOSS_SECRET_KEY_FILE")) {
            (Some(key), _) => Some(key),
            (None, Some(file)) => Some(
                std::fs::read_to_string(&file)
                    .map_err(|e| {
                        invalid(
                            "TOSS_SECRET_KEY_FILE",
                            format!("cannot read it: {}", e.kind()),
                        )
                    })?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        if let Some(key) = secret {
            check_secret_key_shape(&key)?;
            s.secret_key = Some(Secret::new(key));
        }
        match get("TOSS_API_BASE") {
            Some(base) => {
                let base = base.trim_end_matches('/').to_owned();
                if !(base.starts_with("https://") || base.starts_with("http://")) {
                    return Err(invalid("TOSS_API_BASE", "must be an http(s) URL"));
                }
                s.toss_api_base = Some(base);
                s.mount_simulator = false;
            }
            None if s.mode != Mode::Demo => {
                s.toss_api_base = Some(TOSS_API.to_owned());
                s.mount_simulator = false;
            }
            None => {}
        }
        if let Some(on) = flag("TOSS_SIMULATOR")? {
            s.mount_simulator = on;
        }
        if let Some(t) = millis("TOSS_TIMEOUT_MS", 100..=120_000)? {
            s.toss_timeout = t;
        }
        if let Some(n) = number("TOSS_QUICK_RETRIES", 0..=10)? {
            s.toss_quick_retries = n as u32;
        }
        match (
            get("BILLING_KEY_ENCRYPTION_KEY"),
            get("BILLING_KEY_ENCRYPTION_KEY_FILE"),
        ) {
            (Some(keys), _) => s.encryption = KeySource::Env(Secret::new(keys)),
            (None, Some(file)) => s.encryption = KeySource::File(PathBuf::from(file)),
            (None, None) => {}
        }
        if let Some(token) = get("OPERATOR_TOKEN") {
            if token.len() < 24 {
                return Err(invalid("OPERATOR_TOKEN", "must be at least 24 characters"));
            }
            s.operator_token = Some(Secret::new(token));
        }
        if let Some(origins) = get("ALLOWED_ORIGINS") {
            s.allowed_origins = origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(on) = flag("COOKIE_SECURE")? {
            s.cookie_secure = on;
        }
        if let Some(on) = flag("TRUST_PROXY_HEADERS")? {
            s.trust_proxy_headers = on;
        }
        if let Some(header) = get("SIGNED_IN_USER_HEADER") {
            if header.is_empty()
                || !header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(invalid("SIGNED_IN_USER_HEADER", "must be a header name"));
            }
            s.identity = IdentitySource::TrustedHeader(header.to_ascii_lowercase());
        }
        if let Some(m) = number("SESSION_IDLE_MINUTES", 1..=525_600)? {
            s.session_idle = Duration::from_secs(m * 60);
        }
        if let Some(d) = number("SESSION_MAX_DAYS", 1..=400)? {
            s.session_max_age = Duration::from_secs(d * 86_400);
        }
        if let Some(id) = get("INSTANCE_ID") {
            if id.len() > 100 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    "INSTANCE_ID",
                    "must be up to 100 visible characters",
                ));
            }
            s.instance_id = id;
        }
        if let Some(t) = millis("HANDOFF_WAIT_MS", 0..=60_000)? {
            s.handoff_wait = t;
        }
        if let Some(t) = millis("LEASE_MS", 500..=600_000)? {
            s.lease = t;
        }
        if let Some(t) = millis("RECONCILE_INTERVAL_MS", 50..=3_600_000)? {
            s.reconcile_interval = t;
        }
        if let Some(t) = millis("DRAIN_TIMEOUT_MS", 0..=600_000)? {
            s.drain_timeout = t;
        }
        if let Some(t) = millis("DRAIN_GRACE_MS", 0..=600_000)? {
            s.drain_grace = t;
        }
        if let Some(access) = get("METRICS") {
            s.metrics = match access.as_str() {
                "token" => MetricsAccess::Token,
                "open" => MetricsAccess::Open,
                "off" => MetricsAccess::Off,
                _ => return Err(invalid("METRICS", "must be token, open or off")),
            };
        }
        if let Some(token) = get("METRICS_TOKEN") {
            if token.len() < 24 {
                return Err(invalid("METRICS_TOKEN", "must be at least 24 characters"));
            }
            s.metrics_token = Some(Secret::new(token));
        }
        if let Some(t) = millis("METRICS_REFRESH_MS", 0..=600_000)? {
            s.metrics_refresh = t;
        }
        let l = &mut s.limits;
        if let Some(n) = number("MAX_CONNECTIONS", 1..=100_000)? {
            l.max_connections = n as usize;
        }
        if let Some(t) = millis("HEADER_TIMEOUT_MS", 100..=600_000)? {
            l.header_timeout = t;
        }
        if let Some(t) = millis("BODY_TIMEOUT_MS", 100..=600_000)? {
            l.body_timeout = t;
        }
        if let Some(t) = millis("REQUEST_TIMEOUT_MS", 1_000..=600_000)? {
            l.request_timeout = t;
        }
        for (name, slot) in [
            ("HANDOFF_RATE_PER_MINUTE", &mut l.handoff_per_minute),
            ("HANDOFF_BURST", &mut l.handoff_burst),
            ("SESSION_RATE_PER_MINUTE", &mut l.session_per_minute),
            ("SESSION_BURST", &mut l.session_burst),
        ] {
            if let Some(n) = number(name, 1..=1_000_000)? {
                *slot = n as u32;
            }
        }
        if let Some(on) = flag("SCHEDULER")? {
            s.scheduler = on;
        }
        if let Some(t) = millis("SCHEDULER_INTERVAL_MS", 50..=3_600_000)? {
            s.scheduler_interval = t;
        }
        if let Some(n) = number("SCHEDULER_CONCURRENCY", 1..=1024)? {
            s.scheduler_concurrency = n as usize;
        }
        if let Some(days) = get("RETRY_DAYS") {
            s.retry_days = crate::billing::dunning::RetryPolicy::parse_days(&days)
                .map_err(|p| invalid("RETRY_DAYS", p))?;
        }
        if let Some(state) = get("DUNNING_FINAL_STATE") {
            s.dunning_final_state = match state.as_str() {
                "canceled" => crate::billing::dunning::FinalState::Canceled,
                "unpaid" => crate::billing::dunning::FinalState::Unpaid,
                _ => return Err(invalid("DUNNING_FINAL_STATE", "must be canceled or unpaid")),
            };
        }
        if let Some(plan) = get("SUBSCRIBE_PLAN") {
            s.subscribe_plan = (plan != "none").then_some(plan);
        }
        if let Some(version) = get("TERMS_VERSION") {
            if version.is_empty() || version.len() > 40 {
                return Err(invalid("TERMS_VERSION", "must be 1-40 characters"));
            }
            s.terms_version = version;
        }
        if let Some(days) = number("WITHDRAWAL_DAYS", 0..=365)? {
            s.withdrawal_days = days as u32;
        }
        if let Some(refund) = get("MID_TERM_REFUND") {
            use crate::billing::refund_policy::MidTermRefund;
            s.mid_term_refund = match refund.as_str() {
                "prorata" => MidTermRefund::ProRata,
                "none" => MidTermRefund::Nothing,
                _ => return Err(invalid("MID_TERM_REFUND", "must be prorata or none")),
            };
        }
        if let Some(path) = get("TOSS_WEBHOOK_PATH") {
            check_webhook_path(&path).map_err(|p| invalid("TOSS_WEBHOOK_PATH", p))?;
            s.toss_webhook_path = path;
        }
        if let Some(on) = flag("TOSS_WEBHOOK_ALLOWLIST")? {
            s.toss_webhook_allowlist = on;
        }
        if let Some(url) = get("WEBHOOK_URL") {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid("WEBHOOK_URL", "must be an http(s) URL"));
            }
            s.webhook_url = Some(url);
        }
        if let Some(secret) = get("WEBHOOK_SECRET") {
            if secret.len() < 24 {
                return Err(invalid("WEBHOOK_SECRET", "must be at least 24 characters"));
            }
            s.webhook_secret = Some(Secret::new(secret));
        }
        if s.webhook_url.is_some() != s.webhook_secret.is_some() {
            return Err(invalid(
                "WEBHOOK_SECRET",
                "WEBHOOK_URL and WEBHOOK_SECRET go together: events are always signed",
            ));
        }
        if let Some(ms) = number("CLOCK_OFFSET_MS", 0..=50 * 365 * 86_400_000)? {
            s.clock_offset_ms = ms as i64;
        }
        s.movable_clock = s.mode != Mode::Live;
        if s.mode == Mode::Live {
            s.cookie_secure = true;
        }
        s.check()?;
        Ok(s)
    }

    /// The rules that keep production closed; `start` checks them again, so settings built in
    /// code cannot skip them.
    pub fn check(&self) -> Result<(), SettingsError> {
        let mode_name = match self.mode {
            Mode::Demo => "demo",
            Mode::Test => "test",
            Mode::Live => "live",
        };
        let key = self.secret_key.as_ref().map(Secret::expose);
        if let Some(key) = key {
            check_secret_key_shape(key)?;
        }
        if self.mode != Mode::Demo
            && self
                .operator_token
                .as_ref()
                .is_some_and(|t| t.expose() == DEMO_OPERATOR_TOKEN)
        {
            return Err(invalid(
                "OPERATOR_TOKEN",
                "the demo's token is public: choose your own",
            ));
        }
        let live_key = key.is_some_and(|k| k.starts_with("live_"));
        match self.mode {
            Mode::Demo => {
                if live_key {
                    return Err(SettingsError::KeyModeMismatch(
                        "TOSS_SECRET_KEY is a live key: a live key needs BILLING_MODE=live",
                    ));
                }
                if let Some(base) = &self.toss_api_base {
                    if !is_loopback_url(base) {
                        return Err(SettingsError::DemoNotLocal);
                    }
                }
            }
            Mode::Test => {
                if key.is_none() {
                    return Err(SettingsError::SecretKeyRequired(mode_name));
                }
                if live_key {
                    return Err(SettingsError::KeyModeMismatch(
                        "TOSS_SECRET_KEY is a live key: a live key needs BILLING_MODE=live",
                    ));
                }
            }
            Mode::Live => {
                if key.is_none() {
                    return Err(SettingsError::SecretKeyRequired(mode_name));
                }
                if !live_key {
                    return Err(SettingsError::KeyModeMismatch(
                        "TOSS_SECRET_KEY is a test key, but BILLING_MODE=live: live mode needs your live_sk_ key",
                    ));
                }
                if self.mount_simulator {
                    return Err(SettingsError::NotWithLiveKey(
                        "the simulator (TOSS_SIMULATOR)",
                    ));
                }
                if self.movable_clock || self.clock_offset_ms != 0 {
                    return Err(SettingsError::NotWithLiveKey(
                        "a movable clock (CLOCK_OFFSET_MS)",
                    ));
                }
                if !self.cookie_secure {
                    return Err(invalid("COOKIE_SECURE", "is always on in live mode"));
                }
            }
        }
        if self.mode != Mode::Demo && matches!(self.encryption, KeySource::DemoFile(_)) {
            return Err(SettingsError::EncryptionKeyRequired(mode_name));
        }
        if self.toss_api_base.is_none() && !self.mount_simulator {
            return Err(invalid(
                "TOSS_SIMULATOR",
                "off needs TOSS_API_BASE (e.g. https://api.tosspayments.com)",
            ));
        }
        if self.handoff_wait >= self.limits.request_timeout {
            return Err(invalid(
                "HANDOFF_WAIT_MS",
                "must be shorter than REQUEST_TIMEOUT_MS",
            ));
        }
        Ok(())
    }

    /// The secret key in use: the configured one, or in demo mode the docs test key.
    pub fn secret_key_in_use(&self) -> &str {
        self.secret_key
            .as_ref()
            .map_or(DOCS_TEST_SECRET_KEY, Secret::expose)
    }

    /// The name used in leases: `INSTANCE_ID`, else `hostname:port`.
    pub fn instance_name(&self, port: u16) -> String {
        if !self.instance_id.is_empty() {
            return self.instance_id.clone();
        }
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        format!("{host}:{port}")
    }
}

/// Checks the shape of a Toss secret key; the message never repeats the key.
pub fn check_secret_key_shape(key: &str) -> Result<(), SettingsError> {
    let name = "TOSS_SECRET_KEY";
    if !(key.starts_with("test_sk_") || key.starts_with("live_sk_")) {
        let hint = if key.contains("_ck_") || key.contains("_gck_") {
            " (this looks like a client key, which belongs in the browser)"
        } else if key.contains("_gsk_") {
            " (this looks like a payment-widget secret key; billing needs the API individual-integration secret key)"
        } else {
            ""
        };
        return Err(invalid(
            name,
            format!("must start with test_sk_ or live_sk_{hint}"),
        ));
    }
    if !(12..=200).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(name, "has an unexpected length or characters"));
    }
    Ok(())
}

/// Whether an http(s) URL points at this machine.
fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or("");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const ENC: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn nothing_set_is_the_offline_demo() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.mode, Mode::Demo);
        assert!(s.mount_simulator);
        assert_eq!(s.secret_key_in_use(), DOCS_TEST_SECRET_KEY);
        assert!(matches!(s.encryption, KeySource::DemoFile(_)));
        assert!(s.movable_clock);
    }

    #[test]
    fn operating_settings() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.metrics, MetricsAccess::Token);
        assert_eq!(s.drain_grace, Duration::ZERO);
        let s = settings(&[
            ("METRICS", "open"),
            ("METRICS_TOKEN", "metrics-token-0123456789abcdef"),
            ("METRICS_REFRESH_MS", "0"),
            ("DRAIN_GRACE_MS", "10000"),
        ])
        .unwrap();
        assert_eq!(s.metrics, MetricsAccess::Open);
        assert!(s.metrics_token.is_some());
        assert_eq!(s.metrics_refresh, Duration::ZERO);
        assert_eq!(s.drain_grace, Duration::from_secs(10));
        for (name, value) in [("METRICS", "yes"), ("METRICS_TOKEN", "short")] {
            assert!(
                matches!(settings(&[(name, value)]), Err(SettingsError::Invalid { name: n, .. }) if n == name),
                "{name}"
            );
        }
    }

    #[test]
    fn demo_never_talks_to_the_real_toss() {
        assert_eq!(
            settings(&[("TOSS_API_BASE", TOSS_API)]).unwrap_err(),
            SettingsError::DemoNotLocal
        );
        assert!(settings(&[("TOSS_API_BASE", "http://127.0.0.1:9999")]).is_ok());
        assert!(settings(&[("TOSS_API_BASE", "http://localhost:9999/x")]).is_ok());
    }

    #[test]
    fn test_and_live_need_explicit_keys() {
        assert_eq!(
            settings(&[("BILLING_MODE", "test")]).unwrap_err(),
            SettingsError::SecretKeyRequired("test")
        );
        assert_eq!(
            settings(&[
                ("BILLING_MODE", "test"),
                ("TOSS_SECRET_KEY", "test_sk_abcdefghijkl")
            ])
            .unwrap_err(),
            SettingsError::EncryptionKeyRequired("test")
        );
        let ok = settings(&[
            ("BILLING_MODE", "test"),
            ("TOSS_SECRET_KEY", "test_sk_abcdefghijkl"),
            ("BILLING_KEY_ENCRYPTION_KEY", ENC),
        ])
        .unwrap();
        assert_eq!(ok.toss_api_base.as_deref(), Some(TOSS_API));
        assert!(!ok.mount_simulator);
    }

    #[test]
    fn live_mode_refuses_test_keys_simulators_and_movable_clocks() {
        let live = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("BILLING_MODE", "live"),
                ("TOSS_SECRET_KEY", "live_sk_abcdefghijkl"),
                ("BILLING_KEY_ENCRYPTION_KEY", ENC),
            ];
            pairs.extend_from_slice(extra);
            settings(&pairs)
        };
        let ok = live(&[]).unwrap();
        assert!(ok.cookie_secure && !ok.movable_clock && !ok.mount_simulator);
        assert!(matches!(
            live(&[("TOSS_SECRET_KEY", "test_sk_abcdefghijkl")]).unwrap_err(),
            SettingsError::KeyModeMismatch(_)
        ));
        assert!(matches!(
            live(&[("TOSS_SIMULATOR", "on")]).unwrap_err(),
            SettingsError::NotWithLiveKey(_)
        ));
        assert!(matches!(
            live(&[("CLOCK_OFFSET_MS", "1000")]).unwrap_err(),
            SettingsError::NotWithLiveKey(_)
        ));
        assert!(matches!(
            settings(&[("TOSS_SECRET_KEY", "live_sk_abcdefghijkl")]).unwrap_err(),
            SettingsError::KeyModeMismatch(_)
        ));
    }

    #[test]
    fn refund_policy_and_toss_webhook_settings() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.withdrawal_days, 7);
        assert_eq!(s.toss_webhook_path, "/api/toss/webhooks");
        assert!(!s.toss_webhook_allowlist);
        let s = settings(&[
            ("WITHDRAWAL_DAYS", "14"),
            ("MID_TERM_REFUND", "none"),
            ("TOSS_WEBHOOK_PATH", "/hooks/toss"),
            ("TOSS_WEBHOOK_ALLOWLIST", "on"),
        ])
        .unwrap();
        assert_eq!(s.withdrawal_days, 14);
        assert_eq!(
            s.mid_term_refund,
            crate::billing::refund_policy::MidTermRefund::Nothing
        );
        assert_eq!(s.toss_webhook_path, "/hooks/toss");
        assert!(s.toss_webhook_allowlist);
        for bad in [
            "hooks",
            "/api/subscription",
            "/__toss-sim/x",
            "/a/../b",
            "/a b",
            "/x/",
        ] {
            assert!(
                settings(&[("TOSS_WEBHOOK_PATH", bad)]).is_err(),
                "{bad} accepted"
            );
        }
        assert!(settings(&[("MID_TERM_REFUND", "half")]).is_err());
    }

    #[test]
    fn the_demo_page_asks_for_a_plan_the_demo_has() {
        let html = include_str!("../../index.html");
        let start = html
            .find(r#"id="toss-billing-config">"#)
            .expect("a config block")
            + 25;
        let end = start + html[start..].find("</script>").expect("closed");
        let config: serde_json::Value = serde_json::from_str(&html[start..end]).expect("JSON");
        assert_eq!(config["customerKeyUrl"], "/api/checkout");
        assert!(
            config.get("plan").is_none(),
            "the plan summary comes from the checkout session, never from a block that can disagree"
        );
        let id = config["planId"].as_str().expect("index.html picks a plan");
        assert!(demo_plans().iter().any(|p| p.id == id), "{id}");
    }

    #[test]
    fn refusals_never_echo_secrets() {
        let e =
            settings(&[("TOSS_SECRET_KEY", "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq")]).unwrap_err();
        assert!(!e.to_string().contains("D5GePWvy"), "{e}");
        assert!(e.to_string().contains("client key"));
        let s = settings(&[
            ("TOSS_SECRET_KEY", "test_sk_abcdefghijklmnop"),
            ("OPERATOR_TOKEN", "operator-token-1234567890"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("abcdefghijklmnop"));
        assert!(!debug.contains("operator-token-1234567890"));
    }
}
