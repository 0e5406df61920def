//! An offline simulator of the Toss billing APIs, as strict as Toss where it matters to
//! exactly-once: for the demo, the tests, and the benchmark.
//!
//! - `POST /v1/billing/authorizations/issue`, `POST /v1/billing/{billingKey}`,
//!   `GET /v1/payments/orders/{orderId}`, with the documented validation and error codes;
//! - its state (used authKeys, billing keys, payments, Idempotency-Key records) lives in its own
//!   SQLite file, so a restart or a SIGKILL forgets nothing;
//! - `Idempotency-Key`: a repeat gets the first answer; a repeat while the first is still being
//!   processed gets `409 IDEMPOTENT_REQUEST_PROCESSING`, like Toss (contract §9);
//! - `TossPayments-Test-Code: <CODE>` answers that error, as Toss's test API does; scripted rules
//!   (`script`, over HTTP at `/__control/rules`) add delays, 5xx, dropped connections and
//!   declines for chosen customers or orders. Injected answers are never kept for replays: they
//!   stand for what happened before Toss processed anything;
//! - it runs mounted in a host's router (billing-server's demo: `/__toss-sim`) or as its own
//!   process (the `toss-sim` binary, or `billing-server simulate`), so a test can kill the
//!   merchant's server and not Toss.
//!
//! See this crate's README for the endpoints, the test cards and the control API.

pub mod cards;
pub mod clock;
mod ids;
pub mod script;
pub mod serve;
mod state;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use crate::clock::{OffsetClock, TimeSource};
pub use crate::serve::DropConnection;
pub use cards::{sandbox_auth_key, Card};
pub use script::{Api, Rule, When};
use state::SimState;

/// What the simulator saw of one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// `issue`, `charge` or `lookup`.
    pub api: String,
    /// The Idempotency-Key, if sent.
    pub idempotency_key: Option<String>,
    /// The orderId (charges, lookups).
    pub order_id: Option<String>,
    /// The customerKey of the body.
    pub customer_key: Option<String>,
    /// The HTTP status answered (0: the connection was dropped).
    pub status: u16,
    /// `processed` (it did something), `replayed`, `in_progress` (409), `refused`, `faulted`,
    /// `dropped_before`, `dropped_after`, `found`, `not_found`.
    pub outcome: String,
}

struct Inner {
    state: SimState,
    rules: Mutex<Vec<Rule>>,
    clock: Arc<dyn TimeSource>,
}

/// The simulator. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Simulator(Arc<Inner>);

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Simulator")
    }
}

/// A Toss error answer.
type Answer = (u16, Value);

fn error(status: u16, code: &str, message: &str) -> Answer {
    (status, json!({ "code": code, "message": message }))
}

/// A plausible HTTP status for a documented error code (inferred where the docs are silent).
pub fn status_for_code(code: &str) -> u16 {
    match code {
        "UNAUTHORIZED_KEY" => 401,
        "FORBIDDEN_REQUEST"
        | "FORBIDDEN_CONSECUTIVE_REQUEST"
        | "REJECT_CARD_PAYMENT"
        | "REJECT_CARD_COMPANY"
        | "INVALID_STOPPED_CARD"
        | "NOT_SUPPORTED_METHOD"
        | "INVALID_CARD_LOST_OR_STOLEN" => 403,
        "NOT_FOUND" | "NOT_FOUND_PAYMENT" | "NOT_FOUND_BILLING" => 404,
        "IDEMPOTENT_REQUEST_PROCESSING" => 409,
        "FAILED_INTERNAL_SYSTEM_PROCESSING"
        | "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"
        | "FAILED_CARD_COMPANY_RESPONSE"
        | "UNKNOWN_PAYMENT_ERROR"
        | "FAILED_DB_PROCESSING"
        | "PROVIDER_ERROR" => 500,
        _ => 400,
    }
}

