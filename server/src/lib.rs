//! Reference merchant backend for the TossPayments billing (자동결제) card-registration flow,
//! with an offline Toss API simulator (`sim`).
//!
//! See `server/README.md` for the endpoints and environment variables, and
//! `docs/handoff-contract.md` for the browser ↔ backend contract implemented here.

pub mod app;
pub mod config;
pub mod crypto;
pub mod db;
pub mod locks;
pub mod sim;
pub mod toss;
pub mod util;
pub mod web;

use axum::extract::Request;
use axum::routing::{any, get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

pub use config::Config;

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// The simulator mounted at `/__toss-sim`, if any (tests can queue faults on it).
    pub simulator: Option<sim::Simulator>,
    /// The Toss API base URL in use.
    pub toss_api_base: String,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Builds the whole application router.
pub fn router(state: app::Shared, simulator: Option<&sim::Simulator>) -> Router {
    let dist = state.cfg.dist_dir.clone();
    let mut r = Router::new()
        .route("/api/customer", get(app::get_customer))
        .route("/api/billing/issue", post(app::issue))
        .route("/api/admin/charges", post(app::create_charge))
        .route("/api/health", get(app::health))
        .route("/api/{*rest}", any(app::api_not_found))
        .with_state(state);
    if let Some(s) = simulator {
        r = r.nest("/__toss-sim", s.router());
    }
    r.fallback(move |req: Request| {
        let dist = dist.clone();
        async move { web::serve_static(&dist, req.method(), req.uri().path()).await }
    })
    .layer(axum::middleware::from_fn(web::security_headers))
}

/// Opens the database, resolves the keys, binds `127.0.0.1:{cfg.port}` and serves.
pub async fn start(cfg: Config) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], cfg.port)))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", cfg.port))?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");

    let enc_key = match cfg.encryption_key {
        Some(k) => k,
        None => {
            let path = cfg
                .database_path
                .with_file_name("billing-key-encryption.key");
            let (k, created) = crypto::load_or_create_key_file(&path)
                .map_err(|e| format!("cannot use the key file {}: {e}", path.display()))?;
            eprintln!(
                "[billing-server] NOTICE: billing keys are encrypted with the demo key file {}{}. \
                 Production must set BILLING_KEY_ENCRYPTION_KEY (base64 of 32 bytes).",
                path.display(),
                if created { " (just created)" } else { "" }
            );
            k
        }
    };
    let db = db::open(&cfg.database_path).await.map_err(|e| {
        format!(
            "cannot open the database {}: {e}",
            cfg.database_path.display()
        )
    })?;

    let simulator = cfg.mount_simulator.then(sim::Simulator::new);
    let toss_api_base = cfg
        .toss_api_base
        .clone()
        .unwrap_or_else(|| format!("{base_url}/__toss-sim"));
    let toss = toss::TossClient::new(
        &toss_api_base,
        cfg.secret_key.expose(),
        cfg.toss_timeout,
        cfg.toss_max_retries,
        cfg.toss_backoff,
    )?;
    let state = Arc::new(app::AppState {
        db,
        cfg,
        toss,
        keybox: crypto::KeyBox::new(&enc_key),
        locks: locks::KeyedLocks::default(),
    });
    let app = router(state, simulator.as_ref());
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running {
        addr,
        base_url,
        simulator,
        toss_api_base,
        task,
    })
}
