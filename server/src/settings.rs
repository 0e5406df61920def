//! Settings, from environment variables. Each is declared once, in [`SettingsArgs`] (clap's
//! derive with its `env` support): its variable, its default, its type (the value parser that
//! refuses what cannot be used) and its help. `billing-server --help` ([`help`]) and the README's
//! settings table ([`settings_table`], checked by a test) are generated from that declaration.
//!
//! Three steps: the values are parsed one by one ([`SettingsArgs::from_lookup`]), resolved into
//! [`Settings`] (the defaults that depend on the mode or on another setting, the key files read),
//! and checked as a whole by [`Settings::check`], the one place of the rules that keep production
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsAccess {
    /// Nobody: 404.
    Off,
    /// A bearer token: `METRICS_TOKEN`, or the operator's (the default).
    Token,
    /// Anyone who reaches the listener (only where the network keeps strangers out).
    Open,
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human text (the default).
    Text,
    /// One JSON object per line (tracing-subscriber's JSON layer).
    Json,
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
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Command-line arguments that are not settings (clap's own message: it quotes only what was
    /// typed on the command line, never a variable's value).
    #[error("{0}")]
    Arguments(String),
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

fn invalid(name: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        name: name.to_owned(),
        problem: problem.into(),
    }
}

/// Every setting, declared once: the variable (`env`), the default, the type and its value
/// parser, and the help (the doc comment). A flag per setting comes with it (`--port 8080`, the
/// same as `PORT=8080`; a flag wins), but the environment is the interface. Secrets are
/// `hide_env_values`: `--help` never prints them, and their type is [`Secret`], whose `Debug` is
/// redacted. A default that depends on the mode or on another setting is `None` here and
/// resolved by [`SettingsArgs::resolve`]; its help says what it is.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "billing-server",
    about = "billing-server: reference merchant backend for the TossPayments billing (자동결제) flow.",
    override_usage = "billing-server [serve]     serve the API (and the frontend, and in demo mode the simulator)\n       \
                      billing-server simulate   run only the offline Toss API simulator (its own process, own SQLite)\n       \
                      billing-server openapi    print the API's OpenAPI 3.1 description (server/openapi.json) and exit\n       \
                      billing-server --help",
    after_help = "Every setting is an environment variable (server/README.md, \"Settings\", explains each); \
                  the flag of the same name overrides it.",
    args_override_self = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct SettingsArgs {
    /// What this server is for: demo (offline, simulator), test (Toss's test environment), live.
    #[arg(
        long,
        env = "BILLING_MODE",
        default_value = "demo",
        help_heading = "Server"
    )]
    pub billing_mode: Mode,
    /// Port to listen on (0: any free port).
    #[arg(long, env = "PORT", default_value = "8080", value_parser = number::<0, 65_535>, help_heading = "Server")]
    pub port: u64,
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "127.0.0.1", value_parser = ip_address, help_heading = "Server")]
    pub bind_address: IpAddr,
    /// SQLite file, or postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", default_value = "data/billing.sqlite", value_parser = database_url, help_heading = "Server")]
    pub database_url: DatabaseUrl,
    /// The old name of DATABASE_URL (used when DATABASE_URL is not set).
    #[arg(long, env = "DATABASE_PATH", value_parser = database_url, hide = true)]
    pub database_path: Option<DatabaseUrl>,
    /// The built frontend to serve.
    #[arg(
        long,
        env = "DIST_DIR",
        default_value = "dist",
        help_heading = "Server"
    )]
    pub dist_dir: PathBuf,
    /// This instance's name in work leases; the same name after a restart takes its work back at
    /// once (up to 100 visible characters; default: hostname:port).
    #[arg(long, env = "INSTANCE_ID", value_parser = instance_id, help_heading = "Server")]
    pub instance_id: Option<String>,

    /// Toss secret key (test_sk_… or live_sk_…); required in test and live mode (demo: the public
    /// docs key).
    #[arg(long, env = "TOSS_SECRET_KEY", hide_env_values = true, value_parser = secret, help_heading = "Toss")]
    pub toss_secret_key: Option<Secret>,
    /// A file holding the Toss secret key (used when TOSS_SECRET_KEY is not set).
    #[arg(long, env = "TOSS_SECRET_KEY_FILE", help_heading = "Toss")]
    pub toss_secret_key_file: Option<PathBuf>,
    /// Toss API base URL (demo: the simulator on this server; test and live:
    /// https://api.tosspayments.com).
    #[arg(long, env = "TOSS_API_BASE", value_parser = http_url, help_heading = "Toss")]
    pub toss_api_base: Option<String>,
    /// on|off: mount the simulator at /__toss-sim (demo: on, unless TOSS_API_BASE is set; never
    /// in live mode).
    #[arg(long, env = "TOSS_SIMULATOR", value_parser = on_off, help_heading = "Toss")]
    pub toss_simulator: Option<bool>,
    /// The mounted simulator's SQLite file (default: simulator.sqlite next to a SQLite database,
    /// else data/simulator.sqlite).
    #[arg(long, env = "SIMULATOR_DATABASE", help_heading = "Toss")]
    pub simulator_database: Option<PathBuf>,
    /// One Toss call, in milliseconds.
    #[arg(long, env = "TOSS_TIMEOUT_MS", default_value = "10000", value_parser = number::<100, 120_000>, help_heading = "Toss")]
    pub toss_timeout_ms: u64,
    /// Same-key retries within one run of an exchange, charge or refund before the reconciler
    /// takes over.
    #[arg(long, env = "TOSS_QUICK_RETRIES", default_value = "2", value_parser = number::<0, 10>, help_heading = "Toss")]
    pub toss_quick_retries: u64,

    /// The billing keys' encryption keys: id:base64-of-32-bytes[,older ids…], the first seals;
    /// required in test and live mode (demo: generated into billing-key-encryption.key next to a
    /// SQLite database).
    #[arg(long, env = "BILLING_KEY_ENCRYPTION_KEY", hide_env_values = true, value_parser = secret, help_heading = "Keys and tokens")]
    pub billing_key_encryption_key: Option<Secret>,
    /// A file holding them, one per line, readable by its owner only (used when
    /// BILLING_KEY_ENCRYPTION_KEY is not set).
    #[arg(
        long,
        env = "BILLING_KEY_ENCRYPTION_KEY_FILE",
        help_heading = "Keys and tokens"
    )]
    pub billing_key_encryption_key_file: Option<PathBuf>,
    /// Bearer token of the operator API and page (at least 24 characters; unset: the operator API
    /// does not exist; demo: demo-operator-token-not-a-secret).
    #[arg(long, env = "OPERATOR_TOKEN", hide_env_values = true, value_parser = token, help_heading = "Keys and tokens")]
    pub operator_token: Option<Secret>,

    /// Extra origins allowed to send state-changing requests (comma-separated).
    #[arg(long, env = "ALLOWED_ORIGINS", value_parser = origins, help_heading = "Customers")]
    pub allowed_origins: Option<Origins>,
    /// on: Secure and __Host- cookies even over plain HTTP (always on in live mode).
    #[arg(long, env = "COOKIE_SECURE", action = clap::ArgAction::Set, default_value = "off", value_parser = on_off, help_heading = "Customers")]
    pub cookie_secure: bool,
    /// on: believe X-Forwarded-For, X-Forwarded-Proto and X-Request-Id (only behind your own
    /// proxy, which must replace what clients send).
    #[arg(long, env = "TRUST_PROXY_HEADERS", action = clap::ArgAction::Set, default_value = "off", value_parser = on_off, help_heading = "Customers")]
    pub trust_proxy_headers: bool,
    /// The header your login puts the signed-in user's id in (replaces cookie sessions; your proxy
    /// must strip it from what browsers send).
    #[arg(long, env = "SIGNED_IN_USER_HEADER", value_parser = header_name, help_heading = "Customers")]
    pub signed_in_user_header: Option<String>,
    /// A session ends after this many minutes unused (7 days).
    #[arg(long, env = "SESSION_IDLE_MINUTES", default_value = "10080", value_parser = number::<1, 525_600>, help_heading = "Customers")]
    pub session_idle_minutes: u64,
    /// A session ends after this many days, whatever happens.
    #[arg(long, env = "SESSION_MAX_DAYS", default_value = "30", value_parser = number::<1, 400>, help_heading = "Customers")]
    pub session_max_days: u64,

    /// How long a hand-off waits for Toss before answering 202, in milliseconds (shorter than the
    /// page's 10 s timeout and than REQUEST_TIMEOUT_MS).
    #[arg(long, env = "HANDOFF_WAIT_MS", default_value = "5000", value_parser = number::<0, 60_000>, help_heading = "Work")]
    pub handoff_wait_ms: u64,
    /// A work lease without renewal, in milliseconds.
    #[arg(long, env = "LEASE_MS", default_value = "30000", value_parser = number::<500, 600_000>, help_heading = "Work")]
    pub lease_ms: u64,
    /// How often unfinished work is looked for, in milliseconds.
    #[arg(long, env = "RECONCILE_INTERVAL_MS", default_value = "5000", value_parser = number::<50, 3_600_000>, help_heading = "Work")]
    pub reconcile_interval_ms: u64,
    /// SIGTERM waits this long for running work, in milliseconds.
    #[arg(long, env = "DRAIN_TIMEOUT_MS", default_value = "30000", value_parser = number::<0, 600_000>, help_heading = "Work")]
    pub drain_timeout_ms: u64,
    /// After SIGTERM, /api/health/ready answers 503 this long before the listener closes, in
    /// milliseconds (behind a load balancer: a few of its health-check intervals).
    #[arg(long, env = "DRAIN_GRACE_MS", default_value = "0", value_parser = number::<0, 600_000>, help_heading = "Work")]
    pub drain_grace_ms: u64,

    /// Who may read GET /metrics: token (Bearer METRICS_TOKEN or OPERATOR_TOKEN; 404 without
    /// either), open, off.
    #[arg(
        long,
        env = "METRICS",
        default_value = "token",
        help_heading = "Operating"
    )]
    pub metrics: MetricsAccess,
    /// The scraper's bearer token for GET /metrics (at least 24 characters).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, value_parser = token, help_heading = "Operating")]
    pub metrics_token: Option<Secret>,
    /// The database gauges are read at most this often, in milliseconds.
    #[arg(long, env = "METRICS_REFRESH_MS", default_value = "5000", value_parser = number::<0, 600_000>, help_heading = "Operating")]
    pub metrics_refresh_ms: u64,
    /// How log lines are written.
    #[command(flatten)]
    pub logs: LogArgs,

    /// Open connections at most; more wait in the kernel's backlog.
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "512", value_parser = number::<1, 100_000>, help_heading = "Limits")]
    pub max_connections: u64,
    /// A request's headers must arrive within this many milliseconds.
    #[arg(long, env = "HEADER_TIMEOUT_MS", default_value = "10000", value_parser = number::<100, 600_000>, help_heading = "Limits")]
    pub header_timeout_ms: u64,
    /// A request's body must arrive within this many milliseconds.
    #[arg(long, env = "BODY_TIMEOUT_MS", default_value = "10000", value_parser = number::<100, 600_000>, help_heading = "Limits")]
    pub body_timeout_ms: u64,
    /// A whole request, answer included, in milliseconds.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value = "30000", value_parser = number::<1_000, 600_000>, help_heading = "Limits")]
    pub request_timeout_ms: u64,
    /// Hand-offs per client IP per minute, sustained.
    #[arg(long, env = "HANDOFF_RATE_PER_MINUTE", default_value = "30", value_parser = number::<1, 1_000_000>, help_heading = "Limits")]
    pub handoff_rate_per_minute: u64,
    /// Hand-offs per client IP in a burst.
    #[arg(long, env = "HANDOFF_BURST", default_value = "10", value_parser = number::<1, 1_000_000>, help_heading = "Limits")]
    pub handoff_burst: u64,
    /// New visitors (GET /api/customer, GET /api/checkout without a cookie) per client IP per
    /// minute, sustained.
    #[arg(long, env = "SESSION_RATE_PER_MINUTE", default_value = "30", value_parser = number::<1, 1_000_000>, help_heading = "Limits")]
    pub session_rate_per_minute: u64,
    /// New visitors per client IP in a burst.
    #[arg(long, env = "SESSION_BURST", default_value = "20", value_parser = number::<1, 1_000_000>, help_heading = "Limits")]
    pub session_burst: u64,

    /// on|off: this instance charges due subscriptions.
    #[arg(long, env = "SCHEDULER", action = clap::ArgAction::Set, default_value = "on", value_parser = on_off, help_heading = "Subscriptions")]
    pub scheduler: bool,
    /// How often the scheduler looks for due subscriptions, in milliseconds.
    #[arg(long, env = "SCHEDULER_INTERVAL_MS", default_value = "1000", value_parser = number::<50, 3_600_000>, help_heading = "Subscriptions")]
    pub scheduler_interval_ms: u64,
    /// Subscriptions one instance charges at once.
    #[arg(long, env = "SCHEDULER_CONCURRENCY", default_value = "32", value_parser = number::<1, 1024>, help_heading = "Subscriptions")]
    pub scheduler_concurrency: u64,
    /// Soft-decline retries, in days after the period's first failure (comma-separated).
    #[arg(long, env = "RETRY_DAYS", default_value = "1,3,5,7", value_parser = retry_days, help_heading = "Subscriptions")]
    pub retry_days: RetryDays,
    /// Where a subscription ends when its retries run out: canceled, or unpaid (kept, charged no
    /// more).
    #[arg(long, env = "DUNNING_FINAL_STATE", default_value = "canceled", value_parser = final_state(), help_heading = "Subscriptions")]
    pub dunning_final_state: crate::billing::dunning::FinalState,
    /// The plan id of a checkout that names no plan (demo: premium-monthly; none: a checkout must
    /// name its plan).
    #[arg(long, env = "SUBSCRIBE_PLAN", help_heading = "Subscriptions")]
    pub subscribe_plan: Option<String>,
    /// The version of the cancellation terms' text the pages show, recorded with each
    /// subscription (1-40 characters).
    #[arg(long, env = "TERMS_VERSION", default_value = DEFAULT_TERMS_VERSION, value_parser = terms_version, help_heading = "Subscriptions")]
    pub terms_version: String,
    /// Where subscription events are posted, signed (default: written to the log).
    #[arg(long, env = "WEBHOOK_URL", value_parser = http_url, help_heading = "Subscriptions")]
    pub webhook_url: Option<String>,
    /// The events' signing secret (HMAC-SHA256, at least 24 characters; goes with WEBHOOK_URL).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true, value_parser = token, help_heading = "Subscriptions")]
    pub webhook_secret: Option<Secret>,

    /// 청약철회: days from a period's charge (its day is day 1) during which the customer gets it
    /// back whole (0: not offered).
    #[arg(long, env = "WITHDRAWAL_DAYS", default_value = "7", value_parser = number::<0, 365>, help_heading = "Refunds and Toss's webhooks")]
    pub withdrawal_days: u64,
    /// What 중도해지 refunds: prorata (the unused days) or none.
    #[arg(long, env = "MID_TERM_REFUND", default_value = "prorata", value_parser = mid_term_refund(), help_heading = "Refunds and Toss's webhooks")]
    pub mid_term_refund: crate::billing::refund_policy::MidTermRefund,
    /// Where Toss's webhooks are received (/ and letters, digits, / _ - .; not under /api/ except
    /// /api/toss/).
    #[arg(long, env = "TOSS_WEBHOOK_PATH", default_value = DEFAULT_TOSS_WEBHOOK_PATH, value_parser = webhook_path, help_heading = "Refunds and Toss's webhooks")]
    pub toss_webhook_path: String,
    /// on: accept Toss's webhooks only from Toss's published source addresses.
    #[arg(long, env = "TOSS_WEBHOOK_ALLOWLIST", action = clap::ArgAction::Set, default_value = "off", value_parser = on_off, help_heading = "Refunds and Toss's webhooks")]
    pub toss_webhook_allowlist: bool,

    /// Demo and test mode: start the clock this many milliseconds ahead (POST /api/admin/clock
    /// moves it).
    #[arg(long, env = "CLOCK_OFFSET_MS", default_value = "0", value_parser = number::<0, 1_576_800_000_000>, help_heading = "Demo and test")]
    pub clock_offset_ms: u64,
}

