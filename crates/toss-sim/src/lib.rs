//! An offline simulator of the Toss billing APIs, as strict as Toss where it matters to
//! exactly-once: for the demo, the tests, and the benchmark.
//!
//! - `POST /v1/billing/authorizations/issue`, `POST /v1/billing/{billingKey}`,
//!   `DELETE /v1/billing/{billingKey}`, `GET /v1/payments/orders/{orderId}`,
//!   `GET /v1/payments/{paymentKey}` and `POST /v1/payments/{paymentKey}/cancel` (refunds, whole
//!   or partial), with the documented validation and error codes;
//! - its state (used authKeys, billing keys, payments and their cancels, Idempotency-Key records,
//!   the webhook outbox) lives in its own SQLite file, so a restart or a SIGKILL forgets nothing;
//! - it sends the webhooks Toss sends (`PAYMENT_STATUS_CHANGED` after a cancel, `BILLING_DELETED`
//!   after a deletion) to the endpoint registered at `/__control/webhook`, with Toss's headers and
//!   retry schedule (`webhooks`, `delivery`); console actions (`/__control/console/…`) cancel or
//!   delete as a merchant would in Toss's console;
//! - every Payment's `receipt.url` is a small HTML sales slip it serves itself (`receipt`);
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

mod cancel;
pub mod cards;
pub mod clock;
mod control;
mod delivery;
mod fields;
mod ids;
mod receipt;
pub mod script;
pub mod serve;
mod state;
pub mod webhooks;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use crate::clock::{OffsetClock, TimeSource};
pub use crate::serve::DropConnection;
pub use cards::{sandbox_auth_key, Card};
pub use script::{Api, Rule, When};
use state::{Merchant, Replays, SimState};
pub use webhooks::{Delivery, OutboxEvent, Registration};

/// What the simulator saw of one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// `issue`, `charge`, `lookup` (by orderId), `payment` (by paymentKey), `cancel` or `delete`.
    pub api: String,
    /// The Idempotency-Key, if sent.
    pub idempotency_key: Option<String>,
    /// The orderId (charges, lookups; for calls by paymentKey, the payment's).
    pub order_id: Option<String>,
    /// The customerKey of the body (for cancels and lookups by paymentKey, the payment's; for
    /// deletions, the billing key's).
    pub customer_key: Option<String>,
    /// The paymentKey of a cancel or a lookup by paymentKey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_key: Option<String>,
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
    /// Wakes the delivery task when an event is queued.
    outbox_wake: Arc<Notify>,
    /// Stops the delivery task when the simulator goes away.
    stop: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
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
        | "INVALID_CARD_LOST_OR_STOLEN"
        | "NOT_CANCELABLE_AMOUNT"
        | "NOT_CANCELABLE_PAYMENT"
        | "NOT_ALLOWED_PARTIAL_REFUND" => 403,
        "NOT_FOUND" | "NOT_FOUND_PAYMENT" | "NOT_FOUND_BILLING" => 404,
        "IDEMPOTENT_REQUEST_PROCESSING" => 409,
        "FAILED_INTERNAL_SYSTEM_PROCESSING"
        | "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"
        | "FAILED_CARD_COMPANY_RESPONSE"
        | "UNKNOWN_PAYMENT_ERROR"
        | "FAILED_DB_PROCESSING"
        | "PROVIDER_ERROR"
        | "FAILED_REFUND_PROCESS"
        | "FAILED_PARTIAL_REFUND"
        | "COMMON_ERROR" => 500,
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
        "PROVIDER_ERROR" | "COMMON_ERROR" => {
            "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요."
        }
        "ALREADY_CANCELED_PAYMENT" => "이미 취소된 결제 입니다.",
        "NOT_CANCELABLE_AMOUNT" => "취소 할 수 없는 금액 입니다.",
        "NOT_CANCELABLE_PAYMENT" => "취소 할 수 없는 결제 입니다.",
        "FORBIDDEN_CONSECUTIVE_REQUEST" => {
            "반복적인 요청은 허용되지 않습니다. 잠시 후 다시 시도해주세요."
        }
        "NOT_ALLOWED_PARTIAL_REFUND" => {
            "부분 취소가 불가능한 결제입니다. 전액 취소만 할 수 있습니다."
        }
        "FAILED_REFUND_PROCESS" => "환불 요청에 실패했습니다. 잠시 후 다시 시도해주세요.",
        "FAILED_PARTIAL_REFUND" => "부분 환불에 실패했습니다.",
        "REFUND_REJECTED" => "환불이 거절되었습니다.",
        "ALREADY_REFUND_PAYMENT" => "이미 환불된 결제입니다.",
        "NOT_MATCHES_REFUNDABLE_AMOUNT" => "잔액 결과가 일치하지 않습니다.",
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
        /// Where this simulator's receipt pages are, as the caller reached it.
        receipt_base: Option<String>,
    },
    Lookup {
        order_id: String,
    },
    Payment {
        payment_key: String,
    },
    Cancel {
        payment_key: String,
        body: Map<String, Value>,
    },
    Delete {
        billing_key: String,
    },
}

