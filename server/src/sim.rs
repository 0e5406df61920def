//! An offline simulator of the two Toss billing APIs, for the demo and for tests.
//!
//! Mounted at `/__toss-sim` on the server by default, or started on its own listener with
//! [`Simulator::serve`]. It validates requests like the documented API, keeps one-time authKeys,
//! billing keys, orderIds and `Idempotency-Key` replays in memory, honours the
//! `TossPayments-Test-Code` header, and decodes the sandbox's `sbx.` authKeys (see
//! docs/handoff-contract.md §3 and server/README.md for the test cards).
//!
//! Tests can also steer it from Rust through a [`Fault`] queue (never reachable over HTTP).

use crate::util;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted misbehaviour, consumed by the next call (of either API).
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status (e.g. 503) with a `FAILED_INTERNAL_SYSTEM_PROCESSING` body, doing nothing.
    Status(u16),
    /// Wait this long, then process the call normally (the caller may have given up by then).
    Delay(Duration),
    /// Behave as if `TossPayments-Test-Code: <code>` had been sent.
    Code(String),
}

/// What the simulator saw of one call.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// `issue` or `charge`.
    pub api: &'static str,
    pub idempotency_key: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone)]
struct Card {
    issuer_code: &'static str,
    company: &'static str,
    number: String,
    card_type: &'static str,
    owner_type: &'static str,
    reject_payments: bool,
}

#[derive(Debug, Clone)]
struct BillingKeyRecord {
    customer_key: String,
    card: Card,
}

#[derive(Default)]
struct SimState {
    used_auth_keys: HashSet<String>,
    billing_keys: HashMap<String, BillingKeyRecord>,
    order_ids: HashSet<(String, String)>,
    /// (secret key, api path, Idempotency-Key) → first answer.
    idempotent: HashMap<(String, String, String), (u16, Value)>,
    faults: VecDeque<Fault>,
    calls: Vec<CallRecord>,
}

/// The simulator. Cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct Simulator {
    state: Arc<Mutex<SimState>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Simulator")
    }
}

type SimResult = (u16, Value);

fn err(status: u16, code: &str, message: &str) -> SimResult {
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
        | "NOT_SUPPORTED_METHOD" => 403,
        "NOT_FOUND" | "NOT_FOUND_PAYMENT" | "NOT_FOUND_BILLING" => 404,
        "FAILED_INTERNAL_SYSTEM_PROCESSING"
        | "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"
        | "FAILED_CARD_COMPANY_RESPONSE"
        | "UNKNOWN_PAYMENT_ERROR"
        | "FAILED_DB_PROCESSING" => 500,
        _ => 400,
    }
}

fn message_for_code(code: &str) -> &'static str {
    match code {
        "UNAUTHORIZED_KEY" => "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
        "INVALID_CARD_NUMBER" => "카드번호를 다시 확인해주세요.",
        "INVALID_CARD_EXPIRATION" => "카드 정보를 다시 확인해주세요. (유효기간)",
        "INVALID_STOPPED_CARD" => "정지된 카드 입니다.",
        "REJECT_CARD_COMPANY" => "결제 승인이 거절되었습니다.",
        "REJECT_CARD_PAYMENT" => "한도초과 혹은 잔액부족으로 결제에 실패했습니다.",
        "EXCEED_MAX_AUTH_COUNT" => "최대 인증 횟수를 초과했습니다. 카드사로 문의해주세요.",
        "NOT_SUPPORTED_METHOD" => "지원되지 않는 결제수단입니다.",
        "NOT_MATCHES_CUSTOMER_KEY" => "빌링 인증 고객키와 결제 요청 고객키가 일치하지 않습니다.",
        "DUPLICATED_ORDER_ID" => "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.",
        "BELOW_MINIMUM_AMOUNT" => "신용카드는 결제금액이 100원 이상이어야 합니다.",
        "INVALID_BILL_KEY_REQUEST" => "빌링키 인증이 완료되지 않았거나 유효하지 않은 빌링키입니다.",
        "FAILED_INTERNAL_SYSTEM_PROCESSING" => {
            "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요."
        }
        "FAILED_CARD_COMPANY_RESPONSE" => "카드사에서 오류가 발생했습니다.",
        _ => "요청을 처리할 수 없습니다. (simulated)",
    }
}

fn coded(code: &str) -> SimResult {
    err(status_for_code(code), code, message_for_code(code))
}

