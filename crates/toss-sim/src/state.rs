//! The simulator's durable state, in its own SQLite file: what Toss remembers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{json, Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::cards::{default_card, sandbox_card, Card};
use super::{coded, invalid, Answer, CallRecord, Stats};
use crate::clock::iso_kst;
use crate::ids;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sim_idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
    status INTEGER, body TEXT, created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key));
CREATE TABLE IF NOT EXISTS sim_used_auth_keys (hash TEXT PRIMARY KEY NOT NULL, used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sim_billing_keys (
    billing_key TEXT PRIMARY KEY NOT NULL, customer_key TEXT NOT NULL, card TEXT NOT NULL,
    created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sim_payments (
    scope TEXT NOT NULL, order_id TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL,
    created_at INTEGER NOT NULL, PRIMARY KEY (scope, order_id));
CREATE TABLE IF NOT EXISTS sim_calls (
    id INTEGER PRIMARY KEY, api TEXT NOT NULL, idempotency_key TEXT, order_id TEXT,
    customer_key TEXT, status INTEGER NOT NULL, outcome TEXT NOT NULL);
";

pub(super) struct SimState {
    pool: SqlitePool,
}

pub(super) enum Begun {
    /// This call is the first with its key: process it.
    First,
    /// The first call with this key is still being processed.
    InProgress,
    /// The first call's answer.
    Replay(Answer),
}

fn text<'a>(m: &'a Map<String, Value>, k: &str, required: bool) -> Result<Option<&'a str>, Answer> {
    match m.get(k) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        _ => Err(invalid(k)),
    }
}

fn integer(m: &Map<String, Value>, k: &str, required: bool) -> Result<Option<i64>, Answer> {
    match m.get(k) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid(k)),
        _ => Err(invalid(k)),
    }
}

