//! `billing-server`: see `--help` and server/README.md.

use billing_server::config::{Config, ENV_HELP};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{ENV_HELP}");
        return;
    }
    if let Some(a) = args.first() {
        eprintln!(
            "unknown argument {a:?}; configuration comes from environment variables (see --help)"
        );
        std::process::exit(2);
    }
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("billing-server: configuration error: {e}");
            std::process::exit(2);
        }
    };
    eprintln!("[billing-server] {cfg:?}");
    let running = match billing_server::start(cfg).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("billing-server: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if running.simulator.is_some() {
        eprintln!(
            "[billing-server] offline Toss API simulator mounted at {}/__toss-sim",
            running.base_url
        );
    }
    eprintln!("[billing-server] Toss API base: {}", running.toss_api_base);
    println!("billing-server listening on {}", running.base_url);
    match running.task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("billing-server: server error: {e}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("billing-server: server task failed: {e}");
            std::process::exit(1);
        }
    }
}
