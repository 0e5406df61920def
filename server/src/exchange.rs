//! The authKey → billing-key exchange, exactly once (`docs/handoff-contract.md` §2, "What the
//! backend must guarantee"):
//!
//! 1. the hand-off writes a pending exchange (the authKey sealed) before anything else;
//! 2. whoever holds the exchange's lease in the database — the request's instance, or any
//!    instance's reconciler after a crash — calls Toss, always with the same Idempotency-Key, in a
//!    task that outlives the request (`TaskTracker`: SIGTERM drains it);
//! 3. Toss's billing key is stored first, display fields or not, in the transaction that makes the
//!    exchange final; only the allowlist of `toss::codes` makes a refusal final;
//! 4. everything else leaves it pending for the next run, until Toss's 15-day window closes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;
use toss_billing_contract::{CardSummary, ErrorBody, IssueRegistered};

use crate::clock::{Clock, Millis};
use crate::crypto::Keyring;
use crate::ids;
use crate::lease::{self, Leased};
use crate::metrics::{HandoffOutcome, LeasedWork, Metrics};
use crate::store::exchanges::{
    ClaimedExchange, ExchangeRow, ExchangeStatus, NewBillingKey, NewExchange,
};
use crate::store::{Store, StoreError};
use crate::toss::{codes, TossClient, TossError};

/// Toss keeps an Idempotency-Key 15 days; we stop a day early so every retry is still a replay.
pub const IDEMPOTENCY_WINDOW_MS: Millis = 14 * 86_400_000;

/// What a hand-off request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffAnswer {
    /// Final: `status` and the JSON `body` every replay gets (200 `{card}`, or 4xx/410 `{code}`).
    Final {
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: String,
        /// The billing key stored (a 200).
        billing_key_id: Option<i64>,
    },
    /// Still running: ask again.
    Pending,
}

/// Why a hand-off was refused before any exchange.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// The authKey is already being exchanged for another customer.
    #[error("the authKey belongs to another customer")]
    OtherCustomer,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How exchanges are run.
#[derive(Debug, Clone)]
pub struct ExchangeSettings {
    /// This instance's name in leases.
    pub owner: String,
    /// A lease without renewal.
    pub lease: Duration,
    /// How long a request waits before answering 202.
    pub wait: Duration,
    /// Retries within one run.
    pub quick_retries: u32,
    /// First pause between them.
    pub backoff: Duration,
}

/// Wakes requests waiting in this process when their exchange turns final.
#[derive(Default)]
struct Waiters(Mutex<HashMap<String, Arc<Notify>>>);

impl Waiters {
    fn of(&self, key: &str) -> Arc<Notify> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_owned()).or_default().clone()
    }
    fn wake(&self, key: &str) {
        let notify = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }
}

struct Inner {
    store: Store,
    toss: TossClient,
    keyring: Arc<Keyring>,
    clock: Clock,
    settings: ExchangeSettings,
    tasks: TaskTracker,
    waiters: Waiters,
    registered: Arc<Notify>,
    metrics: Metrics,
}

/// The exchange service. Cheap to clone.
#[derive(Clone)]
pub struct Exchanges(Arc<Inner>);

/// The associated data that binds a sealed authKey to its exchange and customer.
fn auth_key_binding(idempotency_key: &str, customer_key: &str) -> Vec<u8> {
    format!("authKey\0{idempotency_key}\0{customer_key}").into_bytes()
}

/// The backoff before the reconciler's next try: 1 s, doubling, at most 10 min.
fn backoff_after(attempts: i64) -> Millis {
    let doublings = attempts.clamp(1, 20) - 1;
    (1_000i64 << doublings.min(10)).min(600_000)
}

/// The display fields of Toss's issue answer: `cardCompany`/`cardNumber` at the top (or inside
/// `card`), `card.cardType`, `card.ownerType`. Any may be missing.
pub fn card_summary(toss: &Value) -> CardSummary {
    let card = toss.get("card");
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let inner = |name: &str| text(card.and_then(|c| c.get(name)));
    CardSummary {
        company: text(toss.get("cardCompany")).or_else(|| inner("company")),
        number: text(toss.get("cardNumber")).or_else(|| inner("number")),
        card_type: inner("cardType"),
        owner_type: inner("ownerType"),
    }
    .plausible()
}

fn error_json(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorBody {
        code: code.to_owned(),
        message: message.to_owned(),
        retry_after_ms: None,
    })
    .expect("plain strings serialize")
}

