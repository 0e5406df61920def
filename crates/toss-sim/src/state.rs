//! The simulator's durable state, in its own SQLite file: what Toss remembers.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{json, Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::cards::{default_card, sandbox_card, Card};
use super::{coded, invalid, Answer, CallRecord, Stats};
use crate::cancel::{
    apply_cancel, kept_for_replays, parse_cancel, plan_cancel, CancelStamp, Cancelable,
};
use crate::clock::iso_kst;
use crate::fields::{integer, only_known, text};
use crate::ids;
use crate::webhooks::{BILLING_DELETED, PAYMENT_STATUS_CHANGED};

mod outbox;

pub(crate) use outbox::{Attempt, DueEvent};

/// The tables, in their current shape. A file made by an older simulator has some of them in an
/// older shape: `MIGRATIONS` adds what they lack before `INDEXES` uses it.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sim_idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
    status INTEGER, body TEXT, created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key));
CREATE TABLE IF NOT EXISTS sim_used_auth_keys (hash TEXT PRIMARY KEY NOT NULL, used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sim_billing_keys (
    billing_key TEXT PRIMARY KEY NOT NULL, customer_key TEXT NOT NULL, card TEXT NOT NULL,
    created_at INTEGER NOT NULL, deleted_at INTEGER);
CREATE TABLE IF NOT EXISTS sim_payments (
    scope TEXT NOT NULL, order_id TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL,
    created_at INTEGER NOT NULL, payment_key TEXT, customer_key TEXT,
    PRIMARY KEY (scope, order_id));
CREATE TABLE IF NOT EXISTS sim_cancels (
    transaction_key TEXT PRIMARY KEY NOT NULL, payment_key TEXT NOT NULL, amount INTEGER NOT NULL,
    canceled_at INTEGER NOT NULL, via TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sim_calls (
    id INTEGER PRIMARY KEY, api TEXT NOT NULL, idempotency_key TEXT, order_id TEXT,
    customer_key TEXT, status INTEGER NOT NULL, outcome TEXT NOT NULL, payment_key TEXT);
";

/// Columns added since the first simulator files: `(table, column, declaration)`.
const MIGRATIONS: &[(&str, &str, &str)] = &[
    ("sim_billing_keys", "deleted_at", "INTEGER"),
    ("sim_payments", "payment_key", "TEXT"),
    ("sim_payments", "customer_key", "TEXT"),
    ("sim_calls", "payment_key", "TEXT"),
];

const INDEXES: &str = "
UPDATE sim_payments SET payment_key = json_extract(body, '$.paymentKey') WHERE payment_key IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS sim_payments_by_key ON sim_payments (payment_key);
CREATE INDEX IF NOT EXISTS sim_cancels_by_payment ON sim_cancels (payment_key, canceled_at);
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

/// Whose payments a cancel may touch.
#[derive(Debug, Clone, Copy)]
pub(super) enum Merchant<'a> {
    /// An API call: the payments made with this secret key (its SHA-256, hex).
    Secret(&'a str),
    /// The console: any payment (payment keys are unique and unguessable).
    Console,
}

impl Merchant<'_> {
    fn scope(&self) -> Option<&str> {
        match self {
            Merchant::Secret(scope) => Some(scope),
            Merchant::Console => None,
        }
    }
    fn via(&self) -> &'static str {
        match self {
            Merchant::Secret(_) => "api",
            Merchant::Console => "console",
        }
    }
}

/// Where an answer is kept for Idempotency-Key replays: the scope and, if the call had one, the key.
#[derive(Debug, Clone, Copy)]
pub(super) struct Replays<'a> {
    pub scope: &'a str,
    pub key: Option<&'a str>,
}