/// The log settings: read first (logging starts before the other settings are resolved), also by
/// `billing-server simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// text, or json (one object per line, with the request id).
    #[arg(
        long,
        env = "LOG_FORMAT",
        default_value = "text",
        help_heading = "Operating"
    )]
    pub log_format: LogFormat,
    /// The log filter (tracing-subscriber's EnvFilter syntax).
    #[arg(
        long,
        env = "RUST_LOG",
        default_value = "info",
        help_heading = "Operating"
    )]
    pub rust_log: String,
}

/// `ALLOWED_ORIGINS`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins(pub Vec<String>);

/// `RETRY_DAYS`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryDays(pub Vec<u32>);

// The value parsers: each refuses with what is wrong, never the value (the refusal names the
// variable: `refusal`).

fn number<const MIN: u64, const MAX: u64>(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (MIN..=MAX).contains(n))
        .ok_or_else(|| format!("must be a number from {MIN} to {MAX}"))
}

fn on_off(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Ok(true),
        "0" | "off" | "false" | "no" => Ok(false),
        _ => Err("must be on or off".into()),
    }
}

fn ip_address(value: &str) -> Result<IpAddr, String> {
    value.parse().map_err(|_| "must be an IP address".into())
}

fn database_url(value: &str) -> Result<DatabaseUrl, String> {
    DatabaseUrl::parse(value)
}

