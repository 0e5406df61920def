//! billing-server: the reference merchant backend for the TossPayments billing (자동결제) flow.
//!
//! - [`routes`]: the HTTP API (one module per resource), [`web`]: the frontend and headers,
//!   [`serve`]: the connection loop (timeouts, limits, graceful shutdown);
//! - [`exchange`]: the authKey → billing-key exchange, exactly once; [`charge`]: charges, exactly
//!   once per orderId; [`refund`]: refunds, exactly once per refund id; [`reconciler`]: finishes
//!   what a crash or an unclear answer left; [`toss_webhooks`]: Toss's webhooks, from the inbox;
//! - [`store`]: SQLite or PostgreSQL; [`session`]: who the customer is; [`crypto`]: keys at rest;
//! - [`toss`]: the Toss API client and what its codes mean (the offline simulator is the
//!   `toss-sim` crate, mounted here in demo mode);
//! - [`settings`]: configuration that fails closed; [`clock`]: the one source of time;
//! - [`metrics`]: every Prometheus metric; [`request_id`]: the id on every log line of a request
//!   and of the work it causes.
//!
//! See `server/README.md` for the guarantees, and `docs/handoff-contract.md` for the browser ↔
//! backend contract.

pub mod billing;
pub mod card_removal;
pub mod charge;
pub mod checkout;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod exchange;
pub mod ids;
pub mod lease;
pub mod metrics;
pub mod notices;
pub mod reconciler;
pub mod refund;
pub mod request_id;
pub mod routes;
pub mod scheduler;
pub mod serve;
pub mod session;
pub mod settings;
pub mod store;
pub mod subscription;
pub mod toss;
pub mod toss_webhooks;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::Next;
use axum::response::Response;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

pub use settings::{Mode, Settings};

use crate::billing::dunning::RetryPolicy;
use crate::billing::refund_policy::Policy as RefundPolicy;
use crate::charge::{ChargeSettings, Charges};
use crate::clock::Clock;
use crate::crypto::{Keyring, KeyringError};
use crate::error::error_response;
use crate::exchange::{ExchangeSettings, Exchanges};
use crate::metrics::Metrics;
use crate::notices::Webhook;
use crate::refund::Refunds;
use crate::routes::AppContext;
use crate::session::{SessionSettings, Sessions};
use crate::settings::{KeySource, SettingsError};
use crate::store::{PoolSize, Store, StoreError};
use crate::subscription::{SubscriptionSettings, Subscriptions};
use crate::toss::TossClient;
use crate::toss_webhooks::Inbox;
use toss_sim::Simulator;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is refused.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The encryption keys are unusable.
    #[error(transparent)]
    Keys(#[from] KeyringError),
    /// The database cannot be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The simulator's database cannot be opened.
    #[error("cannot open the simulator's database: {0}")]
    Simulator(sqlx::Error),
    /// The address is taken.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why not.
        reason: std::io::Error,
    },
    /// The Toss client cannot be built.
    #[error("{0}")]
    Toss(String),
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub base_url: String,
    /// The simulator mounted at `/__toss-sim`, if any.
    pub simulator: Option<Simulator>,
    /// The Toss API in use.
    pub toss_api_base: String,
    /// The database (tests read it).
    pub store: Store,
    /// The clock (tests move it).
    pub clock: Clock,
    /// The name this instance holds leases under.
    pub instance: String,
    /// Its metrics (tests read them).
    pub metrics: Metrics,
    drain: CancellationToken,
    done: JoinHandle<()>,
}

impl Server {
    /// Starts a graceful shutdown: readiness answers 503 at once; after `DRAIN_GRACE_MS` (load
    /// balancers have seen it) no new connections are accepted, and requests in flight and
    /// running exchanges and charges finish (within the drain timeout).
    pub fn stop(&self) {
        self.drain.cancel();
    }

    /// Waits until the server has stopped.
    pub async fn stopped(self) {
        let _ = self.done.await;
    }

    /// [`Server::stop`], then [`Server::stopped`].
    pub async fn shutdown(self) {
        self.stop();
        self.stopped().await;
    }
}

fn keyring(settings: &Settings) -> Result<(Keyring, Option<(String, bool)>), KeyringError> {
    Ok(match &settings.encryption {
        KeySource::Env(keys) => (Keyring::parse(keys.expose())?, None),
        KeySource::File(path) => (Keyring::from_file(path)?, None),
        KeySource::DemoFile(path) => {
            let (ring, created) = Keyring::demo_file(path)?;
            (ring, Some((path.display().to_string(), created)))
        }
    })
}

