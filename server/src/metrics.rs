//! Every Prometheus metric of the server, in one place: names, labels and help texts live here,
//! and the code calls the typed functions of [`Metrics`] (`metrics.charge_outcome(..)`), never the
//! registry. Exposed at `GET /metrics` (`routes::system`) in the OpenMetrics text format by
//! `prometheus-client`.
//!
//! Two kinds, so that several instances are counted once (`server/README.md`, "Operating it"):
//!
//! - **what this instance did** (counters, the Toss latency histogram): each instance counts its
//!   own events and nothing else; sum them across instances;
//! - **what the shared database says** (gauges labelled `scope="database"`: the reconciler's
//!   backlog, the scheduler's lag, subscriptions by status, the outbox): every instance reads the
//!   same rows, so every instance exports the same values; take `max` across instances, never
//!   `sum`. They are read on scrape, at most once per `METRICS_REFRESH_MS` (a handful of indexed
//!   queries and one count of subscriptions by status), never by a loop of their own.
//!
//! A registry per [`Metrics`] (not a process-wide one): two servers in one process — the tests,
//! an embedding application — each count their own.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::billing::lifecycle::Status;
use crate::clock::Clock;
use crate::store::Store;

/// The scope label of the gauges read from the shared database.
const DATABASE: &str = "database";

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How an authKey exchange (the hand-off's work) ended a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffOutcome {
    /// The billing key is stored: final.
    Registered,
    /// Toss refused the authKey for good (its code): final.
    Refused,
    /// Toss's 15-day window passed without a final answer: final.
    Expired,
    /// No final answer in this run (Toss busy, timed out, …): the reconciler tries again.
    RetryLater,
}

impl HandoffOutcome {
    fn as_str(self) -> &'static str {
        match self {
            HandoffOutcome::Registered => "registered",
            HandoffOutcome::Refused => "refused",
            HandoffOutcome::Expired => "expired",
            HandoffOutcome::RetryLater => "retry_later",
        }
    }
}

/// Whose charge it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeKind {
    /// A subscription's period or proration.
    Subscription,
    /// An operator's `POST /api/admin/charges`.
    Operator,
}

/// How a run of a charge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Approved by Toss: final.
    Approved,
    /// Refused by Toss (its code): final.
    Declined,
    /// The outcome is unclear (timeout, 5xx, …): it is looked up later. A charge can be unclear
    /// several times before it is final.
    Unclear,
}

impl ChargeOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ChargeOutcome::Approved => "approved",
            ChargeOutcome::Declined => "declined",
            ChargeOutcome::Unclear => "unclear",
        }
    }
}

/// How a run of a refund (a Toss cancel) ended. Defined for the refunds being written now; they
/// call [`Metrics::refund_outcome`] once per run, as charges do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Toss cancelled the amount: final.
    Refunded,
    /// Toss refused (its code): final.
    Refused,
    /// The outcome is unclear: looked up later.
    Unclear,
}

impl RefundOutcome {
    fn as_str(self) -> &'static str {
        match self {
            RefundOutcome::Refunded => "refunded",
            RefundOutcome::Refused => "refused",
            RefundOutcome::Unclear => "unclear",
        }
    }
}

/// The Toss APIs this server calls (`toss::TossClient`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TossApi {
    /// `POST /v1/billing/authorizations/issue`.
    Issue,
    /// `POST /v1/billing/{billingKey}`.
    Charge,
    /// `GET /v1/payments/orders/{orderId}`.
    Lookup,
    /// `POST /v1/payments/{paymentKey}/cancel` (refunds).
    Cancel,
    /// `GET /v1/payments/{paymentKey}`.
    Payment,
    /// `DELETE /v1/billing/{billingKey}`.
    Delete,
}

impl TossApi {
    fn as_str(self) -> &'static str {
        match self {
            TossApi::Issue => "issue",
            TossApi::Charge => "charge",
            TossApi::Lookup => "lookup",
            TossApi::Cancel => "cancel",
            TossApi::Payment => "payment",
            TossApi::Delete => "delete",
        }
    }
}

/// What one Toss call came back with (`toss::TossError`'s kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TossCallOutcome {
    /// A 2xx with a readable body.
    Ok,
    /// A 4xx refusal with Toss's code.
    Refused,
    /// 408/409/425/429/5xx.
    Busy,
    /// No answer within `TOSS_TIMEOUT_MS`.
    Timeout,
    /// No connection.
    Unreachable,
    /// The connection broke.
    Network,
    /// A 2xx without a readable body.
    BadResponse,
}

impl TossCallOutcome {
    fn as_str(self) -> &'static str {
        match self {
            TossCallOutcome::Ok => "ok",
            TossCallOutcome::Refused => "refused",
            TossCallOutcome::Busy => "busy",
            TossCallOutcome::Timeout => "timeout",
            TossCallOutcome::Unreachable => "unreachable",
            TossCallOutcome::Network => "network",
            TossCallOutcome::BadResponse => "bad_response",
        }
    }
}