/// Card companies by 6-digit BIN (simulator data, not real issuer tables). Unknown BINs pick one
/// deterministically.
const BINS: &[(&str, &str, &str)] = &[
    ("433012", "61", "현대"),
    ("451842", "41", "신한"),
    ("536181", "51", "삼성"),
    ("457972", "11", "KB국민"),
    ("540926", "71", "롯데"),
    ("465887", "21", "하나"),
    ("942003", "31", "BC"),
    ("546112", "91", "NH농협"),
];

fn company_for_bin(bin: &str) -> (&'static str, &'static str) {
    if let Some((_, code, name)) = BINS.iter().find(|(b, _, _)| *b == bin) {
        return (code, name);
    }
    let idx = bin.bytes().map(usize::from).sum::<usize>() % BINS.len();
    (BINS[idx].1, BINS[idx].2)
}

fn default_card() -> Card {
    Card {
        issuer_code: "61",
        company: "현대",
        number: "433012******123*".into(),
        card_type: "신용",
        owner_type: "개인",
        reject_payments: false,
    }
}

fn all_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Decodes a sandbox authKey and checks it; `Ok(card)` or the Toss error to answer.
fn sandbox_card(payload: &str, customer_key: &str) -> Result<Card, SimResult> {
    let bad = || {
        err(
            400,
            "INVALID_REQUEST",
            "잘못된 authKey 입니다. (sandbox payload)",
        )
    };
    let raw = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    if s("ck") != customer_key {
        return Err(coded("NOT_MATCHES_CUSTOMER_KEY"));
    }
    let (bin, last4, exp) = (s("bin"), s("last4"), s("exp"));
    if !all_digits(bin, 6) || !all_digits(last4, 4) {
        return Err(coded("INVALID_CARD_NUMBER"));
    }
    if !all_digits(exp, 4) {
        return Err(coded("INVALID_CARD_EXPIRATION"));
    }
    let month: u32 = exp[..2].parse().unwrap_or(0);
    let year: i64 = 2000 + exp[2..].parse::<i64>().unwrap_or(0);
    let (now_y, now_m) = util::current_year_month_kst();
    if !(1..=12).contains(&month) || (year, month) < (now_y, now_m) {
        return Err(coded("INVALID_CARD_EXPIRATION"));
    }
    match last4 {
        "4001" => return Err(coded("INVALID_STOPPED_CARD")),
        "4002" => return Err(coded("REJECT_CARD_COMPANY")),
        "4003" => return Err(coded("INVALID_CARD_NUMBER")),
        "4004" => return Err(coded("EXCEED_MAX_AUTH_COUNT")),
        "4005" => return Err(coded("NOT_SUPPORTED_METHOD")),
        _ => {}
    }
    let (issuer_code, company) = company_for_bin(bin);
    Ok(Card {
        issuer_code,
        company,
        number: format!("{bin}******{}*", &last4[..3]),
        card_type: if last4.starts_with('7') {
            "체크"
        } else {
            "신용"
        },
        owner_type: if s("owner") == "CORPORATE" {
            "법인"
        } else {
            "개인"
        },
        reject_payments: last4 == "5001",
    })
}

fn card_json(card: &Card) -> Value {
    json!({
        "issuerCode": card.issuer_code,
        "acquirerCode": card.issuer_code,
        "number": card.number,
        "cardType": card.card_type,
        "ownerType": card.owner_type,
    })
}

/// Checks `Authorization: Basic base64(secretKey + ":")`; returns the secret key.
fn check_auth(headers: &HeaderMap) -> Result<String, SimResult> {
    let unauthorized = || coded("UNAUTHORIZED_KEY");
    let h = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unauthorized)?;
    let b64 = h.strip_prefix("Basic ").ok_or_else(unauthorized)?;
    let decoded = STANDARD.decode(b64.trim()).map_err(|_| unauthorized())?;
    let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
    let key = text.strip_suffix(':').ok_or_else(unauthorized)?;
    let ok = (key.starts_with("test_sk_") || key.starts_with("live_sk_"))
        && key.len() > 8
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(unauthorized());
    }
    Ok(key.to_string())
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, SimResult> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(err(
            400,
            "INVALID_REQUEST",
            "잘못된 요청입니다. (JSON object expected)",
        )),
    }
}

fn invalid(field: &str) -> SimResult {
    err(
        400,
        "INVALID_REQUEST",
        &format!("잘못된 요청입니다. ({field})"),
    )
}

fn str_field<'a>(
    m: &'a Map<String, Value>,
    k: &str,
    required: bool,
) -> Result<Option<&'a str>, SimResult> {
    match m.get(k) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        _ => Err(invalid(k)),
    }
}