fn message_for_code(code: &str) -> &'static str {
    match code {
        "UNAUTHORIZED_KEY" => "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
        "INVALID_CARD_NUMBER" => "카드번호를 다시 확인해주세요.",
        "INVALID_CARD_EXPIRATION" => "카드 정보를 다시 확인해주세요. (유효기간)",
        "INVALID_STOPPED_CARD" => "정지된 카드 입니다.",
        "INVALID_CARD_LOST_OR_STOLEN" => "분실 혹은 도난 카드입니다.",
        "REJECT_CARD_COMPANY" => "결제 승인이 거절되었습니다.",
        "REJECT_CARD_PAYMENT" => "한도초과 혹은 잔액부족으로 결제에 실패했습니다.",
        "EXCEED_MAX_AUTH_COUNT" => "최대 인증 횟수를 초과했습니다. 카드사로 문의해주세요.",
        "NOT_SUPPORTED_METHOD" => "지원되지 않는 결제수단입니다.",
        "NOT_MATCHES_CUSTOMER_KEY" => "빌링 인증 고객키와 결제 요청 고객키가 일치하지 않습니다.",
        "DUPLICATED_ORDER_ID" => "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.",
        "BELOW_MINIMUM_AMOUNT" => "신용카드는 결제금액이 100원 이상이어야 합니다.",
        "INVALID_BILL_KEY_REQUEST" => "빌링키 인증이 완료되지 않았거나 유효하지 않은 빌링키입니다.",
        "NOT_FOUND_PAYMENT" => "존재하지 않는 결제 정보 입니다.",
        "IDEMPOTENT_REQUEST_PROCESSING" => {
            "이전 멱등 요청이 처리 중입니다. 잠시 후 다시 시도해주세요."
        }
        "INVALID_AUTH_KEY" => "이미 사용되었거나 유효하지 않은 authKey 입니다.",
        "FAILED_INTERNAL_SYSTEM_PROCESSING" => {
            "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요."
        }
        "FAILED_CARD_COMPANY_RESPONSE" => "카드사에서 오류가 발생했습니다.",
        "PROVIDER_ERROR" => "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
        _ => "요청을 처리할 수 없습니다. (simulated)",
    }
}

/// The error answer Toss gives for `code`.
pub fn coded(code: &str) -> Answer {
    error(status_for_code(code), code, message_for_code(code))
}

fn invalid(field: &str) -> Answer {
    error(
        400,
        "INVALID_REQUEST",
        &format!("잘못된 요청입니다. ({field})"),
    )
}

/// The secret key of `Authorization: Basic base64(secretKey + ":")`.
fn check_auth(headers: &HeaderMap) -> Result<String, Answer> {
    use base64::Engine;
    let unauthorized = || coded("UNAUTHORIZED_KEY");
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(unauthorized)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| unauthorized())?;
    let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
    let key = text.strip_suffix(':').ok_or_else(unauthorized)?;
    let ok = (key.starts_with("test_sk_") || key.starts_with("live_sk_"))
        && key.len() > 8
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(unauthorized());
    }
    Ok(key.to_owned())
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Answer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(error(
            400,
            "INVALID_REQUEST",
            "잘못된 요청입니다. (JSON object expected)",
        )),
    }
}

/// What a call asks for, once its envelope passed.
pub(crate) enum Request {
    Issue {
        body: Map<String, Value>,
    },
    Charge {
        billing_key: String,
        body: Map<String, Value>,
    },
    Lookup {
        order_id: String,
    },
}

impl Request {
    fn api(&self) -> Api {
        match self {
            Request::Issue { .. } => Api::Issue,
            Request::Charge { .. } => Api::Charge,
            Request::Lookup { .. } => Api::Lookup,
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Request::Issue { .. } => "issue",
            Request::Charge { .. } => "charge",
            Request::Lookup { .. } => "lookup",
        }
    }
    fn text(&self, field: &str) -> Option<String> {
        match self {
            Request::Issue { body } | Request::Charge { body, .. } => {
                body.get(field).and_then(Value::as_str).map(str::to_owned)
            }
            Request::Lookup { order_id } if field == "orderId" => Some(order_id.clone()),
            Request::Lookup { .. } => None,
        }
    }
    /// The path Toss's idempotency is scoped to.
    fn path(&self) -> String {
        match self {
            Request::Issue { .. } => "POST /v1/billing/authorizations/issue".into(),
            Request::Charge { billing_key, .. } => format!("POST /v1/billing/{billing_key}"),
            Request::Lookup { order_id } => format!("GET /v1/payments/orders/{order_id}"),
        }
    }
}

/// Counts of what the simulator holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Billing keys minted.
    pub billing_keys: i64,
    /// Payments approved (`DONE`).
    pub payments_done: i64,
    /// Charges declined.
    pub payments_declined: i64,
    /// Calls seen, by API and outcome.
    pub calls: Vec<(String, String, i64)>,
}