/// Any value: a secret's shape is checked by [`Settings::check`] (a key may come from a file).
fn secret(value: &str) -> Result<Secret, String> {
    Ok(Secret::new(value))
}

fn token(value: &str) -> Result<Secret, String> {
    if value.len() < 24 {
        return Err("must be at least 24 characters".into());
    }
    Ok(Secret::new(value))
}

fn http_url(value: &str) -> Result<String, String> {
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err("must be an http(s) URL".into());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn instance_id(value: &str) -> Result<String, String> {
    if value.len() > 100 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be up to 100 visible characters".into());
    }
    Ok(value.to_owned())
}

fn origins(value: &str) -> Result<Origins, String> {
    Ok(Origins(
        value
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
    ))
}

fn header_name(value: &str) -> Result<String, String> {
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("must be a header name".into());
    }
    Ok(value.to_ascii_lowercase())
}

fn retry_days(value: &str) -> Result<RetryDays, String> {
    crate::billing::dunning::RetryPolicy::parse_days(value).map(RetryDays)
}

fn final_state() -> impl clap::builder::TypedValueParser<Value = crate::billing::dunning::FinalState>
{
    use crate::billing::dunning::FinalState;
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["canceled", "unpaid"]).map(|v| match v.as_str() {
        "unpaid" => FinalState::Unpaid,
        _ => FinalState::Canceled,
    })
}

