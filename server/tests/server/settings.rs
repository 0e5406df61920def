//! Production fails closed: every refusal at start-up, tested on the real binary.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::support::{Db, TempDir, ENCRYPTION_KEY};
use crate::{stories, SQLITE};

stories! {
    SQLITE => each_unsafe_production_setting_stops_the_server_at_start_up,
    SQLITE => a_key_file_others_can_read_is_refused,
    SQLITE => live_mode_with_everything_explicit_starts,
    SQLITE => a_sigterm_the_moment_it_is_ready_still_drains,
    SQLITE => help_is_the_declaration_and_prints_no_secret,
}

const LIVE_KEY: &str = "live_sk_notARealKeyJustTheShape00";
const TEST_KEY: &str = "test_sk_notARealKeyJustTheShape00";

/// Runs the binary with `env` (and a private database); returns (exit code, stderr).
async fn run(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_billing-server"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("DATABASE_URL", dir.path().join("db.sqlite"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().unwrap();
    let output = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("a refused start exits at once")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn each_unsafe_production_setting_stops_the_server_at_start_up(_: Db) {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("BILLING_MODE", "live")], "needs TOSS_SECRET_KEY"),
        (&[("BILLING_MODE", "test")], "needs TOSS_SECRET_KEY"),
        (
            &[
                ("BILLING_MODE", "live"),
                ("TOSS_SECRET_KEY", TEST_KEY),
                ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY),
            ],
            "is a test key",
        ),
        (
            &[("TOSS_SECRET_KEY", LIVE_KEY)],
            "a live key needs BILLING_MODE=live",
        ),
        (
            &[
                ("BILLING_MODE", "test"),
                ("TOSS_SECRET_KEY", LIVE_KEY),
                ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY),
            ],
            "a live key needs BILLING_MODE=live",
        ),
        (
            &[
                ("BILLING_MODE", "live"),
                ("TOSS_SECRET_KEY", LIVE_KEY),
                ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY),
                ("TOSS_SIMULATOR", "on"),
            ],
            "the simulator (TOSS_SIMULATOR) cannot run next to a live key",
        ),
        (
            &[
                ("BILLING_MODE", "live"),
                ("TOSS_SECRET_KEY", LIVE_KEY),
                ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY),
                ("CLOCK_OFFSET_MS", "1000"),
            ],
            "a movable clock",
        ),
        (
            &[
                ("BILLING_MODE", "live"),
                ("TOSS_SECRET_KEY", LIVE_KEY),
                ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY),
                ("OPERATOR_TOKEN", "demo-operator-token-not-a-secret"),
            ],
            "the demo's token is public",
        ),
        (
            &[("BILLING_MODE", "test"), ("TOSS_SECRET_KEY", TEST_KEY)],
            "needs BILLING_KEY_ENCRYPTION_KEY",
        ),
        (
            &[("BILLING_MODE", "live"), ("TOSS_SECRET_KEY", LIVE_KEY)],
            "needs BILLING_KEY_ENCRYPTION_KEY",
        ),
        (
            &[("TOSS_API_BASE", "https://api.tosspayments.com")],
            "demo mode talks only to a simulator",
        ),
        (
            &[("TOSS_SECRET_KEY", "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq")],
            "looks like a client key",
        ),
        (
            &[("BILLING_KEY_ENCRYPTION_KEY", "k1:c2hvcnQ=")],
            "not the base64 of exactly 32 bytes",
        ),
        (
            &[("BILLING_MODE", "production")],
            "must be demo, test or live",
        ),
        (&[("DATABASE_URL", ":memory:")], "must name a SQLite file"),
        // Each value is parsed by its declaration (src/settings.rs), and refused by name.
        (
            &[("OPERATOR_TOKEN", "short-operator-secret")],
            "OPERATOR_TOKEN: must be at least 24 characters",
        ),
        (
            &[("METRICS_TOKEN", "short-metrics-secret")],
            "METRICS_TOKEN: must be at least 24 characters",
        ),
        (
            &[("PORT", "80808")],
            "PORT: must be a number from 0 to 65535",
        ),
        (&[("SCHEDULER", "maybe")], "SCHEDULER: must be on or off"),
        (
            &[("METRICS", "public")],
            "METRICS: must be off, token or open",
        ),
        (
            &[("WEBHOOK_URL", "https://shop.example/hooks")],
            "WEBHOOK_URL and WEBHOOK_SECRET go together",
        ),
        (&[("LOG_FORMAT", "xml")], "LOG_FORMAT: must be text or json"),
    ];
    for (env, expected) in cases {
        let (code, stderr) = run(env).await;
        assert!(
            matches!(code, Some(1) | Some(2)),
            "{env:?} started ({code:?}): {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{env:?}: expected {expected:?} in:\n{stderr}"
        );
        for (_, value) in env.iter() {
            if value.contains("_sk_")
                || value.contains("_ck_")
                || value.starts_with("k1:")
                || value.contains("secret")
            {
                assert!(
                    !stderr.contains(value),
                    "the refusal echoes a secret: {stderr}"
                );
            }
        }
    }
}