fn final_answer(row: &ExchangeRow) -> Option<HandoffAnswer> {
    match row.status {
        ExchangeStatus::Pending => None,
        _ => Some(HandoffAnswer::Final {
            status: row
                .answer_status
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(500),
            body: row
                .answer_body
                .clone()
                .unwrap_or_else(|| error_json("INTERNAL_ERROR", "the stored answer is missing")),
            billing_key_id: row.billing_key_id,
        }),
    }
}

impl Exchanges {
    /// The service.
    #[allow(clippy::too_many_arguments)] // its dependencies, each named where it is built
    pub fn new(
        store: Store,
        toss: TossClient,
        keyring: Arc<Keyring>,
        clock: Clock,
        settings: ExchangeSettings,
        tasks: TaskTracker,
        registered: Arc<Notify>,
        metrics: Metrics,
    ) -> Exchanges {
        Exchanges(Arc::new(Inner {
            store,
            toss,
            keyring,
            clock,
            settings,
            tasks,
            waiters: Waiters::default(),
            registered,
            metrics,
        }))
    }

    /// The hand-off: writes the exchange ahead (with the checkout terms the registration was
    /// started with), runs it (or lets the runner that has it go on), and waits a bounded time for
    /// a final answer. The exchange goes on when the caller leaves.
    pub async fn hand_off(
        &self,
        auth_key: &str,
        customer_key: &str,
        checkout_terms: Option<&str>,
    ) -> Result<HandoffAnswer, HandoffError> {
        let key = ids::exchange_key(auth_key);
        let now = self.0.clock.now_ms();
        let sealed = self
            .0
            .keyring
            .seal(auth_key.as_bytes(), &auth_key_binding(&key, customer_key));
        let row = self
            .0
            .store
            .insert_exchange(NewExchange {
                idempotency_key: &key,
                customer_key,
                sealed_auth_key: &sealed.to_bytes(),
                now,
                deadline_at: now + IDEMPOTENCY_WINDOW_MS,
                checkout_terms,
            })
            .await?;
        if row.customer_key != customer_key {
            return Err(HandoffError::OtherCustomer);
        }
        if let Some(answer) = final_answer(&row) {
            return Ok(answer);
        }
        self.wait(&key).await
    }

    /// The exchange of this authKey, if one was written.
    pub async fn existing(&self, auth_key: &str) -> Result<Option<ExchangeRow>, StoreError> {
        self.0.store.exchange(&ids::exchange_key(auth_key)).await
    }

    /// Waits for the exchange to turn final, starting it whenever nobody runs it; `Pending` after
    /// the configured wait.
    async fn wait(&self, key: &str) -> Result<HandoffAnswer, HandoffError> {
        let until = tokio::time::Instant::now() + self.0.settings.wait;
        let mut poll = Duration::from_millis(50);
        loop {
            let notify = self.0.waiters.of(key);
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let Some(row) = self.0.store.exchange(key).await? else {
                return Ok(HandoffAnswer::Pending);
            };
            if let Some(answer) = final_answer(&row) {
                return Ok(answer);
            }
            let now = self.0.clock.now_ms();
            let free = row.lease_until.is_none_or(|until| until < now);
            if free && row.next_attempt_at <= now {
                self.start(key).await?;
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(HandoffAnswer::Pending);
            }
            // Woken at once by a runner in this process; rows finished by another instance are
            // seen by polling.
            let _ = tokio::time::timeout(poll.min(left), notified).await;
            poll = (poll * 2).min(Duration::from_millis(250));
        }
    }