fn int_field(m: &Map<String, Value>, k: &str, required: bool) -> Result<Option<i64>, SimResult> {
    match m.get(k) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid(k)),
        _ => Err(invalid(k)),
    }
}

impl Simulator {
    pub fn new() -> Simulator {
        Simulator::default()
    }

    /// The routes, to nest under a prefix or serve on their own.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/billing/authorizations/issue", post(issue_handler))
            .route("/v1/billing/{billing_key}", post(charge_handler))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"code": "NOT_FOUND", "message": "simulated API: no such path"})),
                )
            })
            .with_state(self.clone())
    }

    /// Serves the simulator alone on `127.0.0.1:0`; returns its base URL.
    pub async fn serve(&self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}"))
    }

    /// Queues a fault for the next call.
    pub fn push_fault(&self, f: Fault) {
        self.lock().faults.push_back(f);
    }

    /// The next `n` calls answer `status` without doing anything.
    pub fn fail_next(&self, n: usize, status: u16) {
        for _ in 0..n {
            self.push_fault(Fault::Status(status));
        }
    }

    /// Removes all queued faults.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Every call seen so far (including faulted ones).
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().calls.clone()
    }

    /// Number of calls to one API (`issue` or `charge`).
    pub fn call_count(&self, api: &str) -> usize {
        self.lock().calls.iter().filter(|c| c.api == api).count()
    }

    /// Every billing key minted so far (for tests).
    pub fn minted_billing_keys(&self) -> Vec<String> {
        self.lock().billing_keys.keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Common front part: fault queue, auth, test-code header, idempotency replay.
    async fn handle(
        &self,
        api: &'static str,
        path: String,
        headers: HeaderMap,
        body: Bytes,
        process: impl FnOnce(&mut SimState, &str, &[u8]) -> SimResult,
    ) -> Response {
        let idem = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let fault = self.lock().faults.pop_front();
        let mut forced_code = headers
            .get("tosspayments-test-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match fault {
            Some(Fault::Status(s)) => {
                return self.answer(api, idem, coded_with_status(s));
            }
            Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
            Some(Fault::Code(c)) => forced_code = Some(c),
            None => {}
        }
        let result = (|| {
            let secret = check_auth(&headers)?;
            if let Some(code) = forced_code.as_deref().filter(|c| !c.is_empty()) {
                return Err(coded(code));
            }
            if let Some(k) = &idem {
                if k.is_empty() || k.len() > 300 {
                    return Err(invalid("Idempotency-Key"));
                }
            }
            Ok(secret)
        })();
        let secret = match result {
            Ok(s) => s,
            Err(r) => return self.answer(api, idem, r),
        };
        let mut st = self.lock();
        let replay_key = idem.clone().map(|k| (secret.clone(), path.clone(), k));
        if let Some(rk) = &replay_key {
            if let Some(first) = st.idempotent.get(rk).cloned() {
                drop(st);
                return self.answer(api, idem, first);
            }
        }
        let r = process(&mut st, &secret, &body);
        if let Some(rk) = replay_key {
            st.idempotent.insert(rk, r.clone());
        }
        drop(st);
        self.answer(api, idem, r)
    }

    fn record(&self, api: &'static str, idempotency_key: Option<String>, status: u16) {
        self.lock().calls.push(CallRecord {
            api,
            idempotency_key,
            status,
        });
    }

    fn answer(
        &self,
        api: &'static str,
        idem: Option<String>,
        (status, body): SimResult,
    ) -> Response {
        self.record(api, idem, status);
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, Json(body)).into_response()
    }
}

fn coded_with_status(status: u16) -> SimResult {
    if status == 429 {
        err(
            429,
            "TOO_MANY_REQUESTS",
            "요청이 너무 많습니다. (simulated)",
        )
    } else if status >= 500 {
        err(
            status,
            "FAILED_INTERNAL_SYSTEM_PROCESSING",
            message_for_code("FAILED_INTERNAL_SYSTEM_PROCESSING"),
        )
    } else {
        err(status, "INVALID_REQUEST", "simulated failure")
    }
}