/// Work that runs under a lease in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeasedWork {
    /// An authKey exchange.
    Exchange,
    /// A charge.
    Charge,
    /// A subscription (the scheduler, an action).
    Subscription,
}

impl LeasedWork {
    fn as_str(self) -> &'static str {
        match self {
            LeasedWork::Exchange => "exchange",
            LeasedWork::Charge => "charge",
            LeasedWork::Subscription => "subscription",
        }
    }
}

/// What became of one delivery of a subscription event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The webhook answered 2xx.
    Delivered,
    /// The webhook answered something else: retried later.
    Refused,
    /// The webhook could not be reached or timed out: retried later.
    Unreachable,
    /// No `WEBHOOK_URL`: written to the log.
    Logged,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Refused => "refused",
            DeliveryOutcome::Unreachable => "unreachable",
            DeliveryOutcome::Logged => "logged",
        }
    }
}

/// The per-client rate limits (`routes::rate_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// `POST /api/billing/issue`.
    Handoff,
    /// `GET /api/customer`.
    Customer,
    /// `GET /api/checkout`.
    Checkout,
}

impl RateLimit {
    fn as_str(self) -> &'static str {
        match self {
            RateLimit::Handoff => "handoff",
            RateLimit::Customer => "customer",
            RateLimit::Checkout => "checkout",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeCode {
    outcome: &'static str,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChargeLabels {
    kind: &'static str,
    outcome: &'static str,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TossLabels {
    api: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkLabel {
    work: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabel {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Scope {
    scope: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeWork {
    scope: &'static str,
    work: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeStatus {
    scope: &'static str,
    status: &'static str,
}

type Seconds = Gauge<f64, AtomicU64>;

fn toss_histogram() -> Histogram {
    // Toss answers in tens to hundreds of milliseconds; TOSS_TIMEOUT_MS is 10 s by default.
    Histogram::new([0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

/// What the shared database says, read for the gauges ([`Metrics::refresh_database`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabaseGauges {
    /// Pending exchanges, and the age of the oldest (ms; 0 without any).
    pub exchanges: (i64, i64),
    /// Charges not final (`PENDING`, `UNKNOWN`), and the age of the oldest (ms).
    pub charges: (i64, i64),
    /// How long the oldest due live subscription has waited (ms; 0 if none is due).
    pub scheduler_lag_ms: i64,
    /// Subscriptions per status.
    pub subscriptions: Vec<(Status, i64)>,
    /// Events not delivered yet, and the age of the oldest (ms).
    pub outbox: (i64, i64),
}

struct Inner {
    registry: Registry,
    handoffs: Family<OutcomeCode, Counter>,
    charges: Family<ChargeLabels, Counter>,
    refunds: Family<OutcomeCode, Counter>,
    toss: Family<TossLabels, Histogram, fn() -> Histogram>,
    leases_taken_over: Family<WorkLabel, Counter>,
    webhooks: Family<OutcomeLabel, Counter>,
    rate_limited: Family<LimitLabel, Counter>,
    refresh_failures: Counter,
    draining: Gauge,
    backlog: Family<ScopeWork, Gauge>,
    oldest_pending: Family<ScopeWork, Seconds>,
    scheduler_lag: Family<Scope, Seconds>,
    subscriptions: Family<ScopeStatus, Gauge>,
    outbox: Family<Scope, Gauge>,
    outbox_age: Family<Scope, Seconds>,
    refreshed: tokio::sync::Mutex<Option<Instant>>,
}

/// The server's metrics. Cheap to clone; every clone counts into the same registry.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// A code as a label value: Toss's codes and ours are `A-Z 0-9 _`; anything else (an unexpected
/// answer) is `OTHER`, so a label can never carry what a client or Toss sent verbatim, and the
/// series stay few.
fn code_label(code: Option<&str>) -> String {
    match code {
        None => String::new(),
        Some(c)
            if !c.is_empty()
                && c.len() <= 64
                && c.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
        {
            c.to_owned()
        }
        Some(_) => "OTHER".to_owned(),
    }
}

impl Metrics {
    /// A registry with every metric, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("billing");
        registry.register(
            "build",
            "The running version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let handoffs = Family::<OutcomeCode, Counter>::default();
        registry.register(
            "handoffs",
            "Runs of authKey exchanges by this instance, by outcome (registered, refused, expired: \
             final, once per exchange; retry_later: not final) and Toss code",
            handoffs.clone(),
        );
        let charges = Family::<ChargeLabels, Counter>::default();
        registry.register(
            "charges",
            "Runs of charges by this instance, by kind (subscription, operator), outcome \
             (approved, declined: final, once per charge; unclear: looked up later) and Toss code",
            charges.clone(),
        );
        let refunds = Family::<OutcomeCode, Counter>::default();
        registry.register(
            "refunds",
            "Runs of refunds by this instance, by outcome (refunded, refused: final; unclear) and \
             Toss code",
            refunds.clone(),
        );
        let toss = Family::<TossLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            toss_histogram,
        );
        registry.register_with_unit(
            "toss_request_duration",
            "Toss API calls made by this instance, by API (issue, charge, lookup, cancel, payment, \
             delete) and outcome",
            Unit::Seconds,
            toss.clone(),
        );
        let leases_taken_over = Family::<WorkLabel, Counter>::default();
        registry.register(
            "leases_taken_over",
            "Work this instance claimed whose previous lease had lapsed unreleased (its runner \
             crashed, stalled or lost the database), by work (exchange, charge, subscription)",
            leases_taken_over.clone(),
        );
        let webhooks = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Deliveries of subscription events by this instance, by outcome (delivered, refused, \
             unreachable, logged)",
            webhooks.clone(),
        );
        let rate_limited = Family::<LimitLabel, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests this instance refused with 429, by limit (handoff, customer, checkout)",
            rate_limited.clone(),
        );
        let refresh_failures = Counter::default();
        registry.register(
            "database_gauge_refresh_failures",
            "Scrapes whose database gauges could not be read (they keep their last values)",
            refresh_failures.clone(),
        );
        let draining = Gauge::default();
        registry.register(
            "draining",
            "1 once this instance is shutting down (readiness answers 503)",
            draining.clone(),
        );
        let backlog = Family::<ScopeWork, Gauge>::default();
        registry.register(
            "reconciler_backlog",
            "Exchanges and charges not final, from the shared database (scope=database: take \
             max across instances, never sum)",
            backlog.clone(),
        );
        let oldest_pending = Family::<ScopeWork, Seconds>::default();
        registry.register_with_unit(
            "reconciler_oldest_pending_age",
            "Age of the oldest exchange or charge not final, from the shared database",
            Unit::Seconds,
            oldest_pending.clone(),
        );
        let scheduler_lag = Family::<Scope, Seconds>::default();
        registry.register_with_unit(
            "scheduler_lag",
            "How long the oldest due live subscription has waited for the scheduler, from the \
             shared database",
            Unit::Seconds,
            scheduler_lag.clone(),
        );
        let subscriptions = Family::<ScopeStatus, Gauge>::default();
        registry.register(
            "subscriptions",
            "Subscriptions by status, from the shared database",
            subscriptions.clone(),
        );
        let outbox = Family::<Scope, Gauge>::default();
        registry.register(
            "outbox_undelivered",
            "Subscription events not delivered yet, from the shared database",
            outbox.clone(),
        );
        let outbox_age = Family::<Scope, Seconds>::default();
        registry.register_with_unit(
            "outbox_oldest_undelivered_age",
            "Age of the oldest subscription event not delivered yet, from the shared database",
            Unit::Seconds,
            outbox_age.clone(),
        );
        let metrics = Metrics(Arc::new(Inner {
            registry,
            handoffs,
            charges,
            refunds,
            toss,
            leases_taken_over,
            webhooks,
            rate_limited,
            refresh_failures,
            draining,
            backlog,
            oldest_pending,
            scheduler_lag,
            subscriptions,
            outbox,
            outbox_age,
            refreshed: tokio::sync::Mutex::new(None),
        }));
        // Every series that alerts read exists from the start (at zero), so that "absent" never
        // stands for "nothing happened".
        metrics.set_database(&DatabaseGauges::default());
        metrics
    }

    /// `billing_handoffs_total{outcome, code}`: one run of an exchange ended so.
    pub fn handoff_outcome(&self, outcome: HandoffOutcome, code: Option<&str>) {
        self.0
            .handoffs
            .get_or_create(&OutcomeCode {
                outcome: outcome.as_str(),
                code: code_label(code),
            })
            .inc();
    }

    /// `billing_charges_total{kind, outcome, code}`: one run of a charge ended so.
    pub fn charge_outcome(&self, kind: ChargeKind, outcome: ChargeOutcome, code: Option<&str>) {
        self.0
            .charges
            .get_or_create(&ChargeLabels {
                kind: match kind {
                    ChargeKind::Subscription => "subscription",
                    ChargeKind::Operator => "operator",
                },
                outcome: outcome.as_str(),
                code: code_label(code),
            })
            .inc();
    }

    /// `billing_refunds_total{outcome, code}`: one run of a refund ended so.
    pub fn refund_outcome(&self, outcome: RefundOutcome, code: Option<&str>) {
        self.0
            .refunds
            .get_or_create(&OutcomeCode {
                outcome: outcome.as_str(),
                code: code_label(code),
            })
            .inc();
    }

    /// `billing_toss_request_duration_seconds{api, outcome}`: one Toss call and how long it took.
    pub fn toss_call(&self, api: TossApi, outcome: TossCallOutcome, took: Duration) {
        self.0
            .toss
            .get_or_create(&TossLabels {
                api: api.as_str(),
                outcome: outcome.as_str(),
            })
            .observe(took.as_secs_f64());
    }

    /// `billing_leases_taken_over_total{work}`: this instance claimed a row whose lease had
    /// lapsed without being released.
    pub fn lease_taken_over(&self, work: LeasedWork) {
        self.0
            .leases_taken_over
            .get_or_create(&WorkLabel {
                work: work.as_str(),
            })
            .inc();
    }

    /// `billing_webhook_deliveries_total{outcome}`.
    pub fn webhook_delivery(&self, outcome: DeliveryOutcome) {
        self.0
            .webhooks
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// `billing_rate_limited_total{limit}`: a request refused with 429.
    pub fn rate_limited(&self, limit: RateLimit) {
        self.0
            .rate_limited
            .get_or_create(&LimitLabel {
                limit: limit.as_str(),
            })
            .inc();
    }

    /// `billing_draining`: this instance started shutting down.
    pub fn draining(&self) {
        self.0.draining.set(1);
    }

    /// Sets the database gauges.
    pub fn set_database(&self, g: &DatabaseGauges) {
        let i = &self.0;
        let seconds = |ms: i64| ms.max(0) as f64 / 1000.0;
        for (work, (count, age)) in [("exchange", g.exchanges), ("charge", g.charges)] {
            let labels = ScopeWork {
                scope: DATABASE,
                work,
            };
            i.backlog.get_or_create(&labels).set(count);
            i.oldest_pending.get_or_create(&labels).set(seconds(age));
        }
        let scope = Scope { scope: DATABASE };
        i.scheduler_lag
            .get_or_create(&scope)
            .set(seconds(g.scheduler_lag_ms));
        for status in Status::ALL {
            let n = g
                .subscriptions
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            i.subscriptions
                .get_or_create(&ScopeStatus {
                    scope: DATABASE,
                    status: status.as_str(),
                })
                .set(n);
        }
        i.outbox.get_or_create(&scope).set(g.outbox.0);
        i.outbox_age.get_or_create(&scope).set(seconds(g.outbox.1));
    }

    /// Reads the database gauges again unless they were read less than `min_interval` ago
    /// (concurrent scrapes share one read); a failed or slow read (2 s) keeps the last values and
    /// counts `billing_database_gauge_refresh_failures_total`.
    pub async fn refresh_database(&self, store: &Store, clock: &Clock, min_interval: Duration) {
        let mut refreshed = self.0.refreshed.lock().await;
        if refreshed.is_some_and(|at| at.elapsed() < min_interval) {
            return;
        }
        let read = tokio::time::timeout(
            Duration::from_secs(2),
            store.database_gauges(clock.now_ms()),
        )
        .await;
        match read {
            Ok(Ok(gauges)) => {
                self.set_database(&gauges);
                *refreshed = Some(Instant::now());
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the database gauges");
                self.0.refresh_failures.inc();
            }
            Err(_) => {
                tracing::warn!("reading the database gauges took longer than 2 s");
                self.0.refresh_failures.inc();
            }
        }
    }

    /// Every metric in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.0.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_bounded_labels() {
        assert_eq!(code_label(None), "");
        assert_eq!(
            code_label(Some("REJECT_CARD_PAYMENT")),
            "REJECT_CARD_PAYMENT"
        );
        assert_eq!(code_label(Some("HTTP_503")), "HTTP_503");
        assert_eq!(code_label(Some("test_sk_abc")), "OTHER");
        assert_eq!(code_label(Some("a\"b")), "OTHER");
    }

    #[test]
    fn names_and_labels() {
        let m = Metrics::new();
        m.charge_outcome(
            ChargeKind::Operator,
            ChargeOutcome::Declined,
            Some("REJECT_CARD_PAYMENT"),
        );
        m.toss_call(
            TossApi::Charge,
            TossCallOutcome::Refused,
            Duration::from_millis(30),
        );
        let text = m.encode();
        assert!(text.contains(
            r#"billing_charges_total{kind="operator",outcome="declined",code="REJECT_CARD_PAYMENT"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"billing_toss_request_duration_seconds_count{api="charge",outcome="refused"} 1"#
        ));
        assert!(text.contains(r#"billing_subscriptions{scope="database",status="PAST_DUE"} 0"#));
        assert!(text.contains(r#"billing_build_info{version=""#));
        assert!(text.ends_with("# EOF\n"));
    }
}