fn mid_term_refund(
) -> impl clap::builder::TypedValueParser<Value = crate::billing::refund_policy::MidTermRefund> {
    use crate::billing::refund_policy::MidTermRefund;
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["prorata", "none"]).map(|v| match v.as_str() {
        "none" => MidTermRefund::Nothing,
        _ => MidTermRefund::ProRata,
    })
}

fn terms_version(value: &str) -> Result<String, String> {
    if value.len() > 40 {
        return Err("must be 1-40 characters".into());
    }
    Ok(value.to_owned())
}

fn webhook_path(value: &str) -> Result<String, String> {
    check_webhook_path(value).map_err(str::to_owned)?;
    Ok(value.to_owned())
}

/// The declared settings of `T` parsed from `argv` (flags, after the program's name) and from the
/// variables `get` finds (trimmed; blank means unset). The flags come after the variables, so a
/// flag wins.
fn parse_declared<T: clap::FromArgMatches>(
    command: clap::Command,
    argv: &[String],
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<T, SettingsError> {
    let mut args = vec!["billing-server".to_owned()];
    for arg in command.get_arguments() {
        let (Some(variable), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let value = get(&variable.to_string_lossy())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        if let Some(value) = value {
            args.push(format!("--{long}={value}"));
        }
    }
    args.extend(argv.iter().cloned());
    // The values come from `get`, not from clap reading the process environment itself: a blank
    // variable is unset, and a test passes a map.
    let matches = command
        .clone()
        .mut_args(|arg| arg.env(None::<&'static str>))
        .try_get_matches_from(args)
        .map_err(|e| refusal(&command, &e))?;
    T::from_arg_matches(&matches).map_err(|e| refusal(&command, &e))
}

/// A parse error as a refusal that names the variable and what is wrong with it, never its
/// value (clap's own message quotes the value).
fn refusal(command: &clap::Command, error: &clap::Error) -> SettingsError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    // Built, so that each argument shows as clap's message shows it (`--port <PORT>`).
    let mut command = command.clone();
    command.build();
    let variable = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(shown)) => command
            .get_arguments()
            .find(|arg| arg.to_string() == *shown)
            .and_then(|arg| arg.get_env())
            .map(|variable| variable.to_string_lossy().into_owned()),
        _ => None,
    };
    let Some(variable) = variable else {
        return SettingsError::Arguments(error.render().to_string());
    };
    match error.kind() {
        ErrorKind::ValueValidation => {
            use std::error::Error;
            let problem = error.source().map_or_else(
                || "has a value that cannot be used".into(),
                |e| e.to_string(),
            );
            invalid(&variable, problem)
        }
        ErrorKind::InvalidValue => {
            let valid = match error.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(valid)) => valid.clone(),
                _ => Vec::new(),
            };
            let problem = match valid.split_last() {
                Some((last, [])) => format!("must be {last}"),
                Some((last, rest)) => format!("must be {} or {last}", rest.join(", ")),
                None => "has a value that cannot be used".into(),
            };
            invalid(&variable, problem)
        }
        _ => SettingsError::Arguments(error.render().to_string()),
    }
}

