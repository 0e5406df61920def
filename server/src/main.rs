//! `billing-server`: the reference backend (`serve`, the default), the Toss simulator alone
//! (`simulate`), or the API's OpenAPI description (`openapi`). Settings come from the
//! environment, as declared in `settings::SettingsArgs`: `billing-server --help`.

use billing_server::settings::{self, LogArgs, LogFormat, SettingsArgs};

/// Logs on stderr: human text, or with `LOG_FORMAT=json` one JSON object per line
/// (`timestamp`, `level`, `fields.message`, `target`, and the spans with their fields — the
/// request's `request_id` among them); `RUST_LOG` filters them.
fn init_logs(logs: &LogArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&logs.rust_log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match logs.log_format {
        LogFormat::Text => subscriber.init(),
        LogFormat::Json => subscriber
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

/// Stops with the refusal: it names the variable, never its value.
fn refuse(e: impl std::fmt::Display) -> ! {
    eprintln!("billing-server: refusing to start: {e}");
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", settings::help());
        return;
    }
    match args.first().map(String::as_str) {
        Some("simulate") if args.len() == 1 => {
            init_logs(&LogArgs::from_env().unwrap_or_else(|e| refuse(e)));
            simulate().await
        }
        Some("simulate") => {
            refuse("billing-server simulate takes no arguments; see billing-server --help")
        }
        // The API's description, for generating a client without running a server.
        Some("openapi") if args.len() == 1 => {
            use std::io::Write;
            // A reader that stops early (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(billing_server::routes::openapi::json().as_bytes());
        }
        Some("openapi") => {
            refuse("billing-server openapi takes no arguments; see billing-server --help")
        }
        Some("serve") => serve(&args[1..]).await,
        _ => serve(&args).await,
    }
}

async fn serve(flags: &[String]) {
    let parsed = SettingsArgs::from_env(flags).unwrap_or_else(|e| refuse(e));
    init_logs(&parsed.logs);
    let settings = parsed.resolve().unwrap_or_else(|e| refuse(e));
    tracing::info!(mode = ?settings.mode, database = %settings.database.redacted(), "starting");
    // Listening for SIGTERM from here on: a stop during start-up or right after "listening" drains.
    let stop_requested = billing_server::serve::shutdown_signal();
    let server = match billing_server::start(settings).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("billing-server: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if server.simulator.is_some() {
        tracing::info!(
            "offline Toss API simulator mounted at {}/__toss-sim",
            server.base_url
        );
    }
    tracing::info!(
        toss = server.toss_api_base,
        instance = server.instance,
        "ready"
    );
    // The one line tools wait for (scripts, tests): the address, on stdout.
    println!("billing-server listening on {}", server.base_url);
    stop_requested.await;
    tracing::info!("shutting down: draining requests, exchanges and charges");
    server.shutdown().await;
    tracing::info!("stopped");
}

/// The simulator in its own process (the same as the `toss-sim` binary): `PORT` (default 8090),
/// `SIMULATOR_DATABASE` (default data/simulator.sqlite), `CLOCK_OFFSET_MS`.
async fn simulate() {
    if let Err(e) = toss_sim::run_from_env().await {
        eprintln!("billing-server simulate: {e}");
        std::process::exit(1);
    }
}