impl Simulator {
    /// Opens (creating) the simulator's SQLite file. Calls that were being processed when a
    /// previous run died are forgotten: their effects were never committed.
    pub async fn open(
        path: &std::path::Path,
        clock: impl TimeSource,
    ) -> Result<Simulator, sqlx::Error> {
        Ok(Simulator(Arc::new(Inner {
            state: SimState::open(path).await?,
            rules: Mutex::new(Vec::new()),
            clock: Arc::new(clock),
        })))
    }

    /// The Toss API routes and the control routes, to nest under a prefix or serve alone.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/billing/authorizations/issue", post(issue_handler))
            .route("/v1/billing/{billing_key}", post(charge_handler))
            .route("/v1/payments/orders/{order_id}", get(lookup_handler))
            .route(
                "/__control/rules",
                post(add_rule_handler)
                    .delete(clear_rules_handler)
                    .get(list_rules_handler),
            )
            .route("/__control/calls", get(calls_handler))
            .route("/__control/stats", get(stats_handler))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"code": "NOT_FOUND", "message": "simulated API: no such path"})),
                )
            })
            .with_state(self.clone())
    }

    /// Adds a scripted rule.
    pub fn add_rule(&self, rule: Rule) {
        self.0
            .rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(rule);
    }

    /// Removes every rule.
    pub fn clear_rules(&self) {
        self.0
            .rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Every call seen (persisted: survives restarts).
    pub async fn calls(&self) -> Result<Vec<CallRecord>, sqlx::Error> {
        self.0.state.calls(None).await
    }

    /// Calls to one API (`issue`, `charge`, `lookup`).
    pub async fn calls_to(&self, api: &str) -> Result<Vec<CallRecord>, sqlx::Error> {
        self.0.state.calls(Some(api)).await
    }

    /// Counts of what the simulator holds.
    pub async fn stats(&self) -> Result<Stats, sqlx::Error> {
        self.0.state.stats().await
    }

    /// Every billing key minted (tests: none of them may appear in billing-server's files).
    pub async fn minted_billing_keys(&self) -> Result<Vec<String>, sqlx::Error> {
        self.0.state.billing_keys().await
    }

    fn today(&self) -> (i32, u8) {
        let now = clock::kst(self.0.clock.now_ms());
        (now.year(), u8::from(now.month()))
    }

    /// One call, from the envelope to the answer; runs on its own task, so a caller that gives up
    /// does not cancel it (like the real API, the work goes on and the answer is kept).
    async fn handle(self, headers: HeaderMap, request: Result<Request, Answer>) -> Response {
        let name = request.as_ref().map(Request::name).unwrap_or("unknown");
        let idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let record = |status: u16, outcome: &str, request: Option<&Request>| CallRecord {
            api: name.to_owned(),
            idempotency_key: idempotency_key.clone(),
            order_id: request.and_then(|r| r.text("orderId")),
            customer_key: request.and_then(|r| r.text("customerKey")),
            status,
            outcome: outcome.to_owned(),
        };
        let secret = match check_auth(&headers) {
            Ok(secret) => secret,
            Err(answer) => return self.answer(record(answer.0, "refused", None), answer).await,
        };
        let request = match request {
            Ok(request) => request,
            Err(answer) => return self.answer(record(answer.0, "refused", None), answer).await,
        };
        let customer_key = request.text("customerKey");
        let order_id = request.text("orderId");
        let mut effect = {
            let mut rules = self.0.rules.lock().unwrap_or_else(|p| p.into_inner());
            script::apply(
                &mut rules,
                &script::CallFacts {
                    api: request.api(),
                    customer_key: customer_key.as_deref(),
                    order_id: order_id.as_deref(),
                },
            )
        };
        if let Some(code) = headers
            .get("tosspayments-test-code")
            .and_then(|v| v.to_str().ok())
            .filter(|c| !c.is_empty())
        {
            effect.code = Some(code.to_owned());
        }
        if effect.drop == Some(When::Before) {
            self.0
                .state
                .record_call(&record(0, "dropped_before", Some(&request)))
                .await
                .ok();
            return dropped();
        }
        if let Some(status) = effect.status {
            let answer = if status == 429 {
                error(
                    429,
                    "TOO_MANY_REQUESTS",
                    "요청이 너무 많습니다. (simulated)",
                )
            } else if status >= 500 {
                coded("FAILED_INTERNAL_SYSTEM_PROCESSING").with_status(status)
            } else {
                error(status, "INVALID_REQUEST", "simulated failure")
            };
            return self
                .answer(record(answer.0, "faulted", Some(&request)), answer)
                .await;
        }
        if let Some(key) = &idempotency_key {
            if key.is_empty() || key.len() > 300 {
                let answer = invalid("Idempotency-Key");
                return self
                    .answer(record(answer.0, "refused", Some(&request)), answer)
                    .await;
            }
        }
        let scope = format!(
            "{}|{}",
            crate::ids::sha256_hex(secret.as_bytes()),
            request.path()
        );
        if let Some(key) = &idempotency_key {
            match self
                .0
                .state
                .begin_idempotent(&scope, key, self.0.clock.now_ms())
                .await
            {
                Ok(state::Begun::First) => {}
                Ok(state::Begun::InProgress) => {
                    let answer = coded("IDEMPOTENT_REQUEST_PROCESSING");
                    return self
                        .answer(record(409, "in_progress", Some(&request)), answer)
                        .await;
                }
                Ok(state::Begun::Replay(answer)) => {
                    return self
                        .answer(record(answer.0, "replayed", Some(&request)), answer)
                        .await;
                }
                Err(e) => return self.storage_failed(e),
            }
        }
        if let Some(delay) = effect.delay {
            tokio::time::sleep(delay).await;
        }
        let processed = match &effect.code {
            // A scripted or test-code answer is a failure injected before Toss does anything: it is
            // not kept for replays (the next call with the same key is processed for real).
            Some(code) => {
                if let Some(key) = &idempotency_key {
                    if let Err(e) = self.0.state.abandon_idempotent(&scope, key).await {
                        return self.storage_failed(e);
                    }
                }
                Ok(coded(code))
            }
            None => {
                self.process(&secret, &scope, idempotency_key.as_deref(), &request)
                    .await
            }
        };
        let answer = match processed {
            Ok((200, mut body))
                if effect.omit_card_fields && matches!(request, Request::Issue { .. }) =>
            {
                if let Value::Object(fields) = &mut body {
                    for name in ["card", "cardCompany", "cardNumber"] {
                        fields.remove(name);
                    }
                }
                let answer = (200, body);
                if let Err(e) = self
                    .0
                    .state
                    .store_answer(&scope, idempotency_key.as_deref(), &answer)
                    .await
                {
                    return self.storage_failed(e);
                }
                answer
            }
            Ok(answer) => answer,
            Err(e) => {
                if let Some(key) = &idempotency_key {
                    self.0.state.abandon_idempotent(&scope, key).await.ok();
                }
                return self.storage_failed(e);
            }
        };
        let outcome = match (&request, answer.0) {
            (Request::Lookup { .. }, 200) => "found",
            (Request::Lookup { .. }, _) => "not_found",
            (_, 200) => "processed",
            _ if effect.code.is_some() => "scripted",
            _ => "refused",
        };
        if let Some(delay) = effect.delay_after {
            tokio::time::sleep(delay).await;
        }
        if effect.drop == Some(When::After) {
            self.0
                .state
                .record_call(&record(0, "dropped_after", Some(&request)))
                .await
                .ok();
            return dropped();
        }
        self.answer(record(answer.0, outcome, Some(&request)), answer)
            .await
    }

    async fn process(
        &self,
        secret: &str,
        scope: &str,
        idempotency_key: Option<&str>,
        request: &Request,
    ) -> Result<Answer, sqlx::Error> {
        let now = self.0.clock.now_ms();
        match request {
            Request::Issue { body } => {
                self.0
                    .state
                    .issue(body, scope, idempotency_key, now, self.today())
                    .await
            }
            Request::Charge { billing_key, body } => {
                self.0
                    .state
                    .charge(secret, billing_key, body, scope, idempotency_key, now)
                    .await
            }
            Request::Lookup { order_id } => self.0.state.lookup(secret, order_id).await,
        }
    }

    fn storage_failed(&self, e: sqlx::Error) -> Response {
        tracing::error!(error = %e, "simulator storage failed");
        let (status, body) = coded("FAILED_DB_PROCESSING");
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        )
            .into_response()
    }

    async fn answer(&self, call: CallRecord, (status, body): Answer) -> Response {
        if let Err(e) = self.0.state.record_call(&call).await {
            tracing::warn!(error = %e, "simulator could not record a call");
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(body)).into_response()
    }

    /// Serves the simulator alone on `listener` until `stop` (the `simulate` command, tests).
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        stop: tokio_util::sync::CancellationToken,
    ) {
        serve::serve(listener, self.router(), stop).await;
    }
}