/// Runs a call to completion on its own task, so that a client that gives up (timeout) does not
/// cancel it: like the real API, the simulator goes on and the answer is kept for replays.
async fn detached(fut: impl std::future::Future<Output = Response> + Send + 'static) -> Response {
    tokio::spawn(fut)
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn issue_handler(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    detached(async move {
        sim.handle(
            "issue",
            "/v1/billing/authorizations/issue".into(),
            headers,
            body,
            process_issue,
        )
        .await
    })
    .await
}

async fn charge_handler(
    State(sim): State<Simulator>,
    Path(billing_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/billing/{billing_key}");
    detached(async move {
        sim.handle("charge", path, headers, body, move |st, secret, body| {
            process_charge(st, secret, &billing_key, body)
        })
        .await
    })
    .await
}

fn process_issue(st: &mut SimState, _secret: &str, body: &[u8]) -> SimResult {
    let mut run = || -> Result<SimResult, SimResult> {
        let m = parse_object(body)?;
        if let Some(k) = m
            .keys()
            .find(|k| !matches!(k.as_str(), "authKey" | "customerKey"))
        {
            return Err(invalid(k));
        }
        let auth_key = str_field(&m, "authKey", true)?.unwrap_or_default();
        let customer_key = str_field(&m, "customerKey", true)?.unwrap_or_default();
        if !util::valid_auth_key(auth_key) {
            return Err(invalid("authKey"));
        }
        if !util::valid_customer_key(customer_key) || customer_key == "@@ANONYMOUS" {
            return Err(invalid("customerKey"));
        }
        if st.used_auth_keys.contains(auth_key) {
            // The real code for a reused authKey is undocumented: INVALID_AUTH_KEY is inferred.
            return Err(err(
                400,
                "INVALID_AUTH_KEY",
                "이미 사용되었거나 유효하지 않은 authKey 입니다.",
            ));
        }
        st.used_auth_keys.insert(auth_key.to_string());
        let card = match auth_key.strip_prefix("sbx.") {
            Some(payload) => sandbox_card(payload, customer_key)?,
            None => default_card(),
        };
        let billing_key = URL_SAFE.encode(util::random_bytes::<32>());
        st.billing_keys.insert(
            billing_key.clone(),
            BillingKeyRecord {
                customer_key: customer_key.to_string(),
                card: card.clone(),
            },
        );
        Ok((
            200,
            json!({
                "mId": "tosspayments",
                "customerKey": customer_key,
                "authenticatedAt": util::now_kst(),
                "method": "카드",
                "billingKey": billing_key,
                "card": card_json(&card),
                "cardCompany": card.company,
                "cardNumber": card.number,
            }),
        ))
    };
    run().unwrap_or_else(|e| e)
}

fn process_charge(st: &mut SimState, secret: &str, billing_key: &str, body: &[u8]) -> SimResult {
    let mut run = || -> Result<SimResult, SimResult> {
        let m = parse_object(body)?;
        const KNOWN: &[&str] = &[
            "customerKey",
            "amount",
            "orderId",
            "orderName",
            "customerEmail",
            "customerName",
            "taxFreeAmount",
            "taxExemptionAmount",
            "cardInstallmentPlan",
        ];
        if let Some(k) = m.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(invalid(k));
        }
        let customer_key = str_field(&m, "customerKey", true)?.unwrap_or_default();
        let amount = int_field(&m, "amount", true)?.unwrap_or_default();
        let order_id = str_field(&m, "orderId", true)?.unwrap_or_default();
        let order_name = str_field(&m, "orderName", true)?.unwrap_or_default();
        for k in ["customerEmail", "customerName"] {
            if str_field(&m, k, false)?.is_some_and(|s| s.chars().count() > 100) {
                return Err(invalid(k));
            }
        }
        let tax_free = int_field(&m, "taxFreeAmount", false)?.unwrap_or(0);
        let tax_exempt = int_field(&m, "taxExemptionAmount", false)?.unwrap_or(0);
        let plan = int_field(&m, "cardInstallmentPlan", false)?.unwrap_or(0);
        if !util::valid_customer_key(customer_key) {
            return Err(invalid("customerKey"));
        }
        if !util::valid_order_id(order_id) {
            return Err(invalid("orderId"));
        }
        if order_name.is_empty() || order_name.chars().count() > 100 {
            return Err(invalid("orderName"));
        }
        if amount <= 0 {
            return Err(invalid("amount"));
        }
        if tax_free < 0 || tax_free > amount || tax_exempt < 0 || tax_exempt > amount {
            return Err(invalid("taxFreeAmount"));
        }
        if !(0..=12).contains(&plan) {
            return Err(invalid("cardInstallmentPlan"));
        }
        let rec = st
            .billing_keys
            .get(billing_key)
            .cloned()
            .ok_or_else(|| coded("INVALID_BILL_KEY_REQUEST"))?;
        if rec.customer_key != customer_key {
            return Err(coded("NOT_MATCHES_CUSTOMER_KEY"));
        }
        if amount < 100 {
            return Err(coded("BELOW_MINIMUM_AMOUNT"));
        }
        let order = (secret.to_string(), order_id.to_string());
        if st.order_ids.contains(&order) {
            return Err(coded("DUPLICATED_ORDER_ID"));
        }
        st.order_ids.insert(order);
        if rec.card.reject_payments {
            return Err(coded("REJECT_CARD_PAYMENT"));
        }
        let now = util::now_kst();
        let payment_key = format!("tbill{}", util::hex(&util::random_bytes::<15>()));
        let taxable = amount - tax_free - tax_exempt;
        let vat = (taxable as f64 / 11.0).round() as i64;
        let mut card = card_json(&rec.card);
        if let Value::Object(c) = &mut card {
            c.insert("amount".into(), json!(amount));
            c.insert("installmentPlanMonths".into(), json!(plan));
            c.insert("isInterestFree".into(), json!(false));
            c.insert("interestPayer".into(), Value::Null);
            c.insert(
                "approveNo".into(),
                json!(format!("{:08}", util::unix_now() % 100_000_000)),
            );
            c.insert("useCardPoint".into(), json!(false));
            c.insert("acquireStatus".into(), json!("READY"));
        }
        Ok((
            200,
            json!({
                "mId": "tosspayments",
                "lastTransactionKey": util::hex(&util::random_bytes::<16>()),
                "paymentKey": payment_key,
                "orderId": order_id,
                "orderName": order_name,
                "taxExemptionAmount": tax_exempt,
                "status": "DONE",
                "requestedAt": now,
                "approvedAt": now,
                "useEscrow": false,
                "cultureExpense": false,
                "card": card,
                "virtualAccount": null,
                "transfer": null,
                "mobilePhone": null,
                "giftCertificate": null,
                "cashReceipt": null,
                "cashReceipts": null,
                "discount": null,
                "cancels": null,
                "secret": null,
                "type": "BILLING",
                "easyPay": null,
                "country": "KR",
                "failure": null,
                "isPartialCancelable": true,
                "receipt": {"url": format!("https://sim.invalid/receipt/{payment_key}")},
                "checkout": {"url": format!("https://sim.invalid/checkout/{payment_key}")},
                "currency": "KRW",
                "totalAmount": amount,
                "balanceAmount": amount,
                "suppliedAmount": taxable - vat,
                "vat": vat,
                "taxFreeAmount": tax_free,
                "method": "카드",
                "version": "2022-11-16",
            }),
        ))
    };
    run().unwrap_or_else(|e| e)
}

/// Builds a sandbox authKey (`sbx.` + base64url(JSON)), as the sandbox SDK does. For tests/tools.
pub fn sandbox_auth_key(
    customer_key: &str,
    bin: &str,
    last4: &str,
    exp: &str,
    owner: &str,
) -> String {
    let payload = json!({
        "ck": customer_key,
        "bin": bin,
        "last4": last4,
        "exp": exp,
        "owner": owner,
        "nonce": util::hex(&util::random_bytes::<8>()),
    });
    format!("sbx.{}", URL_SAFE_NO_PAD.encode(payload.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_cards() {
        let (y, _) = util::current_year_month_kst();
        let exp = format!("12{:02}", (y + 2) % 100);
        let key = sandbox_auth_key("ck-1", "451842", "1234", &exp, "PERSONAL");
        let card = sandbox_card(key.strip_prefix("sbx.").unwrap(), "ck-1").unwrap();
        assert_eq!(card.company, "신한");
        assert_eq!(card.number, "451842******123*");
        let e = sandbox_card(key.strip_prefix("sbx.").unwrap(), "other").unwrap_err();
        assert_eq!(e.1["code"], "NOT_MATCHES_CUSTOMER_KEY");
        let old = sandbox_auth_key("ck-1", "451842", "1234", "0120", "PERSONAL");
        let e = sandbox_card(old.strip_prefix("sbx.").unwrap(), "ck-1").unwrap_err();
        assert_eq!(e.1["code"], "INVALID_CARD_EXPIRATION");
        let stop = sandbox_auth_key("ck-1", "451842", "4001", &exp, "PERSONAL");
        let e = sandbox_card(stop.strip_prefix("sbx.").unwrap(), "ck-1").unwrap_err();
        assert_eq!(e.1["code"], "INVALID_STOPPED_CARD");
    }
}
