//! Configuration from environment variables. Secrets are redacted from `Debug`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The public documentation test secret key (works only against the simulator or Toss's test
/// environment; used when nothing is configured, for the demo).
pub const DOCS_TEST_SECRET_KEY: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";

/// Help text listing every environment variable (printed by `--help`).
pub const ENV_HELP: &str = "\
billing-server: reference merchant backend for the TossPayments billing (자동결제) flow,
with an offline Toss API simulator.

Usage: billing-server [--help]      (configuration is read from environment variables)

Environment variables:
  PORT                        port to listen on at 127.0.0.1 (default 8080; 0 = any free port)
  DATABASE_URL                SQLite database: a path or sqlite://path (default data/billing.sqlite;
                              created if missing). DATABASE_PATH is accepted as well.
  DIST_DIR                    built frontend to serve (default dist); routes get index.html, or
                              return.html on the page's success and fail paths
  TOSS_SECRET_KEY             Toss secret key (test_sk_... or live_sk_...); never logged
  TOSS_SECRET_KEY_FILE        file holding the secret key (used when TOSS_SECRET_KEY is unset)
                              Default when neither is set: the public docs test key (demo only).
  TOSS_API_BASE               Toss API base URL, e.g. https://api.tosspayments.com
                              (default: this server's own simulator, http://127.0.0.1:PORT/__toss-sim)
  TOSS_SIMULATOR              on|off: mount the simulator at /__toss-sim
                              (default: on when TOSS_API_BASE is unset, else off)
  TOSS_TIMEOUT_MS             timeout of one call to Toss (default 10000)
  TOSS_MAX_RETRIES            retries after a Toss 5xx/429/connection error (default 2)
  BILLING_KEY_ENCRYPTION_KEY  base64 of 32 bytes: AES-256-GCM key for billing keys at rest.
                              Default: generated once into billing-key-encryption.key next to the
                              database (0600). Production must set this variable.
  OPERATOR_TOKEN              bearer token for POST /api/admin/charges (unset = endpoint disabled)
  ALLOWED_ORIGINS             extra origins allowed to POST (comma-separated), e.g. behind a proxy
  COOKIE_SECURE               1 to mark the session cookie Secure (set when served over HTTPS)
";

/// A secret string whose `Debug`/`Display` never show the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Server configuration.
#[derive(Clone)]
pub struct Config {
    pub port: u16,
    pub database_path: PathBuf,
    pub dist_dir: PathBuf,
    pub secret_key: Secret,
    /// `None` = use the simulator mounted on this server.
    pub toss_api_base: Option<String>,
    pub mount_simulator: bool,
    pub toss_timeout: Duration,
    pub toss_max_retries: u32,
    /// First backoff delay between retries (doubles each time).
    pub toss_backoff: Duration,
    /// `None` = generate/keep a key file next to the database.
    pub encryption_key: Option<[u8; 32]>,
    pub operator_token: Option<Secret>,
    pub allowed_origins: Vec<String>,
    pub cookie_secure: bool,
    /// Maximum request body size for the JSON endpoints.
    pub max_body_bytes: usize,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("database_path", &self.database_path)
            .field("dist_dir", &self.dist_dir)
            .field("secret_key", &self.secret_key)
            .field("secret_key_kind", &key_kind(self.secret_key.expose()))
            .field("toss_api_base", &self.toss_api_base)
            .field("mount_simulator", &self.mount_simulator)
            .field("toss_timeout", &self.toss_timeout)
            .field("toss_max_retries", &self.toss_max_retries)
            .field("toss_backoff", &self.toss_backoff)
            .field(
                "encryption_key",
                &self
                    .encryption_key
                    .map(|_| "<redacted>")
                    .unwrap_or("<key file>"),
            )
            .field(
                "operator_token",
                &self.operator_token.as_ref().map(|_| "<redacted>"),
            )
            .field("allowed_origins", &self.allowed_origins)
            .field("cookie_secure", &self.cookie_secure)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

fn key_kind(k: &str) -> &'static str {
    if k.starts_with("live_") {
        "live"
    } else {
        "test"
    }
}

/// A configuration error. Its message never contains a secret.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Checks the shape of a Toss secret key. The error never repeats the key.
pub fn validate_secret_key(key: &str) -> Result<(), ConfigError> {
    let ok_prefix = key.starts_with("test_sk_") || key.starts_with("live_sk_");
    if !ok_prefix {
        let hint = if key.contains("_ck_") || key.contains("_gck_") {
            " (this looks like a client key, which belongs in the browser)"
        } else if key.contains("_gsk_") {
            " (this looks like a payment-widget secret key; billing needs the API individual-integration secret key)"
        } else {
            ""
        };
        return Err(ConfigError(format!(
            "the Toss secret key must start with test_sk_ or live_sk_{hint}"
        )));
    }
    if key.len() > 200 || key.len() < 12 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError(
            "the Toss secret key has an unexpected length or characters".into(),
        ));
    }
    Ok(())
}