impl Request {
    fn api(&self) -> Api {
        match self {
            Request::Issue { .. } => Api::Issue,
            Request::Charge { .. } => Api::Charge,
            Request::Lookup { .. } => Api::Lookup,
            Request::Payment { .. } => Api::Payment,
            Request::Cancel { .. } => Api::Cancel,
            Request::Delete { .. } => Api::Delete,
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Request::Issue { .. } => "issue",
            Request::Charge { .. } => "charge",
            Request::Lookup { .. } => "lookup",
            Request::Payment { .. } => "payment",
            Request::Cancel { .. } => "cancel",
            Request::Delete { .. } => "delete",
        }
    }
    /// Whether it only reads: a lookup is idempotent by nature, so its Idempotency-Key is not
    /// kept (inferred: Toss documents the key for requests that change something).
    fn reads_only(&self) -> bool {
        matches!(self, Request::Lookup { .. } | Request::Payment { .. })
    }
    /// The path Toss's idempotency is scoped to.
    fn path(&self) -> String {
        match self {
            Request::Issue { .. } => "POST /v1/billing/authorizations/issue".into(),
            Request::Charge { billing_key, .. } => format!("POST /v1/billing/{billing_key}"),
            Request::Lookup { order_id } => format!("GET /v1/payments/orders/{order_id}"),
            Request::Payment { payment_key } => format!("GET /v1/payments/{payment_key}"),
            Request::Cancel { payment_key, .. } => {
                format!("POST /v1/payments/{payment_key}/cancel")
            }
            Request::Delete { billing_key } => format!("DELETE /v1/billing/{billing_key}"),
        }
    }
}

/// What a call is about, for scripted rules and the call log: from its body, or (for calls that
/// name a payment or a billing key) from what the simulator stored about it.
#[derive(Debug, Clone, Default)]
struct Facts {
    customer_key: Option<String>,
    order_id: Option<String>,
    payment_key: Option<String>,
}

/// Counts of what the simulator holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Billing keys minted.
    pub billing_keys: i64,
    /// Billing keys deleted since.
    pub billing_keys_deleted: i64,
    /// Payments approved (`DONE`, including those cancelled since).
    pub payments_done: i64,
    /// Charges declined (`ABORTED`).
    pub payments_declined: i64,
    /// Payments cancelled in part (`PARTIAL_CANCELED`).
    pub payments_partial_canceled: i64,
    /// Payments cancelled whole (`CANCELED`).
    pub payments_canceled: i64,
    /// Cancels processed (API and console).
    pub cancels: i64,
    /// Their total amount.
    pub refunded_amount: i64,
    /// Calls seen, by API and outcome.
    pub calls: Vec<(String, String, i64)>,
}

impl Simulator {
    /// Opens (creating) the simulator's SQLite file and starts its webhook delivery task (which
    /// ends with the last handle). Calls that were being processed when a previous run died are
    /// forgotten: their effects were never committed. Webhooks still due are delivered.
    pub async fn open(
        path: &std::path::Path,
        clock: impl TimeSource,
    ) -> Result<Simulator, sqlx::Error> {
        let inner = Arc::new(Inner {
            state: SimState::open(path).await?,
            rules: Mutex::new(Vec::new()),
            clock: Arc::new(clock),
            outbox_wake: Arc::new(Notify::new()),
            stop: CancellationToken::new(),
        });
        delivery::spawn(&inner);
        Ok(Simulator(inner))
    }

    /// The Toss API routes, the receipt pages and the control routes, to nest under a prefix or
    /// serve alone.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/billing/authorizations/issue", post(issue_handler))
            .route(
                "/v1/billing/{billing_key}",
                post(charge_handler).delete(delete_handler),
            )
            .route("/v1/payments/orders/{order_id}", get(lookup_handler))
            .route("/v1/payments/{payment_key}", get(payment_handler))
            .route("/v1/payments/{payment_key}/cancel", post(cancel_handler))
            .route("/receipts/{payment_key}", get(receipt_handler))
            .merge(control::router())
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

