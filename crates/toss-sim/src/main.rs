//! `toss-sim`: the Toss billing API simulator as its own process (see the crate's README).

const HELP: &str = "\
toss-sim: an offline simulator of the TossPayments card-billing APIs

Environment:
  PORT                port to listen on (default 8090; 0 = any free port)
  BIND_ADDRESS        address to listen on (default 127.0.0.1)
  SIMULATOR_DATABASE  its SQLite file (default data/simulator.sqlite); it survives restarts
  CLOCK_OFFSET_MS     start this many milliseconds in the future (default 0)
  RUST_LOG            log filter (default info)

Prints `toss simulator listening on http://ADDR` on stdout when ready.
Endpoints, test cards and the control API: crates/toss-sim/README.md.
";

#[tokio::main]
async fn main() {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return;
    }
    if let Some(unknown) = std::env::args().nth(1) {
        eprintln!("toss-sim: unknown argument {unknown:?}; see toss-sim --help");
        std::process::exit(2);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = toss_sim::run_from_env().await {
        eprintln!("toss-sim: {e}");
        std::process::exit(1);
    }
}