impl SettingsArgs {
    /// The declaration as clap's command, the variables as the process has them (`--help` shows
    /// them, but not the secrets': `hide_env_values`).
    fn command_with_env() -> clap::Command {
        <SettingsArgs as clap::CommandFactory>::command()
    }

    /// The settings from `argv` (the flags after `serve`) and the variables `get` finds.
    pub fn from_lookup(
        argv: &[String],
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<SettingsArgs, SettingsError> {
        parse_declared(Self::command_with_env(), argv, &get)
    }

    /// The settings from `argv` and the process environment.
    pub fn from_env(argv: &[String]) -> Result<SettingsArgs, SettingsError> {
        Self::from_lookup(argv, |name| std::env::var(name).ok())
    }

    /// Resolves the defaults that depend on the mode or on another setting, reads the secret key
    /// file, and checks the whole ([`Settings::check`]).
    pub fn resolve(self) -> Result<Settings, SettingsError> {
        let mode = self.billing_mode;
        let demo = mode == Mode::Demo;
        let database = self
            .database_path
            .filter(|_| self.database_url == Self::default_database())
            .unwrap_or(self.database_url);
        // Beside a SQLite database: the demo's generated key and the mounted simulator's file.
        let beside = match &database {
            DatabaseUrl::Sqlite(path) => path.parent().map(PathBuf::from).unwrap_or_default(),
            DatabaseUrl::Postgres(_) => PathBuf::from("data"),
        };
        let secret_key = match (self.toss_secret_key, &self.toss_secret_key_file) {
            (Some(key), _) => Some(key),
            (None, Some(file)) => Some(Secret::new(
                std::fs::read_to_string(file)
                    .map_err(|e| {
                        invalid(
                            "TOSS_SECRET_KEY_FILE",
                            format!("cannot read it: {}", e.kind()),
                        )
                    })?
                    .trim(),
            )),
            (None, None) => None,
        };
        let toss_api_base = match self.toss_api_base {
            Some(base) => Some(base),
            None if !demo => Some(TOSS_API.to_owned()),
            None => None,
        };
        let mount_simulator = self.toss_simulator.unwrap_or(toss_api_base.is_none());
        let encryption = match (
            self.billing_key_encryption_key,
            self.billing_key_encryption_key_file,
        ) {
            (Some(keys), _) => KeySource::Env(keys),
            (None, Some(file)) => KeySource::File(file),
            (None, None) => KeySource::DemoFile(beside.join("billing-key-encryption.key")),
        };
        // Outside the demo the operator API exists only with a token of the operator's own, and
        // registrations subscribe only to a plan the operator named.
        let operator_token = self
            .operator_token
            .or_else(|| demo.then(|| Secret::new(DEMO_OPERATOR_TOKEN)));
        let subscribe_plan = match self.subscribe_plan {
            Some(plan) => (plan != "none").then_some(plan),
            None => demo.then(|| DEMO_PLAN_ID.to_owned()),
        };
        let identity = match self.signed_in_user_header {
            Some(header) => IdentitySource::TrustedHeader(header),
            None => IdentitySource::Sessions,
        };
        let ms = Duration::from_millis;
        let settings = Settings {
            mode,
            bind: self.bind_address,
            port: self.port as u16,
            database,
            dist_dir: self.dist_dir,
            secret_key,
            toss_api_base,
            mount_simulator,
            simulator_database: self
                .simulator_database
                .unwrap_or_else(|| beside.join("simulator.sqlite")),
            toss_timeout: ms(self.toss_timeout_ms),
            toss_quick_retries: self.toss_quick_retries as u32,
            toss_backoff: Duration::from_millis(200),
            encryption,
            operator_token,
            allowed_origins: self.allowed_origins.map(|o| o.0).unwrap_or_default(),
            cookie_secure: self.cookie_secure || mode == Mode::Live,
            trust_proxy_headers: self.trust_proxy_headers,
            identity,
            session_idle: Duration::from_secs(self.session_idle_minutes * 60),
            session_max_age: Duration::from_secs(self.session_max_days * 86_400),
            instance_id: self.instance_id.unwrap_or_default(),
            handoff_wait: ms(self.handoff_wait_ms),
            lease: ms(self.lease_ms),
            reconcile_interval: ms(self.reconcile_interval_ms),
            drain_timeout: ms(self.drain_timeout_ms),
            drain_grace: ms(self.drain_grace_ms),
            metrics: self.metrics,
            metrics_token: self.metrics_token,
            metrics_refresh: ms(self.metrics_refresh_ms),
            limits: Limits {
                max_connections: self.max_connections as usize,
                header_timeout: ms(self.header_timeout_ms),
                body_timeout: ms(self.body_timeout_ms),
                request_timeout: ms(self.request_timeout_ms),
                max_body_bytes: 8 * 1024,
                handoff_per_minute: self.handoff_rate_per_minute as u32,
                handoff_burst: self.handoff_burst as u32,
                session_per_minute: self.session_rate_per_minute as u32,
                session_burst: self.session_burst as u32,
            },
            scheduler: self.scheduler,
            scheduler_interval: ms(self.scheduler_interval_ms),
            scheduler_concurrency: self.scheduler_concurrency as usize,
            retry_days: self.retry_days.0,
            dunning_final_state: self.dunning_final_state,
            subscribe_plan,
            terms_version: self.terms_version,
            withdrawal_days: self.withdrawal_days as u32,
            mid_term_refund: self.mid_term_refund,
            toss_webhook_path: self.toss_webhook_path,
            toss_webhook_allowlist: self.toss_webhook_allowlist,
            webhook_url: self.webhook_url,
            webhook_secret: self.webhook_secret,
            movable_clock: mode != Mode::Live,
            clock_offset_ms: self.clock_offset_ms as i64,
        };
        settings.check()?;
        Ok(settings)
    }

    fn default_database() -> DatabaseUrl {
        DatabaseUrl::Sqlite(PathBuf::from("data/billing.sqlite"))
    }
}

impl LogArgs {
    /// `LOG_FORMAT` and `RUST_LOG` alone, from the process environment (`billing-server
    /// simulate`, which reads no other setting).
    pub fn from_env() -> Result<LogArgs, SettingsError> {
        let command = <LogArgs as clap::Args>::augment_args(clap::Command::new("billing-server"));
        parse_declared(command, &[], &|name| std::env::var(name).ok())
    }
}

/// `billing-server --help`: generated from [`SettingsArgs`].
pub fn help() -> String {
    SettingsArgs::command_with_env()
        .disable_help_flag(false)
        .render_long_help()
        .to_string()
}

/// Where the README's settings table starts and ends.
pub const README_TABLE_MARKERS: (&str, &str) = (
    "<!-- settings table: generated from src/settings.rs (SettingsArgs) -->\n",
    "<!-- end of settings table -->",
);

/// The README's settings table (`server/README.md`, "Settings"): one row per variable of
/// [`SettingsArgs`] in its order, with its default and its help. A test keeps the README's copy
/// equal to this.
pub fn settings_table() -> String {
    let command = SettingsArgs::command_with_env();
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for arg in command.get_arguments().filter(|arg| !arg.is_hide_set()) {
        let Some(variable) = arg.get_env() else {
            continue;
        };
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| format!("`{}`", v.to_string_lossy()))
            .collect();
        let default = if default.is_empty() {
            "–".to_owned()
        } else {
            default.join(", ")
        };
        let mut meaning = arg.get_help().map(ToString::to_string).unwrap_or_default();
        if arg.is_hide_env_values_set() {
            meaning.push_str(" (a secret: never printed)");
        }
        table.push_str(&format!(
            "| `{}` | {default} | {} |\n",
            variable.to_string_lossy(),
            meaning.replace('|', "\\|")
        ));
    }
    table
}