    /// The rules in force.
    pub fn rules(&self) -> Vec<Rule> {
        self.0
            .rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every call seen (persisted: survives restarts).
    pub async fn calls(&self) -> Result<Vec<CallRecord>, sqlx::Error> {
        self.0.state.calls(None).await
    }

    /// Calls to one API (`issue`, `charge`, `lookup`, `payment`, `cancel`, `delete`).
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

    /// Registers the merchant's webhook endpoint (what `PUT /__control/webhook` does), after
    /// [`Registration::check`].
    pub async fn set_webhook(&self, registration: &Registration) -> Result<(), sqlx::Error> {
        self.0.state.set_webhook(registration).await
    }

    /// Every webhook delivery attempt, oldest first.
    pub async fn webhook_deliveries(&self) -> Result<Vec<Delivery>, sqlx::Error> {
        self.0.state.deliveries().await
    }

    /// Every webhook event queued, oldest first.
    pub async fn webhook_events(&self) -> Result<Vec<OutboxEvent>, sqlx::Error> {
        self.0.state.outbox_events().await
    }

    fn today(&self) -> (i32, u8) {
        let now = clock::kst(self.0.clock.now_ms());
        (now.year(), u8::from(now.month()))
    }

    fn now_ms(&self) -> i64 {
        self.0.clock.now_ms()
    }

    /// Tells the delivery task an event was queued.
    fn wake_outbox(&self) {
        self.0.outbox_wake.notify_one();
    }

    /// What the call is about, for rules and the call log.
    async fn facts(&self, merchant: &str, request: &Request) -> Result<Facts, sqlx::Error> {
        let body_text = |body: &Map<String, Value>, field: &str| {
            body.get(field).and_then(Value::as_str).map(str::to_owned)
        };
        Ok(match request {
            Request::Issue { body } | Request::Charge { body, .. } => Facts {
                customer_key: body_text(body, "customerKey"),
                order_id: body_text(body, "orderId"),
                payment_key: None,
            },
            Request::Lookup { order_id } => Facts {
                order_id: Some(order_id.clone()),
                ..Facts::default()
            },
            Request::Payment { payment_key } | Request::Cancel { payment_key, .. } => {
                let known = self
                    .0
                    .state
                    .payment_facts(Merchant::Secret(merchant), payment_key)
                    .await?;
                Facts {
                    customer_key: known.customer_key,
                    order_id: known.order_id,
                    payment_key: Some(payment_key.clone()),
                }
            }
            Request::Delete { billing_key } => Facts {
                customer_key: self.0.state.billing_key_owner(billing_key).await?,
                ..Facts::default()
            },
        })
    }

    /// One call, from the envelope to the answer; runs on its own task, so a caller that gives up
    /// does not cancel it (like the real API, the work goes on and the answer is kept).
    async fn handle(self, headers: HeaderMap, request: Result<Request, Answer>) -> Response {
        let name = request.as_ref().map(Request::name).unwrap_or("unknown");
        let idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let record = |status: u16, outcome: &str, facts: &Facts| CallRecord {
            api: name.to_owned(),
            idempotency_key: idempotency_key.clone(),
            order_id: facts.order_id.clone(),
            customer_key: facts.customer_key.clone(),
            payment_key: facts.payment_key.clone(),
            status,
            outcome: outcome.to_owned(),
        };
        let unknown = Facts::default();
        let secret = match check_auth(&headers) {
            Ok(secret) => secret,
            Err(answer) => {
                return self
                    .answer(record(answer.0, "refused", &unknown), answer)
                    .await
            }
        };
        let request = match request {
            Ok(request) => request,
            Err(answer) => {
                return self
                    .answer(record(answer.0, "refused", &unknown), answer)
                    .await
            }
        };
        let merchant = crate::ids::sha256_hex(secret.as_bytes());
        let facts = match self.facts(&merchant, &request).await {
            Ok(facts) => facts,
            Err(e) => return self.storage_failed(e),
        };
        let mut effect = {
            let mut rules = self.0.rules.lock().unwrap_or_else(|p| p.into_inner());
            script::apply(
                &mut rules,
                &script::CallFacts {
                    api: request.api(),
                    customer_key: facts.customer_key.as_deref(),
                    order_id: facts.order_id.as_deref(),
                    payment_key: facts.payment_key.as_deref(),
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
                .record_call(&record(0, "dropped_before", &facts))
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
                .answer(record(answer.0, "faulted", &facts), answer)
                .await;
        }
        if let Some(key) = &idempotency_key {
            if key.is_empty() || key.len() > 300 {
                let answer = invalid("Idempotency-Key");
                return self
                    .answer(record(answer.0, "refused", &facts), answer)
                    .await;
            }
        }
        let kept_key = idempotency_key.as_deref().filter(|_| !request.reads_only());
        let scope = format!("{merchant}|{}", request.path());
        if let Some(key) = kept_key {
            match self
                .0
                .state
                .begin_idempotent(&scope, key, self.now_ms())
                .await
            {
                Ok(state::Begun::First) => {}
                Ok(state::Begun::InProgress) => {
                    let answer = coded("IDEMPOTENT_REQUEST_PROCESSING");
                    return self
                        .answer(record(409, "in_progress", &facts), answer)
                        .await;
                }
                Ok(state::Begun::Replay(answer)) => {
                    return self
                        .answer(record(answer.0, "replayed", &facts), answer)
                        .await;
                }
                Err(e) => return self.storage_failed(e),
            }
        }
        if let Some(delay) = effect.delay {
            tokio::time::sleep(delay).await;
        }
        let replays = Replays {
            scope: &scope,
            key: kept_key,
        };
        let processed = match &effect.code {
            // A scripted or test-code answer is a failure injected before Toss does anything: it is
            // not kept for replays (the next call with the same key is processed for real).
            Some(code) => {
                if let Some(key) = kept_key {
                    if let Err(e) = self.0.state.abandon_idempotent(&scope, key).await {
                        return self.storage_failed(e);
                    }
                }
                Ok(coded(code))
            }
            None => self.process(&secret, &merchant, replays, &request).await,
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
                if let Err(e) = self.0.state.store_answer(&scope, kept_key, &answer).await {
                    return self.storage_failed(e);
                }
                answer
            }
            Ok(answer) => answer,
            Err(e) => {
                if let Some(key) = kept_key {
                    self.0.state.abandon_idempotent(&scope, key).await.ok();
                }
                return self.storage_failed(e);
            }
        };
        if answer.0 == 200 && matches!(request, Request::Cancel { .. } | Request::Delete { .. }) {
            self.wake_outbox();
        }
        let outcome = match (&request, answer.0) {
            (Request::Lookup { .. } | Request::Payment { .. }, 200) => "found",
            (Request::Lookup { .. } | Request::Payment { .. }, _) => "not_found",
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
                .record_call(&record(0, "dropped_after", &facts))
                .await
                .ok();
            return dropped();
        }
        self.answer(record(answer.0, outcome, &facts), answer).await
    }

    async fn process(
        &self,
        secret: &str,
        merchant: &str,
        replays: Replays<'_>,
        request: &Request,
    ) -> Result<Answer, sqlx::Error> {
        let now = self.now_ms();
        let state = &self.0.state;
        match request {
            Request::Issue { body } => state.issue(body, replays, now, self.today()).await,
            Request::Charge {
                billing_key,
                body,
                receipt_base,
            } => {
                let receipt_base = receipt_base.as_deref();
                state
                    .charge(secret, billing_key, body, replays, now, receipt_base)
                    .await
            }
            Request::Lookup { order_id } => state.lookup(secret, order_id).await,
            Request::Payment { payment_key } => {
                state
                    .payment_by_key(Merchant::Secret(merchant), payment_key)
                    .await
            }
            Request::Cancel { payment_key, body } => {
                state
                    .cancel(
                        Merchant::Secret(merchant),
                        payment_key,
                        body,
                        Some(replays),
                        now,
                    )
                    .await
            }
            Request::Delete { billing_key } => {
                state
                    .delete_billing_key(billing_key, webhooks::DELETED_BY_API, Some(replays), now)
                    .await
            }
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
        answer_response((status, body))
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

/// An answer as an HTTP response.
fn answer_response((status, body): Answer) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
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
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let receipt_base = receipt::receipt_base(&headers, original.path(), uri.path());
    let request = parse_object(&body).map(|body| Request::Charge {
        billing_key,
        body,
        receipt_base,
    });
    detached(sim, headers, request).await
}

async fn delete_handler(
    State(sim): State<Simulator>,
    Path(billing_key): Path<String>,
    headers: HeaderMap,
) -> Response {
    detached(sim, headers, Ok(Request::Delete { billing_key })).await
}

async fn lookup_handler(
    State(sim): State<Simulator>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    detached(sim, headers, Ok(Request::Lookup { order_id })).await
}

async fn payment_handler(
    State(sim): State<Simulator>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
) -> Response {
    detached(sim, headers, Ok(Request::Payment { payment_key })).await
}

async fn cancel_handler(
    State(sim): State<Simulator>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_object(&body).map(|body| Request::Cancel { payment_key, body });
    detached(sim, headers, request).await
}

/// The customer's sales slip: no secret key, like Toss's receipt links (the paymentKey is random).
async fn receipt_handler(
    State(sim): State<Simulator>,
    Path(payment_key): Path<String>,
) -> Response {
    match sim
        .0
        .state
        .payment_body(Merchant::Console, &payment_key)
        .await
    {
        Ok(Some(payment)) => Html(receipt::render(&payment)).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Html(receipt::not_found())).into_response(),
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