trait WithStatus {
    fn with_status(self, status: u16) -> Self;
}

impl WithStatus for Answer {
    fn with_status(self, status: u16) -> Self {
        (status, self.1)
    }
}

fn dropped() -> Response {
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(DropConnection);
    response
}

/// Runs the call on its own task: a client that gives up does not cancel it.
async fn detached(
    sim: Simulator,
    headers: HeaderMap,
    request: Result<Request, Answer>,
) -> Response {
    tokio::spawn(sim.handle(headers, request))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn issue_handler(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let request = parse_object(&body).map(|body| Request::Issue { body });
    detached(sim, headers, request).await
}

async fn charge_handler(
    State(sim): State<Simulator>,
    Path(billing_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_object(&body).map(|body| Request::Charge { billing_key, body });
    detached(sim, headers, request).await
}

async fn lookup_handler(
    State(sim): State<Simulator>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    detached(sim, headers, Ok(Request::Lookup { order_id })).await
}

async fn add_rule_handler(State(sim): State<Simulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<Rule>(&body) {
        Ok(rule) if !rule.is_empty() => {
            sim.add_rule(rule);
            (StatusCode::CREATED, Json(json!({ "ok": true }))).into_response()
        }
        Ok(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "INVALID_REQUEST", "message": "a rule needs code, status, delayMs, delayAfterMs, drop or omitCardFields"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "INVALID_REQUEST", "message": e.to_string()})),
        )
            .into_response(),
    }
}