/// What the simulator knows of a payment before processing a call about it (for scripted rules
/// and the call log).
#[derive(Debug, Clone, Default)]
pub(super) struct PaymentFacts {
    pub order_id: Option<String>,
    pub customer_key: Option<String>,
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
        for (table, column, declaration) in MIGRATIONS {
            add_column_if_missing(&pool, table, column, declaration).await?;
        }
        sqlx::raw_sql(INDEXES).execute(&pool).await?;
        sqlx::raw_sql(outbox::SCHEMA).execute(&pool).await?;
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
        replays: Replays<'_>,
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
        store_in(&mut tx, replays.scope, replays.key, &answer).await?;
        tx.commit().await?;
        Ok(answer)
    }

    pub(super) async fn charge(
        &self,
        secret: &str,
        billing_key: &str,
        body: &Map<String, Value>,
        replays: Replays<'_>,
        now: i64,
        receipt_base: Option<&str>,
    ) -> Result<Answer, sqlx::Error> {
        let payments_scope = ids::sha256_hex(secret.as_bytes());
        // IMMEDIATE: the transaction reads before it writes; a deferred one could not take the write
        // lock after another writer committed (SQLITE_BUSY_SNAPSHOT, which busy_timeout cannot wait out).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let answer = match validate_charge(body) {
            Err(answer) => answer,
            Ok(charge) => {
                let record: Option<(String, String)> = sqlx::query_as(
                    "SELECT customer_key, card FROM sim_billing_keys \
                     WHERE billing_key = $1 AND deleted_at IS NULL",
                )
                .bind(billing_key)
                .fetch_optional(&mut *tx)
                .await?;
                match record {
                    // A deleted key answers like an unknown one (inferred: Toss documents no code).
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
                            let (answer, payment) = payment(&charge, &card, now, receipt_base);
                            let status = payment["status"].as_str().unwrap_or("ABORTED").to_owned();
                            sqlx::query(
                                "INSERT INTO sim_payments (scope, order_id, status, body, created_at, payment_key, customer_key) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            )
                            .bind(&payments_scope)
                            .bind(&charge.order_id)
                            .bind(status)
                            .bind(payment.to_string())
                            .bind(now)
                            .bind(payment["paymentKey"].as_str())
                            .bind(&charge.customer_key)
                            .execute(&mut *tx)
                            .await?;
                            answer
                        }
                    }
                }
            }
        };
        store_in(&mut tx, replays.scope, replays.key, &answer).await?;
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

    /// `GET /v1/payments/{paymentKey}`: the Payment, within the merchant's payments.
    pub(super) async fn payment_by_key(
        &self,
        merchant: Merchant<'_>,
        payment_key: &str,
    ) -> Result<Answer, sqlx::Error> {
        Ok(match self.payment_body(merchant, payment_key).await? {
            Some(body) => (200, body),
            None => coded("NOT_FOUND_PAYMENT"),
        })
    }

    /// The stored Payment object, if the merchant has one with this key.
    pub(super) async fn payment_body(
        &self,
        merchant: Merchant<'_>,
        payment_key: &str,
    ) -> Result<Option<Value>, sqlx::Error> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT body FROM sim_payments WHERE payment_key = $1 AND ($2 IS NULL OR scope = $2)",
        )
        .bind(payment_key)
        .bind(merchant.scope())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|(body,)| serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    /// The order and customer of a payment, for rules and the call log (empty if unknown).
    pub(super) async fn payment_facts(
        &self,
        merchant: Merchant<'_>,
        payment_key: &str,
    ) -> Result<PaymentFacts, sqlx::Error> {
        let found: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT order_id, customer_key FROM sim_payments \
             WHERE payment_key = $1 AND ($2 IS NULL OR scope = $2)",
        )
        .bind(payment_key)
        .bind(merchant.scope())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found
            .map(|(order_id, customer_key)| PaymentFacts {
                order_id: Some(order_id),
                customer_key,
            })
            .unwrap_or_default())
    }

    /// The customer a billing key was issued to (deleted keys too), for rules and the call log.
    pub(super) async fn billing_key_owner(
        &self,
        billing_key: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT customer_key FROM sim_billing_keys WHERE billing_key = $1")
                .bind(billing_key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.map(|(owner,)| owner))
    }

    /// `POST /v1/payments/{paymentKey}/cancel` (or the console's cancel): validates, decides
    /// (`cancel::plan_cancel`), and stores the cancelled Payment, its `PAYMENT_STATUS_CHANGED`
    /// webhook and the answer for replays in one transaction.
    pub(super) async fn cancel(
        &self,
        merchant: Merchant<'_>,
        payment_key: &str,
        body: &Map<String, Value>,
        replays: Option<Replays<'_>>,
        now: i64,
    ) -> Result<Answer, sqlx::Error> {
        // IMMEDIATE: the transaction reads before it writes (see `issue`).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let answer = match parse_cancel(body) {
            Err(answer) => answer,
            Ok(request) => cancel_in(&mut tx, merchant, payment_key, &request, now).await?,
        };
        match replays {
            Some(replays) if kept_for_replays(&answer) => {
                store_in(&mut tx, replays.scope, replays.key, &answer).await?
            }
            Some(Replays {
                scope,
                key: Some(key),
            }) => abandon_in(&mut tx, scope, key).await?,
            _ => {}
        }
        tx.commit().await?;
        Ok(answer)
    }

    /// `DELETE /v1/billing/{billingKey}` (or the console's deletion): marks the key deleted and
    /// queues `BILLING_DELETED` with `reason`. An unknown or already deleted key answers
    /// `INVALID_BILL_KEY_REQUEST`, as a charge with it would (inferred).
    pub(super) async fn delete_billing_key(
        &self,
        billing_key: &str,
        reason: &str,
        replays: Option<Replays<'_>>,
        now: i64,
    ) -> Result<Answer, sqlx::Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let deleted = sqlx::query(
            "UPDATE sim_billing_keys SET deleted_at = $1 WHERE billing_key = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(billing_key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let answer = if deleted {
            let data = json!({ "billingKey": billing_key, "reason": reason });
            outbox::enqueue_in(&mut tx, BILLING_DELETED, &data, now, 0).await?;
            // The answer's shape is inferred: Toss documents none for this call.
            (
                200,
                json!({ "billingKey": billing_key, "deletedAt": iso_kst(now) }),
            )
        } else {
            coded("INVALID_BILL_KEY_REQUEST")
        };
        if let Some(replays) = replays {
            store_in(&mut tx, replays.scope, replays.key, &answer).await?;
        }
        tx.commit().await?;
        Ok(answer)
    }

    pub(super) async fn record_call(&self, call: &CallRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sim_calls (api, idempotency_key, order_id, customer_key, status, outcome, payment_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&call.api)
        .bind(&call.idempotency_key)
        .bind(&call.order_id)
        .bind(&call.customer_key)
        .bind(i64::from(call.status))
        .bind(&call.outcome)
        .bind(&call.payment_key)
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
            payment_key: Option<String>,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT api, idempotency_key, order_id, customer_key, status, outcome, payment_key FROM sim_calls \
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
                payment_key: r.payment_key,
            })
            .collect())
    }

    pub(super) async fn stats(&self) -> Result<Stats, sqlx::Error> {
        let (billing_keys, billing_keys_deleted): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(deleted_at) FROM sim_billing_keys")
                .fetch_one(&self.pool)
                .await?;
        let (payments_done, payments_declined, payments_partial_canceled, payments_canceled): (
            i64,
            i64,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT COALESCE(SUM(status <> 'ABORTED'), 0), COALESCE(SUM(status = 'ABORTED'), 0), \
                    COALESCE(SUM(status = 'PARTIAL_CANCELED'), 0), COALESCE(SUM(status = 'CANCELED'), 0) \
             FROM sim_payments",
        )
        .fetch_one(&self.pool)
        .await?;
        let (cancels, refunded_amount): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM sim_cancels")
                .fetch_one(&self.pool)
                .await?;
        let calls: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT api, outcome, COUNT(*) FROM sim_calls GROUP BY api, outcome ORDER BY api, outcome")
                .fetch_all(&self.pool)
                .await?;
        Ok(Stats {
            billing_keys,
            billing_keys_deleted,
            payments_done,
            payments_declined,
            payments_partial_canceled,
            payments_canceled,
            cancels,
            refunded_amount,
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

/// Forgets a key whose call was refused before anything was processed, so its retry is processed.
async fn abandon_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    scope: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM sim_idempotency WHERE scope = $1 AND key = $2 AND state = 'PROCESSING'",
    )
    .bind(scope)
    .bind(key)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds a column an older simulator file lacks (SQLite has no `ADD COLUMN IF NOT EXISTS`).
async fn add_column_if_missing(
    pool: &SqlitePool,
    table: &str,
    column: &str,
    declaration: &str,
) -> Result<(), sqlx::Error> {
    let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(pool)
        .await?;
    if !columns.iter().any(|(name,)| name == column) {
        sqlx::raw_sql(&format!(
            "ALTER TABLE {table} ADD COLUMN {column} {declaration}"
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// The cancel itself, once its body is valid: load, decide, store, queue the webhook.
async fn cancel_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    merchant: Merchant<'_>,
    payment_key: &str,
    request: &crate::cancel::CancelRequest,
    now: i64,
) -> Result<Answer, sqlx::Error> {
    let found: Option<(String,)> = sqlx::query_as(
        "SELECT body FROM sim_payments WHERE payment_key = $1 AND ($2 IS NULL OR scope = $2)",
    )
    .bind(payment_key)
    .bind(merchant.scope())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(mut payment) = found.and_then(|(body,)| serde_json::from_str::<Value>(&body).ok())
    else {
        return Ok(coded("NOT_FOUND_PAYMENT"));
    };
    let (last_cancel_at,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(canceled_at) FROM sim_cancels WHERE payment_key = $1")
            .bind(payment_key)
            .fetch_one(&mut **tx)
            .await?;
    let plan = match plan_cancel(&Cancelable::of(&payment, last_cancel_at), request, now) {
        Ok(plan) => plan,
        Err(refusal) => return Ok(refusal.answer()),
    };
    let stamp = CancelStamp {
        canceled_at: iso_kst(now),
        transaction_key: ids::hex(&ids::random_bytes::<16>()),
        receipt_key: ids::hex(&ids::random_bytes::<16>()),
    };
    apply_cancel(&mut payment, &plan, request, &stamp);
    sqlx::query("UPDATE sim_payments SET status = $1, body = $2 WHERE payment_key = $3")
        .bind(plan.status_after)
        .bind(payment.to_string())
        .bind(payment_key)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO sim_cancels (transaction_key, payment_key, amount, canceled_at, via) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&stamp.transaction_key)
    .bind(payment_key)
    .bind(plan.amount)
    .bind(now)
    .bind(merchant.via())
    .execute(&mut **tx)
    .await?;
    outbox::enqueue_in(tx, PAYMENT_STATUS_CHANGED, &payment, now, 0).await?;
    Ok((200, payment))
}

fn validate_issue(m: &Map<String, Value>) -> Result<(&str, &str), Answer> {
    only_known(m, &["authKey", "customerKey"])?;
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
    only_known(m, KNOWN)?;
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
fn payment(
    charge: &ChargeBody,
    card: &Card,
    now: i64,
    receipt_base: Option<&str>,
) -> (Answer, Value) {
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
        "isPartialCancelable": !card.whole_cancel_only,
        "cancels": null,
        "receipt": {"url": receipt_url(receipt_base, &payment_key)},
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

/// The customer's card sales slip: the simulator's own page (`GET /receipts/{paymentKey}`) under
/// the address the caller reached it at, else a placeholder that resolves nowhere.
fn receipt_url(receipt_base: Option<&str>, payment_key: &str) -> String {
    match receipt_base {
        Some(base) => format!("{base}/receipts/{payment_key}"),
        None => format!("https://sim.invalid/receipt/{payment_key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables as the first simulator (before refunds and webhooks) made them.
    const FIRST_SCHEMA: &str = "
        CREATE TABLE sim_idempotency (scope TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
            status INTEGER, body TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (scope, key));
        CREATE TABLE sim_used_auth_keys (hash TEXT PRIMARY KEY NOT NULL, used_at INTEGER NOT NULL);
        CREATE TABLE sim_billing_keys (billing_key TEXT PRIMARY KEY NOT NULL, customer_key TEXT NOT NULL,
            card TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE sim_payments (scope TEXT NOT NULL, order_id TEXT NOT NULL, status TEXT NOT NULL,
            body TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (scope, order_id));
        CREATE TABLE sim_calls (id INTEGER PRIMARY KEY, api TEXT NOT NULL, idempotency_key TEXT,
            order_id TEXT, customer_key TEXT, status INTEGER NOT NULL, outcome TEXT NOT NULL);
    ";

    fn temp_file() -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "toss-sim-state-{}.sqlite",
            ids::hex(&ids::random_bytes::<8>())
        ))
    }

    #[tokio::test]
    async fn a_file_from_before_refunds_opens_and_its_payments_can_be_refunded() {
        let path = temp_file();
        {
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                .unwrap()
                .create_if_missing(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            sqlx::raw_sql(FIRST_SCHEMA).execute(&pool).await.unwrap();
            let card = r#"{"issuerCode":"61","company":"현대","number":"433012******123*","cardType":"신용","ownerType":"개인","rejectPayments":false}"#;
            sqlx::query("INSERT INTO sim_billing_keys VALUES ('bk-old', 'ck-old', $1, 0)")
                .bind(card)
                .execute(&pool)
                .await
                .unwrap();
            let payment = json!({"paymentKey": "pk-old", "orderId": "order-old", "status": "DONE",
                "totalAmount": 9900, "balanceAmount": 9900});
            sqlx::query("INSERT INTO sim_payments VALUES ('scope', 'order-old', 'DONE', $1, 0)")
                .bind(payment.to_string())
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        let state = SimState::open(&path).await.unwrap();
        let (status, found) = state
            .payment_by_key(Merchant::Secret("scope"), "pk-old")
            .await
            .unwrap();
        assert_eq!(
            (status, found["orderId"].as_str()),
            (200, Some("order-old"))
        );
        let body = json!({"cancelReason": "고객 요청", "cancelAmount": 900});
        let (status, canceled) = state
            .cancel(
                Merchant::Secret("scope"),
                "pk-old",
                body.as_object().unwrap(),
                None,
                1_000,
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{canceled}");
        assert_eq!(canceled["status"], "PARTIAL_CANCELED");
        assert_eq!(canceled["balanceAmount"], 9_000);
        let (status, _) = state
            .delete_billing_key("bk-old", "삭제 API 요청", None, 2_000)
            .await
            .unwrap();
        assert_eq!(status, 200);
        let stats = state.stats().await.unwrap();
        assert_eq!(
            (
                stats.cancels,
                stats.refunded_amount,
                stats.billing_keys_deleted
            ),
            (1, 900, 1)
        );
        drop(state);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