impl SimState {
    pub(super) async fn open(path: &Path) -> Result<SimState, sqlx::Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        // One connection: SQLite has one writer at a time anyway, and with several connections
        // the losers of each write lock back off in sleeps of several milliseconds (the busy
        // handler), which under load added more latency than the simulated network did.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        // Calls that were being processed when a previous run died never committed anything.
        sqlx::query("DELETE FROM sim_idempotency WHERE state = 'PROCESSING'")
            .execute(&pool)
            .await?;
        Ok(SimState { pool })
    }

    pub(super) async fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        now: i64,
    ) -> Result<Begun, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO sim_idempotency (scope, key, state, created_at) VALUES ($1, $2, 'PROCESSING', $3) \
             ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Begun::First);
        }
        let row: Option<(String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT state, status, body FROM sim_idempotency WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((state, Some(status), Some(body))) if state == "DONE" => Begun::Replay((
                status as u16,
                serde_json::from_str(&body).unwrap_or(Value::Null),
            )),
            Some(_) => Begun::InProgress,
            // Deleted between the two statements (abandoned): treat as in progress, ask again.
            None => Begun::InProgress,
        })
    }

    pub(super) async fn abandon_idempotent(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM sim_idempotency WHERE scope = $1 AND key = $2 AND state = 'PROCESSING'",
        )
        .bind(scope)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores an answer for replays (when the call had a key).
    pub(super) async fn store_answer(
        &self,
        scope: &str,
        key: Option<&str>,
        answer: &Answer,
    ) -> Result<(), sqlx::Error> {
        if let Some(key) = key {
            sqlx::query("UPDATE sim_idempotency SET state = 'DONE', status = $1, body = $2 WHERE scope = $3 AND key = $4")
                .bind(i64::from(answer.0))
                .bind(answer.1.to_string())
                .bind(scope)
                .bind(key)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn issue(
        &self,
        body: &Map<String, Value>,
        scope: &str,
        key: Option<&str>,
        now: i64,
        today: (i32, u8),
    ) -> Result<Answer, sqlx::Error> {
        // IMMEDIATE: the transaction reads before it writes; a deferred one could not take the write
        // lock after another writer committed (SQLITE_BUSY_SNAPSHOT, which busy_timeout cannot wait out).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let answer = match validate_issue(body) {
            Err(answer) => answer,
            Ok((auth_key, customer_key)) => {
                let used = sqlx::query(
                    "INSERT INTO sim_used_auth_keys (hash, used_at) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                )
                .bind(ids::sha256_hex(auth_key.as_bytes()))
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 0;
                let card = match auth_key.strip_prefix("sbx.") {
                    Some(payload) => sandbox_card(payload, customer_key, today).map_err(coded),
                    None => Ok(default_card()),
                };
                match (used, card) {
                    // Toss does not document the code for a reused authKey: INVALID_AUTH_KEY is inferred.
                    (true, _) => coded("INVALID_AUTH_KEY"),
                    (false, Err(answer)) => answer,
                    (false, Ok(card)) => {
                        use base64::Engine;
                        let billing_key = base64::engine::general_purpose::URL_SAFE
                            .encode(ids::random_bytes::<32>());
                        sqlx::query(
                            "INSERT INTO sim_billing_keys (billing_key, customer_key, card, created_at) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&billing_key)
                        .bind(customer_key)
                        .bind(serde_json::to_string(&card).expect("a card serializes"))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        (
                            200,
                            json!({
                                "mId": "tosspayments",
                                "customerKey": customer_key,
                                "authenticatedAt": iso_kst(now),
                                "method": "카드",
                                "billingKey": billing_key,
                                "card": card.json(),
                                "cardCompany": card.company,
                                "cardNumber": card.number,
                            }),
                        )
                    }
                }
            }
        };
        store_in(&mut tx, scope, key, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    }

    pub(super) async fn charge(
        &self,
        secret: &str,
        billing_key: &str,
        body: &Map<String, Value>,
        scope: &str,
        key: Option<&str>,
        now: i64,
    ) -> Result<Answer, sqlx::Error> {
        let payments_scope = ids::sha256_hex(secret.as_bytes());
        // IMMEDIATE: the transaction reads before it writes; a deferred one could not take the write
        // lock after another writer committed (SQLITE_BUSY_SNAPSHOT, which busy_timeout cannot wait out).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let answer = match validate_charge(body) {
            Err(answer) => answer,
            Ok(charge) => {
                let record: Option<(String, String)> = sqlx::query_as(
                    "SELECT customer_key, card FROM sim_billing_keys WHERE billing_key = $1",
                )
                .bind(billing_key)
                .fetch_optional(&mut *tx)
                .await?;
                match record {
                    None => coded("INVALID_BILL_KEY_REQUEST"),
                    Some((owner, _)) if owner != charge.customer_key => {
                        coded("NOT_MATCHES_CUSTOMER_KEY")
                    }
                    Some(_) if charge.amount < 100 => coded("BELOW_MINIMUM_AMOUNT"),
                    Some((_, card)) => {
                        let card: Card =
                            serde_json::from_str(&card).unwrap_or_else(|_| default_card());
                        let exists: Option<(String,)> = sqlx::query_as(
                            "SELECT status FROM sim_payments WHERE scope = $1 AND order_id = $2",
                        )
                        .bind(&payments_scope)
                        .bind(&charge.order_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if exists.is_some() {
                            coded("DUPLICATED_ORDER_ID")
                        } else {
                            let (answer, payment) = payment(&charge, &card, now);
                            let status = payment["status"].as_str().unwrap_or("ABORTED").to_owned();
                            sqlx::query(
                                "INSERT INTO sim_payments (scope, order_id, status, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                            )
                            .bind(&payments_scope)
                            .bind(&charge.order_id)
                            .bind(status)
                            .bind(payment.to_string())
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                            answer
                        }
                    }
                }
            }
        };
        store_in(&mut tx, scope, key, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    }

    pub(super) async fn lookup(&self, secret: &str, order_id: &str) -> Result<Answer, sqlx::Error> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT body FROM sim_payments WHERE scope = $1 AND order_id = $2")
                .bind(ids::sha256_hex(secret.as_bytes()))
                .bind(order_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match found {
            Some((body,)) => (200, serde_json::from_str(&body).unwrap_or(Value::Null)),
            None => coded("NOT_FOUND_PAYMENT"),
        })
    }

    pub(super) async fn record_call(&self, call: &CallRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sim_calls (api, idempotency_key, order_id, customer_key, status, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&call.api)
        .bind(&call.idempotency_key)
        .bind(&call.order_id)
        .bind(&call.customer_key)
        .bind(i64::from(call.status))
        .bind(&call.outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn calls(&self, api: Option<&str>) -> Result<Vec<CallRecord>, sqlx::Error> {
        #[derive(sqlx::FromRow)]
        struct Row {
            api: String,
            idempotency_key: Option<String>,
            order_id: Option<String>,
            customer_key: Option<String>,
            status: i64,
            outcome: String,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT api, idempotency_key, order_id, customer_key, status, outcome FROM sim_calls \
             WHERE $1 IS NULL OR api = $1 ORDER BY id",
        )
        .bind(api)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| CallRecord {
                api: r.api,
                idempotency_key: r.idempotency_key,
                order_id: r.order_id,
                customer_key: r.customer_key,
                status: r.status as u16,
                outcome: r.outcome,
            })
            .collect())
    }

    pub(super) async fn stats(&self) -> Result<Stats, sqlx::Error> {
        let (billing_keys,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sim_billing_keys")
            .fetch_one(&self.pool)
            .await?;
        let (payments_done,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM sim_payments WHERE status = 'DONE'")
                .fetch_one(&self.pool)
                .await?;
        let (payments_declined,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM sim_payments WHERE status <> 'DONE'")
                .fetch_one(&self.pool)
                .await?;
        let calls: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT api, outcome, COUNT(*) FROM sim_calls GROUP BY api, outcome ORDER BY api, outcome")
                .fetch_all(&self.pool)
                .await?;
        Ok(Stats {
            billing_keys,
            payments_done,
            payments_declined,
            calls,
        })
    }

    pub(super) async fn billing_keys(&self) -> Result<Vec<String>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT billing_key FROM sim_billing_keys")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}

async fn store_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    scope: &str,
    key: Option<&str>,
    answer: &Answer,
) -> Result<(), sqlx::Error> {
    if let Some(key) = key {
        sqlx::query("UPDATE sim_idempotency SET state = 'DONE', status = $1, body = $2 WHERE scope = $3 AND key = $4")
            .bind(i64::from(answer.0))
            .bind(answer.1.to_string())
            .bind(scope)
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn validate_issue(m: &Map<String, Value>) -> Result<(&str, &str), Answer> {
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "authKey" | "customerKey"))
    {
        return Err(invalid(k));
    }
    let auth_key = text(m, "authKey", true)?.unwrap_or_default();
    let customer_key = text(m, "customerKey", true)?.unwrap_or_default();
    if toss_billing_contract::check_auth_key(auth_key).is_err() {
        return Err(invalid("authKey"));
    }
    if toss_billing_contract::check_customer_key_shape(customer_key).is_err()
        || customer_key == toss_billing_contract::ANONYMOUS_CUSTOMER_KEY
    {
        return Err(invalid("customerKey"));
    }
    Ok((auth_key, customer_key))
}

struct ChargeBody {
    customer_key: String,
    amount: i64,
    order_id: String,
    order_name: String,
    tax_free: i64,
    tax_exempt: i64,
    installments: i64,
}

fn validate_charge(m: &Map<String, Value>) -> Result<ChargeBody, Answer> {
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
    let customer_key = text(m, "customerKey", true)?.unwrap_or_default();
    let amount = integer(m, "amount", true)?.unwrap_or_default();
    let order_id = text(m, "orderId", true)?.unwrap_or_default();
    let order_name = text(m, "orderName", true)?.unwrap_or_default();
    for k in ["customerEmail", "customerName"] {
        if text(m, k, false)?.is_some_and(|s| s.chars().count() > 100) {
            return Err(invalid(k));
        }
    }
    let tax_free = integer(m, "taxFreeAmount", false)?.unwrap_or(0);
    let tax_exempt = integer(m, "taxExemptionAmount", false)?.unwrap_or(0);
    let installments = integer(m, "cardInstallmentPlan", false)?.unwrap_or(0);
    if toss_billing_contract::check_customer_key_shape(customer_key).is_err() {
        return Err(invalid("customerKey"));
    }
    if !toss_billing_contract::is_valid_order_id(order_id) {
        return Err(invalid("orderId"));
    }
    if order_name.is_empty() || order_name.chars().count() > 100 {
        return Err(invalid("orderName"));
    }
    if amount <= 0 {
        return Err(invalid("amount"));
    }
    if !(0..=amount).contains(&tax_free) || !(0..=amount).contains(&tax_exempt) {
        return Err(invalid("taxFreeAmount"));
    }
    if !(0..=12).contains(&installments) {
        return Err(invalid("cardInstallmentPlan"));
    }
    Ok(ChargeBody {
        customer_key: customer_key.to_owned(),
        amount,
        order_id: order_id.to_owned(),
        order_name: order_name.to_owned(),
        tax_free,
        tax_exempt,
        installments,
    })
}

/// The answer to a charge and the Payment kept for lookups: approved, or (for a card that rejects
/// payments) declined with `REJECT_CARD_PAYMENT`, recorded as an `ABORTED` payment.
fn payment(charge: &ChargeBody, card: &Card, now: i64) -> (Answer, Value) {
    let at = iso_kst(now);
    let payment_key = format!("tbill{}", ids::hex(&ids::random_bytes::<15>()));
    let taxable = charge.amount - charge.tax_free - charge.tax_exempt;
    let vat = (taxable as f64 / 11.0).round() as i64;
    let mut card_json = card.json();
    if let Value::Object(c) = &mut card_json {
        c.insert("amount".into(), json!(charge.amount));
        c.insert("installmentPlanMonths".into(), json!(charge.installments));
        c.insert("isInterestFree".into(), json!(false));
        c.insert(
            "approveNo".into(),
            json!(format!("{:08}", (now / 1000) % 100_000_000)),
        );
        c.insert("acquireStatus".into(), json!("READY"));
    }
    let declined = card.reject_payments;
    let body = json!({
        "mId": "tosspayments",
        "paymentKey": payment_key,
        "orderId": charge.order_id,
        "orderName": charge.order_name,
        "status": if declined { "ABORTED" } else { "DONE" },
        "type": "BILLING",
        "method": "카드",
        "requestedAt": at,
        "approvedAt": if declined { Value::Null } else { json!(at) },
        "card": card_json,
        "currency": "KRW",
        "totalAmount": charge.amount,
        "balanceAmount": charge.amount,
        "suppliedAmount": taxable - vat,
        "vat": vat,
        "taxFreeAmount": charge.tax_free,
        "taxExemptionAmount": charge.tax_exempt,
        "failure": if declined { json!({"code": "REJECT_CARD_PAYMENT", "message": "한도초과 혹은 잔액부족으로 결제에 실패했습니다."}) } else { Value::Null },
        "receipt": {"url": format!("https://sim.invalid/receipt/{payment_key}")},
        "country": "KR",
        "version": "2022-11-16",
    });
    let answer = if declined {
        coded("REJECT_CARD_PAYMENT")
    } else {
        (200, body.clone())
    };
    (answer, body)
}