/// The whole request timeout as a layer, answering in the API's JSON shape (tower-http's timeout
/// answers with an empty body).
async fn request_timeout(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error_response(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "REQUEST_TIMEOUT",
            "요청 처리가 늦어지고 있습니다. 잠시 후 다시 시도해주세요.",
            Some(1000),
        ),
    }
}

/// Opens the database, resolves the keys, binds and serves; the reconciler starts at once.
pub async fn start(settings: Settings) -> Result<Server, StartError> {
    settings.check()?;
    let (keyring, demo_key) = keyring(&settings)?;
    if let Some((path, created)) = demo_key {
        tracing::warn!(
            file = path,
            created,
            "demo mode: billing keys are encrypted with a generated key file next to the database; \
             production sets BILLING_KEY_ENCRYPTION_KEY (BILLING_MODE=test or live require it)"
        );
    }
    let keyring = Arc::new(keyring);
    let address = SocketAddr::new(settings.bind, settings.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|reason| StartError::Listen { address, reason })?;
    let addr = listener
        .local_addr()
        .map_err(|reason| StartError::Listen { address, reason })?;
    let base_url = format!("http://{addr}");
    let store = Store::open(&settings.database, PoolSize::default()).await?;
    let instance = settings.instance_name(addr.port());
    let released = store.release_leases_of(&instance).await?;
    if released > 0 {
        tracing::info!(
            instance,
            released,
            "took back the work a previous run of this instance left mid-way"
        );
    }
    let clock = if settings.movable_clock {
        Clock::movable(settings.clock_offset_ms)
    } else {
        Clock::system()
    };
    let simulator = if settings.mount_simulator {
        Some(
            Simulator::open(&settings.simulator_database, clock.clone())
                .await
                .map_err(StartError::Simulator)?,
        )
    } else {
        None
    };
    let toss_api_base = settings
        .toss_api_base
        .clone()
        .unwrap_or_else(|| format!("{base_url}/__toss-sim"));
    let metrics = Metrics::new();
    let toss = TossClient::new(
        &toss_api_base,
        settings.secret_key_in_use(),
        settings.toss_timeout,
        metrics.clone(),
    )
    .map_err(StartError::Toss)?;
    let tasks = TaskTracker::new();
    let registered = Arc::new(tokio::sync::Notify::new());
    let exchanges = Exchanges::new(
        store.clone(),
        toss.clone(),
        keyring.clone(),
        clock.clone(),
        ExchangeSettings {
            owner: instance.clone(),
            lease: settings.lease,
            wait: settings.handoff_wait,
            quick_retries: settings.toss_quick_retries,
            backoff: settings.toss_backoff,
        },
        tasks.clone(),
        registered.clone(),
        metrics.clone(),
    );
    let charges = Charges::new(
        store.clone(),
        toss.clone(),
        keyring.clone(),
        clock.clone(),
        ChargeSettings {
            owner: instance.clone(),
            lease: settings.lease,
            wait: settings.handoff_wait,
            quick_retries: settings.toss_quick_retries,
            backoff: settings.toss_backoff,
        },
        tasks.clone(),
        metrics.clone(),
    );
    let refunds = Refunds::new(
        store.clone(),
        toss.clone(),
        clock.clone(),
        ChargeSettings {
            owner: instance.clone(),
            lease: settings.lease,
            wait: settings.handoff_wait,
            quick_retries: settings.toss_quick_retries,
            backoff: settings.toss_backoff,
        },
        tasks.clone(),
        metrics.clone(),
    );
    let inbox = Inbox::new(store.clone(), toss.clone(), refunds.clone(), clock.clone());
    let sessions = Sessions::new(
        store.clone(),
        keyring.clone(),
        clock.clone(),
        SessionSettings {
            identity: settings.identity.clone(),
            idle: settings.session_idle,
            max_age: settings.session_max_age,
            visitor_lifetime: Duration::from_secs(86_400),
            rotate_after: Duration::from_secs(86_400),
            always_secure: settings.cookie_secure,
            trust_proxy_headers: settings.trust_proxy_headers,
        },
    );
    if settings.mode == Mode::Demo {
        for plan in settings::demo_plans() {
            store.insert_plan_if_absent(&plan, clock.now_ms()).await?;
        }
    }
    let subscriptions = Subscriptions::new(
        store.clone(),
        charges.clone(),
        refunds.clone(),
        clock.clone(),
        SubscriptionSettings {
            owner: instance.clone(),
            lease: settings.lease,
            default_plan: settings.subscribe_plan.clone(),
            terms_version: settings.terms_version.clone(),
            policy: RetryPolicy {
                retry_days: settings.retry_days.clone(),
                final_state: settings.dunning_final_state,
            },
            concurrency: settings.scheduler_concurrency,
            batch: (settings.scheduler_concurrency * 2) as i64,
            recheck: Duration::from_secs(2),
            cancellation: RefundPolicy {
                withdrawal_days: settings.withdrawal_days,
                mid_term: settings.mid_term_refund,
            },
        },
        metrics.clone(),
    );
    let webhook = settings
        .webhook_url
        .clone()
        .zip(settings.webhook_secret.clone())
        .map(|(url, secret)| Webhook { url, secret });
    let settings = Arc::new(settings);
    // `drain` starts the shutdown (readiness turns 503); `stop`, `DRAIN_GRACE_MS` later, closes
    // the listener and ends the background loops.
    let drain = CancellationToken::new();
    let stop = CancellationToken::new();
    tokio::spawn({
        let (drain, stop, grace) = (drain.clone(), stop.clone(), settings.drain_grace);
        async move {
            drain.cancelled().await;
            tracing::info!(
                grace_ms = grace.as_millis() as u64,
                "draining: readiness answers 503; the listener closes after the grace"
            );
            tokio::time::sleep(grace).await;
            stop.cancel();
        }
    });
    let ctx = AppContext {
        settings: settings.clone(),
        store: store.clone(),
        sessions: sessions.clone(),
        exchanges: exchanges.clone(),
        charges: charges.clone(),
        refunds: refunds.clone(),
        subscriptions: subscriptions.clone(),
        toss_inbox: inbox.clone(),
        toss: toss.clone(),
        clock: clock.clone(),
        keyring: keyring.clone(),
        tasks: tasks.clone(),
        metrics: metrics.clone(),
        draining: drain.clone(),
    };
    let (api, limiters) = routes::api_router(ctx);
    let mut app = api;
    if let Some(sim) = &simulator {
        app = app.nest_service("/__toss-sim", sim.router());
    }
    let request_timeout_after = settings.limits.request_timeout;
    let trust_proxy_headers = settings.trust_proxy_headers;
    let app = app
        .fallback_service(web::frontend(&settings.dist_dir))
        .layer(DefaultBodyLimit::max(settings.limits.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(settings.limits.body_timeout))
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                request_timeout(request_timeout_after, request, next)
            },
        ))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(axum::middleware::from_fn(request_id::in_scope))
        .layer(
            // The path only: a success page's query carries the one-time authKey. At INFO, so that
            // the request id is on every line the request logs at the default level.
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = request.uri().path(),
                    request_id = request_id::of(request).unwrap_or(""),
                )
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                request_id::accept(trust_proxy_headers, request, next)
            },
        ));

    let serving = tokio::spawn(serve::serve(
        listener,
        app,
        serve::ConnectionLimits {
            max_connections: settings.limits.max_connections,
            header_timeout: settings.limits.header_timeout,
            drain_timeout: settings.drain_timeout,
        },
        stop.clone(),
    ));
    let background = reconciler::spawn(
        reconciler::Work {
            exchanges,
            charges,
            refunds,
            sessions,
            limiters,
        },
        settings.reconcile_interval,
        stop.clone(),
    );
    let webhooks = toss_webhooks::spawn(inbox, settings.reconcile_interval, stop.clone());
    let recurring = scheduler::spawn(
        scheduler::Work {
            subscriptions,
            store: store.clone(),
            clock: clock.clone(),
            webhook,
            registered,
            charge_due: settings.scheduler,
            metrics: metrics.clone(),
        },
        settings.scheduler_interval,
        stop.clone(),
    );
    let drain_timeout = settings.drain_timeout;
    let closing_store = store.clone();
    let done = tokio::spawn(async move {
        let _ = serving.await;
        let _ = background.await;
        let _ = recurring.await;
        let _ = webhooks.await;
        tasks.close();
        if tokio::time::timeout(drain_timeout, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = tasks.len(),
                "exchanges or charges still running after the drain timeout; the reconciler of the next run finishes them"
            );
        }
        closing_store.close().await;
    });
    Ok(Server {
        addr,
        base_url,
        simulator,
        toss_api_base,
        store,
        clock,
        instance,
        metrics,
        drain,
        done,
    })
}
