//! The merchant API: the customer session, the authKey hand-off and operator charges.

use crate::config::Config;
use crate::crypto::KeyBox;
use crate::locks::KeyedLocks;
use crate::toss::{Attempt, TossClient, TossError};
use crate::util;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use sqlx::SqlitePool;
use std::sync::Arc;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "billing_sid";

/// Shared state of the API handlers.
pub struct AppState {
    pub db: SqlitePool,
    pub cfg: Config,
    pub toss: TossClient,
    pub keybox: KeyBox,
    pub locks: KeyedLocks,
}

pub type Shared = Arc<AppState>;

/// An error answer: `{"code", "message"}` with a status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.to_string(),
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_REQUEST", message)
    }
    fn internal() -> ApiError {
        ApiError::new(
            500,
            "INTERNAL_ERROR",
            "내부 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
        )
    }
    fn body(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        eprintln!("[billing-server] database error: {e}");
        ApiError::internal()
    }
}

type ApiResult = Result<Response, ApiError>;

// ---------------------------------------------------------------------------------------------
// Request guards

/// Refuses cross-site requests, non-JSON bodies and oversize bodies; returns the parsed object.
async fn json_post(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    if !crate::web::origin_allowed(headers, &st.cfg.allowed_origins) {
        return Err(ApiError::new(
            403,
            "FORBIDDEN_ORIGIN",
            "다른 사이트에서 보낸 요청은 처리하지 않습니다.",
        ));
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::invalid("Content-Type must be application/json"));
    }
    let bytes: Bytes = axum::body::to_bytes(body, st.cfg.max_body_bytes)
        .await
        .map_err(|_| ApiError::invalid("request body too large or unreadable"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::invalid("the body must be a JSON object")),
    }
}

fn req_str<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, ApiError> {
    m.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid(format!("{k} is required and must be a string")))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The customerKey of the caller's session, if the cookie names a known session.
async fn session_customer(st: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(sid) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if sid.len() < 32 || sid.len() > 100 {
        return Ok(None);
    }
    let row: Option<(String,)> =
        sqlx::query_as("SELECT customer_key FROM sessions WHERE session_hash = ?")
            .bind(util::sha256_hex(sid.as_bytes()))
            .fetch_optional(&st.db)
            .await?;
    Ok(row.map(|r| r.0))
}

// ---------------------------------------------------------------------------------------------
// GET /api/customer