impl Settings {
    /// The defaults: the offline demo on 127.0.0.1:8080 (every variable unset).
    pub fn demo() -> Settings {
        Settings::from_lookup(|_| None).expect("the declared defaults are the demo's")
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `get` (tests pass a map), then resolves and checks them.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        SettingsArgs::from_lookup(&[], get)?.resolve()
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
        if self.webhook_url.is_some() != self.webhook_secret.is_some() {
            return Err(invalid(
                "WEBHOOK_SECRET",
                "WEBHOOK_URL and WEBHOOK_SECRET go together: events are always signed",
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

    /// The variables the README's table names (the first column's).
    fn named_in(table: &str) -> std::collections::BTreeSet<String> {
        table
            .lines()
            .filter_map(|row| row.strip_prefix("| `"))
            .filter_map(|row| row.split('`').next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_readme_table_is_the_declaration() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (begin, end) = README_TABLE_MARKERS;
        let start = readme
            .find(begin)
            .expect("the README marks its settings table")
            + begin.len();
        let stop = start
            + readme[start..]
                .find(end)
                .expect("the table's end is marked");
        let generated = settings_table();
        if readme[start..stop] == generated {
            return;
        }
        if std::env::var("UPDATE_GENERATED").is_ok_and(|v| v == "1") {
            let updated = format!("{}{generated}{}", &readme[..start], &readme[stop..]);
            std::fs::write(path, updated).unwrap();
            return;
        }
        let (documented, declared) = (named_in(&readme[start..stop]), named_in(&generated));
        panic!(
            "server/README.md's settings table is not the declaration (SettingsArgs): missing \
             {:?}, not declared {:?}, or a default or help differs. Regenerate it with \
             UPDATE_GENERATED=1 cargo test -p billing-server --lib readme\n{generated}",
            declared.difference(&documented).collect::<Vec<_>>(),
            documented.difference(&declared).collect::<Vec<_>>(),
        );
    }

    #[test]
    fn every_declared_variable_has_help_and_a_flag() {
        let command = <SettingsArgs as clap::CommandFactory>::command();
        let mut variables = 0;
        for arg in command.get_arguments() {
            let variable = arg.get_env().expect("every setting is a variable");
            assert!(arg.get_long().is_some(), "{variable:?}");
            assert!(arg.get_help().is_some(), "{variable:?} has no help");
            variables += 1;
        }
        assert!(variables >= 50, "{variables}");
        assert!(
            !named_in(&settings_table()).contains("DATABASE_PATH"),
            "hidden"
        );
    }

    #[test]
    fn secrets_are_never_printed() {
        let secrets = [
            "TOSS_SECRET_KEY",
            "BILLING_KEY_ENCRYPTION_KEY",
            "OPERATOR_TOKEN",
            "METRICS_TOKEN",
            "WEBHOOK_SECRET",
        ];
        let command = <SettingsArgs as clap::CommandFactory>::command();
        for arg in command.get_arguments() {
            let variable = arg.get_env().unwrap().to_string_lossy().into_owned();
            assert_eq!(
                arg.is_hide_env_values_set(),
                secrets.contains(&variable.as_str()),
                "{variable}: hide_env_values exactly on the secrets"
            );
        }
        let value = |name: &str| format!("{}-value-that-must-not-show", name.to_lowercase());
        let parsed =
            SettingsArgs::from_lookup(&[], |name| secrets.contains(&name).then(|| value(name)))
                .unwrap();
        let debug = format!("{parsed:?}");
        for name in secrets {
            assert!(!debug.contains(&value(name)), "{name} in {debug}");
        }
    }

    #[test]
    fn a_flag_overrides_its_variable_and_a_blank_variable_is_unset() {
        let parsed =
            SettingsArgs::from_lookup(&["--port=9".into()], |k| (k == "PORT").then(|| "8".into()))
                .unwrap();
        assert_eq!(parsed.port, 9);
        let s = settings(&[
            ("PORT", "  "),
            ("TERMS_VERSION", ""),
            ("SCHEDULER", " off "),
        ])
        .unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.terms_version, DEFAULT_TERMS_VERSION);
        assert!(!s.scheduler);
        assert_eq!(
            settings(&[("PORT", "65536")]).unwrap_err().to_string(),
            "PORT: must be a number from 0 to 65535"
        );
    }

    #[test]
    fn the_demo_is_every_default() {
        let demo = Settings::demo();
        assert_eq!((demo.port, demo.mode), (8080, Mode::Demo));
        assert_eq!(
            demo.database,
            DatabaseUrl::Sqlite("data/billing.sqlite".into())
        );
        assert_eq!(
            demo.simulator_database,
            PathBuf::from("data/simulator.sqlite")
        );
        assert!(
            matches!(&demo.encryption, KeySource::DemoFile(p) if p == &PathBuf::from("data/billing-key-encryption.key"))
        );
        assert_eq!(demo.operator_token.unwrap().expose(), DEMO_OPERATOR_TOKEN);
        assert_eq!(demo.subscribe_plan.as_deref(), Some(DEMO_PLAN_ID));
        assert_eq!(demo.retry_days, vec![1, 3, 5, 7]);
        assert_eq!(demo.limits.session_burst, 20);
    }

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