async fn a_key_file_others_can_read_is_refused(_: Db) {
    let dir = TempDir::new();
    let file = dir.path().join("keys");
    std::fs::write(&file, format!("{ENCRYPTION_KEY}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = file.display().to_string();
    let base = [
        ("BILLING_MODE", "test"),
        ("TOSS_SECRET_KEY", TEST_KEY),
        ("BILLING_KEY_ENCRYPTION_KEY_FILE", path.as_str()),
        ("TOSS_API_BASE", "http://127.0.0.1:9"),
    ];
    let (code, stderr) = run(&base).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("readable by other users"), "{stderr}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stderr) = run_briefly(&base).await;
    assert_eq!(code, None, "a private key file starts: {stderr}");
}

/// Starts the binary, and if it is still running after it printed its address, stops it.
async fn run_briefly(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let mut owned: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
    owned.push((
        "DATABASE_URL",
        dir.path().join("db.sqlite").display().to_string(),
    ));
    let mut proc = crate::support::Proc::spawn("billing-server", &[], &owned).await;
    let status = proc.terminate().await;
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");
    (None, proc.output())
}

async fn live_mode_with_everything_explicit_starts(_: Db) {
    let (code, output) = run_briefly(&[
        ("BILLING_MODE", "live"),
        ("TOSS_SECRET_KEY", LIVE_KEY),
        ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("TOSS_API_BASE", "http://127.0.0.1:9"),
        ("OPERATOR_TOKEN", "an-operator-token-of-our-own-1234"),
    ])
    .await;
    assert_eq!(code, None);
    assert!(!output.contains(LIVE_KEY), "the key is never logged");
    assert!(
        !output.contains("an-operator-token-of-our-own"),
        "the token is never logged"
    );
}

/// A deploy tool may stop the server the instant it says "listening": the SIGTERM handler is in
/// place before that line, so the stop is a clean drain, never the signal's default kill (CI once
/// caught the old order: `ExitStatus(unix_wait_status(15))`). Repeated, because the window was a
/// race.
async fn a_sigterm_the_moment_it_is_ready_still_drains(_: Db) {
    for _ in 0..10 {
        let dir = TempDir::new();
        let env = [
            ("PORT", "0".to_string()),
            (
                "DATABASE_URL",
                dir.path().join("db.sqlite").display().to_string(),
            ),
        ];
        let mut proc = crate::support::Proc::spawn("billing-server", &[], &env).await;
        let status = proc.terminate().await;
        assert!(
            status.success(),
            "SIGTERM right after \"listening\" drains and exits 0: {status:?}\n{}",
            proc.output()
        );
    }
}

/// `--help` is generated from the declaration: every variable with its help and default, the
/// current value of the ordinary ones, and never a secret's.
async fn help_is_the_declaration_and_prints_no_secret(_: Db) {
    let secrets = [
        ("TOSS_SECRET_KEY", TEST_KEY),
        ("BILLING_KEY_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("OPERATOR_TOKEN", "an-operator-token-of-our-own-1234"),
        ("METRICS_TOKEN", "a-metrics-token-of-our-own-12345"),
        ("WEBHOOK_SECRET", "a-webhook-secret-of-our-own-1234"),
    ];
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_billing-server"))
        .arg("--help")
        .env_clear()
        .env("PORT", "18080")
        .envs(secrets)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (name, value) in secrets {
        assert!(help.contains(&format!("[env: {name}]")), "{name}: {help}");
        assert!(!help.contains(value), "{name}'s value in --help");
    }
    assert!(help.contains("[env: PORT=18080]"), "{help}");
    for line in billing_server::settings::settings_table().lines().skip(2) {
        let variable = line.split('`').nth(1).unwrap();
        assert!(help.contains(&format!("[env: {variable}")), "{variable}");
    }
    assert!(help.contains("billing-server simulate"));
}