pub async fn get_customer(State(st): State<Shared>, headers: HeaderMap) -> ApiResult {
    if let Some(ck) = session_customer(&st, &headers).await? {
        return Ok(Json(json!({ "customerKey": ck })).into_response());
    }
    let sid = util::random_token::<32>();
    let customer_key = util::uuid_v4();
    sqlx::query("INSERT INTO sessions (session_hash, customer_key, created_at) VALUES (?, ?, ?)")
        .bind(util::sha256_hex(sid.as_bytes()))
        .bind(&customer_key)
        .bind(util::now_kst())
        .execute(&st.db)
        .await?;
    let secure = if st.cfg.cookie_secure { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}");
    let mut resp = Json(json!({ "customerKey": customer_key })).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub async fn health() -> Response {
    Json(json!({ "ok": true })).into_response()
}

pub async fn api_not_found() -> Response {
    ApiError::new(404, "NOT_FOUND", "no such API").into_response()
}

// ---------------------------------------------------------------------------------------------
// POST /api/billing/issue

/// The masked card summary answered to the browser (never the billing key).
fn card_summary(toss: &Value) -> Option<Value> {
    let card = toss.get("card");
    let pick = |top: &str, inner: &str| {
        toss.get(top)
            .and_then(Value::as_str)
            .or_else(|| card.and_then(|c| c.get(inner)).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let company = pick("cardCompany", "company")?;
    let number = pick("cardNumber", "number")?;
    let mut out = Map::new();
    out.insert("company".into(), company.into());
    out.insert("number".into(), number.into());
    for k in ["cardType", "ownerType"] {
        if let Some(v) = card.and_then(|c| c.get(k)).and_then(Value::as_str) {
            out.insert(k.into(), v.into());
        }
    }
    Some(Value::Object(out))
}

fn stored_response(status: i64, body: &str) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub async fn issue(State(st): State<Shared>, headers: HeaderMap, body: Body) -> ApiResult {
    let m = json_post(&st, &headers, body).await?;
    let auth_key = req_str(&m, "authKey")?;
    let customer_key = req_str(&m, "customerKey")?;
    if !util::valid_auth_key(auth_key) {
        return Err(ApiError::invalid(
            "authKey must be 1-300 printable characters",
        ));
    }
    if !util::valid_customer_key(customer_key) {
        return Err(ApiError::invalid(
            "customerKey must be 2-50 characters of A-Z a-z 0-9 - _ = . @",
        ));
    }
    let idem = format!("ak-{}", util::sha256_hex(auth_key.as_bytes()));
    if let Some(given) = headers.get("idempotency-key") {
        if given.to_str().ok() != Some(idem.as_str()) {
            return Err(ApiError::new(
                422,
                "IDEMPOTENCY_KEY_MISMATCH",
                "Idempotency-Key must be ak-<SHA-256 hex of the authKey>",
            ));
        }
    }
    let own = session_customer(&st, &headers).await?;
    if own.as_deref() != Some(customer_key) {
        return Err(ApiError::new(
            403,
            "CUSTOMER_KEY_MISMATCH",
            "이 customerKey는 현재 세션의 고객 것이 아닙니다.",
        ));
    }

    // One hand-off per authKey at a time: duplicates wait here and then find the stored outcome.
    let _guard = st.locks.lock(&idem).await;
    let stored: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT customer_key, http_status, body FROM issue_outcomes WHERE idempotency_key = ?",
    )
    .bind(&idem)
    .fetch_optional(&st.db)
    .await?;
    if let Some((ck, status, body)) = stored {
        if ck != customer_key {
            return Err(ApiError::new(
                403,
                "CUSTOMER_KEY_MISMATCH",
                "이 authKey는 다른 고객의 것입니다.",
            ));
        }
        return Ok(stored_response(status, &body));
    }

    let tag = util::fingerprint(auth_key);
    let mut attempts: Vec<Attempt> = Vec::new();
    let result = st
        .toss
        .issue_billing_key(auth_key, customer_key, &idem, &mut attempts)
        .await;
    match result {
        Ok(toss_body) => {
            let billing_key = toss_body
                .get("billingKey")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let (Some(billing_key), Some(summary)) = (billing_key, card_summary(&toss_body)) else {
                eprintln!(
                    "[billing-server] issue ak#{tag}: Toss answered 200 without billingKey/card"
                );
                return Err(ApiError::internal());
            };
            let card = json!({ "card": summary });
            let (nonce, ct) = st.keybox.seal(billing_key, customer_key);
            let s = |k: &str| summary.get(k).and_then(Value::as_str).map(str::to_string);
            let mut tx = st.db.begin().await?;
            sqlx::query(
                "INSERT INTO billing_keys (customer_key, nonce, ciphertext, key_hash, card_company, \
                 card_number, card_type, owner_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(customer_key)
            .bind(nonce)
            .bind(ct)
            .bind(util::fingerprint(billing_key))
            .bind(s("company"))
            .bind(s("number"))
            .bind(s("cardType"))
            .bind(s("ownerType"))
            .bind(util::now_kst())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO issue_outcomes (idempotency_key, customer_key, http_status, body, created_at) \
                 VALUES (?, ?, 200, ?, ?)",
            )
            .bind(&idem)
            .bind(customer_key)
            .bind(card.to_string())
            .bind(util::now_kst())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            eprintln!(
                "[billing-server] issue ak#{tag}: billing key bk#{} stored ({} attempt(s))",
                util::fingerprint(billing_key),
                attempts.len()
            );
            Ok(Json(card).into_response())
        }
        Err(TossError::Refused { status, code, .. })
            if status == 401 || code == "UNAUTHORIZED_KEY" || code == "FORBIDDEN_REQUEST" =>
        {
            eprintln!(
                "[billing-server] issue ak#{tag}: Toss refused our credentials ({code}); check TOSS_SECRET_KEY"
            );
            Err(ApiError::internal())
        }
        Err(TossError::Refused {
            status,
            code,
            message,
        }) => {
            let status = if (400..500).contains(&status) {
                status
            } else {
                400
            };
            let err = ApiError::new(status, &code, message);
            sqlx::query(
                "INSERT INTO issue_outcomes (idempotency_key, customer_key, http_status, body, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&idem)
            .bind(customer_key)
            .bind(i64::from(status))
            .bind(err.body().to_string())
            .bind(util::now_kst())
            .execute(&st.db)
            .await?;
            eprintln!("[billing-server] issue ak#{tag}: Toss refused with {code} (stored)");
            Err(err)
        }
        Err(TossError::Unavailable { status, .. }) => {
            eprintln!(
                "[billing-server] issue ak#{tag}: Toss unavailable (last status {status:?}, {} attempt(s))",
                attempts.len()
            );
            Err(ApiError::new(
                502,
                "TOSS_UNAVAILABLE",
                "결제사에 연결할 수 없습니다. 잠시 후 다시 시도해주세요.",
            ))
        }
        Err(TossError::Timeout) => {
            eprintln!("[billing-server] issue ak#{tag}: Toss timed out");
            Err(ApiError::new(
                504,
                "TOSS_TIMEOUT",
                "결제사 응답이 늦어지고 있습니다. 잠시 후 다시 시도해주세요.",
            ))
        }
        Err(TossError::BadResponse(why)) => {
            eprintln!("[billing-server] issue ak#{tag}: {why}");
            Err(ApiError::internal())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// POST /api/admin/charges (operator only)

fn check_operator(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &st.cfg.operator_token else {
        return Err(ApiError::new(404, "NOT_FOUND", "no such API"));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !util::ct_eq(given.trim(), token.expose()) {
        return Err(ApiError::new(
            401,
            "UNAUTHORIZED",
            "operator token required",
        ));
    }
    Ok(())
}

struct ChargeRow {
    id: i64,
    order_id: String,
    customer_key: String,
    billing_key_id: i64,
    amount: i64,
    order_name: String,
    idempotency_key: String,
    status: String,
    payment_key: Option<String>,
    approved_at: Option<String>,
    result_code: Option<String>,
    result_message: Option<String>,
}

async fn load_charge(db: &SqlitePool, order_id: &str) -> Result<Option<ChargeRow>, sqlx::Error> {
    type Row = (
        i64,
        String,
        String,
        i64,
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let r: Option<Row> = sqlx::query_as(
        "SELECT id, order_id, customer_key, billing_key_id, amount, order_name, idempotency_key, \
         status, payment_key, approved_at, result_code, result_message FROM charges WHERE order_id = ?",
    )
    .bind(order_id)
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| ChargeRow {
        id: r.0,
        order_id: r.1,
        customer_key: r.2,
        billing_key_id: r.3,
        amount: r.4,
        order_name: r.5,
        idempotency_key: r.6,
        status: r.7,
        payment_key: r.8,
        approved_at: r.9,
        result_code: r.10,
        result_message: r.11,
    }))
}

async fn charge_response(st: &AppState, c: &ChargeRow) -> ApiResult {
    let (attempts,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM charge_attempts WHERE charge_id = ?")
            .bind(c.id)
            .fetch_one(&st.db)
            .await?;
    let card: Option<(String, String)> =
        sqlx::query_as("SELECT card_company, card_number FROM billing_keys WHERE id = ?")
            .bind(c.billing_key_id)
            .fetch_optional(&st.db)
            .await?;
    let mut out = json!({
        "orderId": c.order_id,
        "status": c.status,
        "customerKey": c.customer_key,
        "amount": c.amount,
        "orderName": c.order_name,
        "attempts": attempts,
    });
    let o = out.as_object_mut().expect("object");
    if let Some((company, number)) = card {
        o.insert(
            "card".into(),
            json!({ "company": company, "number": number }),
        );
    }
    for (k, v) in [
        ("paymentKey", &c.payment_key),
        ("approvedAt", &c.approved_at),
        ("code", &c.result_code),
        ("message", &c.result_message),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), v.clone().into());
        }
    }
    let status = match c.status.as_str() {
        "DONE" => StatusCode::OK,
        "FAILED" => StatusCode::UNPROCESSABLE_ENTITY,
        _ if c.result_code.as_deref() == Some("TOSS_TIMEOUT") => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    Ok((status, Json(out)).into_response())
}

pub async fn create_charge(State(st): State<Shared>, headers: HeaderMap, body: Body) -> ApiResult {
    check_operator(&st, &headers)?;
    let m = json_post(&st, &headers, body).await?;
    let customer_key = req_str(&m, "customerKey")?;
    let order_name = req_str(&m, "orderName")?;
    let amount = m
        .get("amount")
        .and_then(Value::as_i64)
        .filter(|a| *a > 0 && *a <= 1_000_000_000)
        .ok_or_else(|| ApiError::invalid("amount must be an integer > 0"))?;
    if !util::valid_customer_key(customer_key) {
        return Err(ApiError::invalid(
            "customerKey must be 2-50 characters of A-Z a-z 0-9 - _ = . @",
        ));
    }
    if order_name.is_empty() || order_name.chars().count() > 100 {
        return Err(ApiError::invalid("orderName must be 1-100 characters"));
    }
    let order_id = match m.get("orderId") {
        None | Some(Value::Null) => format!(
            "ord-{}-{}",
            util::unix_now(),
            util::hex(&util::random_bytes::<8>())
        ),
        Some(Value::String(s)) if util::valid_order_id(s) => s.clone(),
        _ => {
            return Err(ApiError::invalid(
                "orderId must be 6-64 characters of A-Z a-z 0-9 - _",
            ))
        }
    };

    let _guard = st.locks.lock(&format!("order:{order_id}")).await;
    let existing = load_charge(&st.db, &order_id).await?;
    let charge = match existing {
        Some(c) => {
            if c.customer_key != customer_key || c.amount != amount || c.order_name != order_name {
                return Err(ApiError::new(
                    409,
                    "ORDER_ID_CONFLICT",
                    "this orderId was used for a different charge",
                ));
            }
            if c.status == "DONE" || c.status == "FAILED" {
                return charge_response(&st, &c).await;
            }
            c // PENDING/UNKNOWN: retry this attempt with its own Idempotency-Key
        }
        None => {
            let bk: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM billing_keys WHERE customer_key = ? ORDER BY id DESC LIMIT 1",
            )
            .bind(customer_key)
            .fetch_optional(&st.db)
            .await?;
            let Some((bk_id,)) = bk else {
                return Err(ApiError::new(
                    404,
                    "NO_BILLING_KEY",
                    "no card is registered for this customerKey",
                ));
            };
            let now = util::now_kst();
            sqlx::query(
                "INSERT INTO charges (order_id, customer_key, billing_key_id, amount, order_name, \
                 idempotency_key, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?, ?)",
            )
            .bind(&order_id)
            .bind(customer_key)
            .bind(bk_id)
            .bind(amount)
            .bind(order_name)
            .bind(format!("ch-{}", util::uuid_v4()))
            .bind(&now)
            .bind(&now)
            .execute(&st.db)
            .await?;
            load_charge(&st.db, &order_id)
                .await?
                .ok_or_else(ApiError::internal)?
        }
    };

    let key_row: Option<(Vec<u8>, Vec<u8>, String)> =
        sqlx::query_as("SELECT nonce, ciphertext, customer_key FROM billing_keys WHERE id = ?")
            .bind(charge.billing_key_id)
            .fetch_optional(&st.db)
            .await?;
    let billing_key = key_row
        .and_then(|(n, c, ck)| st.keybox.open(&n, &c, &ck))
        .ok_or_else(|| {
            eprintln!(
                "[billing-server] charge {}: cannot decrypt the billing key (wrong BILLING_KEY_ENCRYPTION_KEY?)",
                charge.order_id
            );
            ApiError::internal()
        })?;
    let toss_body = json!({
        "customerKey": charge.customer_key,
        "amount": charge.amount,
        "orderId": charge.order_id,
        "orderName": charge.order_name,
    });
    let mut attempts = Vec::new();
    let result = st
        .toss
        .charge(
            &billing_key,
            &toss_body,
            &charge.idempotency_key,
            &mut attempts,
        )
        .await;
    for a in &attempts {
        sqlx::query(
            "INSERT INTO charge_attempts (charge_id, idempotency_key, http_status, outcome, code, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(charge.id)
        .bind(&charge.idempotency_key)
        .bind(a.http_status.map(i64::from))
        .bind(a.outcome)
        .bind(&a.code)
        .bind(util::now_kst())
        .execute(&st.db)
        .await?;
    }
    let (status, payment_key, approved_at, code, message) = match result {
        Ok(p) => {
            let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
            if s("status").as_deref() == Some("DONE") {
                ("DONE", s("paymentKey"), s("approvedAt"), None, None)
            } else {
                (
                    "UNKNOWN",
                    s("paymentKey"),
                    None,
                    Some(format!("TOSS_STATUS_{}", s("status").unwrap_or_default())),
                    Some("Toss answered a payment that is not DONE".to_string()),
                )
            }
        }
        Err(TossError::Refused { code, message, .. }) => {
            ("FAILED", None, None, Some(code), Some(message))
        }
        Err(TossError::Timeout) => (
            "UNKNOWN",
            None,
            None,
            Some("TOSS_TIMEOUT".to_string()),
            Some("Toss did not answer in time; retry with the same orderId".to_string()),
        ),
        Err(TossError::Unavailable { .. }) | Err(TossError::BadResponse(_)) => (
            "UNKNOWN",
            None,
            None,
            Some("TOSS_UNAVAILABLE".to_string()),
            Some("Toss could not be reached; retry with the same orderId".to_string()),
        ),
    };
    sqlx::query(
        "UPDATE charges SET status = ?, payment_key = ?, approved_at = ?, result_code = ?, \
         result_message = ?, updated_at = ? WHERE id = ?",
    )
    .bind(status)
    .bind(&payment_key)
    .bind(&approved_at)
    .bind(&code)
    .bind(&message)
    .bind(util::now_kst())
    .bind(charge.id)
    .execute(&st.db)
    .await?;
    eprintln!(
        "[billing-server] charge {} for {}: {status} ({} attempt(s))",
        charge.order_id,
        charge.amount,
        attempts.len()
    );
    let updated = load_charge(&st.db, &order_id)
        .await?
        .ok_or_else(ApiError::internal)?;
    charge_response(&st, &updated).await
}