    /// Claims the exchange and runs it in the background, if nobody else has it.
    async fn start(&self, key: &str) -> Result<bool, StoreError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        match self
            .0
            .store
            .claim_exchange(key, &self.0.settings.owner, now, lease_until)
            .await?
        {
            Some(claimed) => {
                self.spawn_run(claimed);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The reconciler's turn: claims due pending exchanges (those whose runner crashed, gave up
    /// or is waiting for its backoff) and runs them. Returns how many were started.
    pub async fn reconcile_once(&self, batch: i64) -> Result<usize, StoreError> {
        let now = self.0.clock.now_ms();
        let lease_until = now + self.0.settings.lease.as_millis() as i64;
        let claimed = self
            .0
            .store
            .claim_due_exchanges(&self.0.settings.owner, now, lease_until, batch)
            .await?;
        let count = claimed.len();
        for exchange in claimed {
            self.spawn_run(exchange);
        }
        Ok(count)
    }

    /// Runs a claimed exchange in a task of its own, in a span (and as the request) of the
    /// hand-off that wrote it, whoever started the run.
    fn spawn_run(&self, claimed: ClaimedExchange) {
        if claimed.lease_taken_from.is_some() {
            self.0.metrics.lease_taken_over(LeasedWork::Exchange);
        }
        let span = tracing::info_span!(
            parent: None,
            "exchange",
            exchange = &claimed.idempotency_key[3..13],
            request_id = tracing::field::Empty,
        );
        let request = claimed.request_id.clone();
        let this = self.clone();
        self.0.tasks.spawn(crate::request_id::on_behalf_of(
            request,
            span,
            this.run(claimed),
        ));
    }

    /// One run of a claimed exchange. Every path ends with the exchange final, postponed, or (only
    /// when the database itself is failing) with its lease left to lapse for another runner.
    async fn run(self, claimed: ClaimedExchange) {
        let key = claimed.idempotency_key.clone();
        let tag = &key[3..13];
        let heartbeat = self.renew_while_running(&key);
        let outcome = self.call_toss(&claimed, tag).await;
        heartbeat.abort();
        let now = self.0.clock.now_ms();
        let metrics = &self.0.metrics;
        let stored = match outcome {
            Outcome::Registered(body) => self.store_registered(&claimed, &body, tag).await,
            Outcome::Final { status, code, body } => self
                .0
                .store
                .finish_exchange_without_key(&key, ExchangeStatus::Refused, status, &body, now)
                .await
                .map(|made_final| {
                    if made_final {
                        metrics.handoff_outcome(HandoffOutcome::Refused, Some(&code));
                    }
                    tracing::info!(
                        exchange = tag,
                        status,
                        code,
                        "exchange refused by Toss (final)"
                    )
                }),
            Outcome::Expired => self
                .0
                .store
                .finish_exchange_without_key(
                    &key,
                    ExchangeStatus::Expired,
                    410,
                    &error_json(
                        "HANDOFF_EXPIRED",
                        "카드 등록을 확인할 수 있는 기간이 지났습니다. 카드를 다시 등록해 주세요.",
                    ),
                    now,
                )
                .await
                .map(|made_final| {
                    if made_final {
                        metrics.handoff_outcome(HandoffOutcome::Expired, Some("HANDOFF_EXPIRED"));
                    }
                    tracing::error!(
                        exchange = tag,
                        "exchange expired without a final answer from Toss"
                    )
                }),
            Outcome::Later { why, after_ms } => self
                .0
                .store
                .postpone_exchange(&key, &self.0.settings.owner, now + after_ms, &why, now)
                .await
                .map(|held| {
                    if held {
                        metrics.handoff_outcome(HandoffOutcome::RetryLater, Some(&why));
                    }
                    tracing::warn!(
                        exchange = tag,
                        why,
                        retry_in_ms = after_ms,
                        "exchange not final yet"
                    )
                }),
        };
        if let Err(e) = stored {
            tracing::error!(exchange = tag, error = %e, "exchange outcome not stored; the lease will lapse and the exchange be run again");
        }
        self.0.waiters.wake(&key);
    }

    fn renew_while_running(&self, key: &str) -> tokio::task::JoinHandle<()> {
        lease::renew_while_running(
            self.0.store.clone(),
            self.0.clock.clone(),
            Leased::Exchange(key.to_owned()),
            self.0.settings.owner.clone(),
            self.0.settings.lease,
        )
    }

    async fn call_toss(&self, claimed: &ClaimedExchange, tag: &str) -> Outcome {
        let now = self.0.clock.now_ms();
        if now > claimed.deadline_at {
            return Outcome::Expired;
        }
        let binding = auth_key_binding(&claimed.idempotency_key, &claimed.customer_key);
        let auth_key = claimed
            .sealed_auth_key
            .as_deref()
            .and_then(|blob| self.0.keyring.open_blob(blob, &binding))
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some(auth_key) = auth_key else {
            tracing::error!(
                exchange = tag,
                "the sealed authKey does not open: is the encryption key that sealed it still in BILLING_KEY_ENCRYPTION_KEY?"
            );
            return Outcome::Later {
                why: "SEALED_AUTH_KEY_UNREADABLE".into(),
                after_ms: 3_600_000,
            };
        };
        let mut pause = self.0.settings.backoff;
        let mut tries_left = self.0.settings.quick_retries;
        loop {
            let result = self
                .0
                .toss
                .issue_billing_key(&auth_key, &claimed.customer_key, &claimed.idempotency_key)
                .await;
            let retryable = match result {
                Ok(body) => {
                    if body
                        .get("billingKey")
                        .and_then(Value::as_str)
                        .is_some_and(|k| !k.is_empty())
                    {
                        return Outcome::Registered(body);
                    }
                    tracing::error!(exchange = tag, "Toss answered 200 without a billingKey");
                    "TOSS_ANSWER_WITHOUT_BILLING_KEY".to_owned()
                }
                Err(TossError::Refused {
                    status,
                    code,
                    message,
                }) if codes::is_final_for_auth_key(status, &code) => {
                    return Outcome::Final {
                        status,
                        body: error_json(&code, &message),
                        code,
                    };
                }
                Err(TossError::Refused { status, code, .. })
                    if codes::is_credentials_problem(status, &code) =>
                {
                    tracing::error!(
                        exchange = tag,
                        code,
                        "Toss refused our credentials: check TOSS_SECRET_KEY; the exchange stays pending"
                    );
                    return Outcome::Later {
                        why: code,
                        after_ms: 60_000,
                    };
                }
                Err(e) => e.code(),
            };
            if tries_left == 0 {
                return Outcome::Later {
                    why: retryable,
                    after_ms: backoff_after(claimed.attempts),
                };
            }
            tries_left -= 1;
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }

    /// Stores the billing key (before anything else can fail) and the answer; retries the
    /// database a few times, since the key exists only in this answer until it is stored (a
    /// later run would get Toss's replay of it, within the idempotency window).
    async fn store_registered(
        &self,
        claimed: &ClaimedExchange,
        toss: &Value,
        tag: &str,
    ) -> Result<(), StoreError> {
        let billing_key = toss
            .get("billingKey")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let summary = card_summary(toss);
        let sealed = self
            .0
            .keyring
            .seal(billing_key.as_bytes(), claimed.customer_key.as_bytes());
        let key_hash = ids::sha256_hex(billing_key.as_bytes());
        // The stored answer is the card's; the hand-off adds the subscription's outcome to it when
        // it answers (`routes::handoff`), since that outcome keeps moving after the exchange.
        let answer = serde_json::to_string(&IssueRegistered {
            card: summary.clone(),
            subscription: None,
        })
        .expect("plain strings serialize");
        let mut pause = Duration::from_millis(100);
        let mut last = None;
        for _ in 0..6 {
            let now = self.0.clock.now_ms();
            let result = self
                .0
                .store
                .finish_exchange_registered(
                    &claimed.idempotency_key,
                    &claimed.customer_key,
                    NewBillingKey {
                        key_id: &sealed.key_id,
                        nonce: &sealed.nonce,
                        ciphertext: &sealed.ciphertext,
                        key_hash: &key_hash,
                        card_company: summary.company.as_deref(),
                        card_number: summary.number.as_deref(),
                        card_type: summary.card_type.as_deref(),
                        owner_type: summary.owner_type.as_deref(),
                    },
                    &answer,
                    now,
                )
                .await;
            match result {
                Ok((id, made_final)) => {
                    if made_final {
                        self.0
                            .metrics
                            .handoff_outcome(HandoffOutcome::Registered, None);
                    }
                    tracing::info!(
                        exchange = tag,
                        billing_key = %ids::log_tag(billing_key),
                        row = id,
                        attempts = claimed.attempts,
                        "billing key stored"
                    );
                    // Subscriptions pick the new card up at once (and, after a crash, on the next pass).
                    self.0.registered.notify_one();
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(exchange = tag, error = %e, "storing the billing key failed; retrying");
                    last = Some(e);
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        Err(last.expect("at least one try"))
    }
}

enum Outcome {
    Registered(Value),
    Final {
        status: u16,
        code: String,
        body: String,
    },
    Expired,
    Later {
        why: String,
        after_ms: Millis,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_fields_are_optional() {
        let full = card_summary(&json!({
            "billingKey": "x", "cardCompany": "현대", "cardNumber": "433012******123*",
            "card": {"cardType": "신용", "ownerType": "개인"}
        }));
        assert_eq!(full.company.as_deref(), Some("현대"));
        assert_eq!(full.owner_type.as_deref(), Some("개인"));
        let bare = card_summary(&json!({"billingKey": "x"}));
        assert_eq!(bare, CardSummary::default());
        let inner = card_summary(&json!({"billingKey": "x", "card": {"number": "1234"}}));
        assert_eq!(inner.number.as_deref(), Some("1234"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_after(1), 1_000);
        assert_eq!(backoff_after(2), 2_000);
        assert_eq!(backoff_after(50), 600_000);
    }
}