impl Config {
    /// A configuration with the defaults (demo mode).
    pub fn defaults() -> Config {
        Config {
            port: 8080,
            database_path: PathBuf::from("data/billing.sqlite"),
            dist_dir: PathBuf::from("dist"),
            secret_key: Secret::new(DOCS_TEST_SECRET_KEY),
            toss_api_base: None,
            mount_simulator: true,
            toss_timeout: Duration::from_secs(10),
            toss_max_retries: 2,
            toss_backoff: Duration::from_millis(200),
            encryption_key: None,
            operator_token: None,
            allowed_origins: Vec::new(),
            cookie_secure: false,
            max_body_bytes: 8 * 1024,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (testable without touching the process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut c = Config::defaults();
        if let Some(p) = get("PORT") {
            c.port = p
                .parse()
                .map_err(|_| ConfigError("PORT must be a number 0-65535".into()))?;
        }
        if let Some(db) = get("DATABASE_URL").or_else(|| get("DATABASE_PATH")) {
            let path = db
                .strip_prefix("sqlite://")
                .or_else(|| db.strip_prefix("sqlite:"))
                .unwrap_or(&db);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                return Err(ConfigError(
                    "DATABASE_URL must name a file (billing keys must survive restarts)".into(),
                ));
            }
            c.database_path = PathBuf::from(path);
        }
        if let Some(d) = get("DIST_DIR") {
            c.dist_dir = PathBuf::from(d);
        }
        let secret = if let Some(k) = get("TOSS_SECRET_KEY") {
            Some(k)
        } else if let Some(f) = get("TOSS_SECRET_KEY_FILE") {
            let s = std::fs::read_to_string(&f).map_err(|e| {
                ConfigError(format!(
                    "cannot read TOSS_SECRET_KEY_FILE {f}: {}",
                    e.kind()
                ))
            })?;
            Some(s.trim().to_string())
        } else {
            None
        };
        if let Some(k) = secret {
            validate_secret_key(&k)?;
            c.secret_key = Secret::new(k);
        }
        if let Some(b) = get("TOSS_API_BASE") {
            let b = b.trim_end_matches('/').to_string();
            if !(b.starts_with("https://") || b.starts_with("http://")) {
                return Err(ConfigError("TOSS_API_BASE must be an http(s) URL".into()));
            }
            c.toss_api_base = Some(b);
            c.mount_simulator = false;
        }
        if let Some(s) = get("TOSS_SIMULATOR") {
            c.mount_simulator = match s.to_ascii_lowercase().as_str() {
                "1" | "on" | "true" | "yes" => true,
                "0" | "off" | "false" | "no" => false,
                _ => return Err(ConfigError("TOSS_SIMULATOR must be on or off".into())),
            };
        }
        if c.toss_api_base.is_none() && !c.mount_simulator {
            return Err(ConfigError(
                "TOSS_SIMULATOR=off needs TOSS_API_BASE (e.g. https://api.tosspayments.com)".into(),
            ));
        }
        if let Some(t) = get("TOSS_TIMEOUT_MS") {
            let ms: u64 =
                t.parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                    ConfigError("TOSS_TIMEOUT_MS must be a positive number".into())
                })?;
            c.toss_timeout = Duration::from_millis(ms);
        }
        if let Some(r) = get("TOSS_MAX_RETRIES") {
            c.toss_max_retries = r
                .parse()
                .ok()
                .filter(|r| *r <= 10)
                .ok_or_else(|| ConfigError("TOSS_MAX_RETRIES must be 0-10".into()))?;
        }
        if let Some(k) = get("BILLING_KEY_ENCRYPTION_KEY") {
            c.encryption_key = Some(parse_encryption_key(&k).ok_or_else(|| {
                ConfigError(
                    "BILLING_KEY_ENCRYPTION_KEY must be the base64 of exactly 32 bytes".into(),
                )
            })?);
        }
        if let Some(t) = get("OPERATOR_TOKEN") {
            if t.len() < 16 {
                return Err(ConfigError(
                    "OPERATOR_TOKEN must be at least 16 characters".into(),
                ));
            }
            c.operator_token = Some(Secret::new(t));
        }
        if let Some(o) = get("ALLOWED_ORIGINS") {
            c.allowed_origins = o
                .split(',')
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(s) = get("COOKIE_SECURE") {
            c.cookie_secure =
                matches!(s.to_ascii_lowercase().as_str(), "1" | "true" | "on" | "yes");
        }
        Ok(c)
    }
}

/// Parses base64 (standard or url-safe) of exactly 32 bytes.
pub fn parse_encryption_key(s: &str) -> Option<[u8; 32]> {
    let bytes = STANDARD
        .decode(s.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.trim()))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()))
        .ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_demo() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.port, 8080);
        assert!(c.mount_simulator);
        assert_eq!(c.secret_key.expose(), DOCS_TEST_SECRET_KEY);
    }

    #[test]
    fn bad_secret_is_refused_without_echo() {
        let e = cfg(&[("TOSS_SECRET_KEY", "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq")]).unwrap_err();
        assert!(!e.0.contains("D5GePWvy"), "{}", e.0);
        assert!(e.0.contains("client key"));
    }

    #[test]
    fn debug_redacts() {
        let c = cfg(&[
            ("TOSS_SECRET_KEY", "live_sk_abcdefghijklmnop"),
            ("OPERATOR_TOKEN", "operator-token-123456"),
        ])
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("abcdefghijklmnop"));
        assert!(!d.contains("operator-token-123456"));
    }

    #[test]
    fn api_base_turns_off_simulator() {
        let c = cfg(&[("TOSS_API_BASE", "https://api.tosspayments.com/")]).unwrap();
        assert_eq!(
            c.toss_api_base.as_deref(),
            Some("https://api.tosspayments.com")
        );
        assert!(!c.mount_simulator);
        assert_eq!(
            cfg(&[("DATABASE_URL", "sqlite://x/y.db?mode=rwc")])
                .unwrap()
                .database_path,
            PathBuf::from("x/y.db")
        );
    }
}