async fn clear_rules_handler(State(sim): State<Simulator>) -> Response {
    sim.clear_rules();
    Json(json!({ "ok": true })).into_response()
}

async fn list_rules_handler(State(sim): State<Simulator>) -> Response {
    let rules = sim
        .0
        .rules
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Json(json!({ "rules": rules })).into_response()
}

#[derive(Deserialize)]
struct CallsQuery {
    api: Option<String>,
}

async fn calls_handler(State(sim): State<Simulator>, Query(q): Query<CallsQuery>) -> Response {
    match sim.0.state.calls(q.api.as_deref()).await {
        Ok(calls) => Json(json!({ "calls": calls })).into_response(),
        Err(e) => sim.storage_failed(e),
    }
}

async fn stats_handler(State(sim): State<Simulator>) -> Response {
    match sim.stats().await {
        Ok(stats) => Json(stats).into_response(),
        Err(e) => sim.storage_failed(e),
    }
}

/// The standalone simulator, configured from the environment: `PORT` (default 8090; `0` for any
/// free port), `BIND_ADDRESS` (default 127.0.0.1), `SIMULATOR_DATABASE` (default
/// `data/simulator.sqlite`), `CLOCK_OFFSET_MS` (default 0). Prints
/// `toss simulator listening on http://ADDR` on stdout once it accepts calls, and serves until
/// SIGTERM or Ctrl-C. Both the `toss-sim` binary and `billing-server simulate` run this.
pub async fn run_from_env() -> Result<(), String> {
    fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
        match std::env::var(name) {
            Ok(raw) => raw
                .trim()
                .parse()
                .map_err(|_| format!("{name} is not valid: {raw:?}")),
            Err(_) => Ok(default),
        }
    }
    let port: u16 = var("PORT", 8090)?;
    let bind: std::net::IpAddr = var("BIND_ADDRESS", std::net::IpAddr::from([127, 0, 0, 1]))?;
    let path = std::path::PathBuf::from(var(
        "SIMULATOR_DATABASE",
        "data/simulator.sqlite".to_owned(),
    )?);
    let offset: i64 = var("CLOCK_OFFSET_MS", 0)?;
    let simulator = Simulator::open(&path, OffsetClock::new(offset))
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let listener = tokio::net::TcpListener::bind((bind, port))
        .await
        .map_err(|e| format!("cannot listen on {bind}:{port}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {bind}:{port}: {e}"))?;
    let stop_requested = serve::shutdown_signal();
    println!("toss simulator listening on http://{addr}");
    let stop = tokio_util::sync::CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        stop_requested.await;
        stopper.cancel();
    });
    simulator.serve(listener, stop).await;
    Ok(())
}
