//! Calls to the merchant's backend (`docs/handoff-contract.md`): fetching the customerKey and the
//! exactly-once hand-off of the authKey. Every call has a timeout that covers the whole answer,
//! body included; the hand-off's rules (what an answer means, when to ask again, how long the
//! customer waits) are `checkout::handoff`'s, this file only does the I/O.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_net::http::Request;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestCredentials, RequestInit};

use crate::checkout::config::{Config, Credentials};
use crate::checkout::handoff::{
    Answer, AttemptFailure, Confirmation, HandoffRecord, HandoffStatus, Next,
};
use crate::checkout::keys::CustomerKey;
use crate::checkout::plan::PlanSummary;
use crate::checkout::words::decimal;
use crate::js_data::{self, Fields};

/// What went wrong fetching the customerKey from the merchant's backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No answer: offline, DNS, refused, CORS.
    #[error("the backend could not be reached")]
    Network,
    /// No whole answer (headers and body) within the configured time.
    #[error("the backend did not answer in time")]
    Timeout,
    /// An HTTP error status.
    #[error(fmt = status)]
    Status(u16),
    /// A 2xx whose body is not the documented one.
    #[error("the backend's answer is not in the documented format")]
    BadResponse,
}

/// "the backend answered 503", without `write!`.
fn status(code: &u16, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    crate::checkout::words::write_all(f, &["the backend answered ", &decimal(u64::from(*code))])
}

thread_local! {
    /// Idempotency keys being posted right now by this page: a second mount or a retry click
    /// while one is running never posts in parallel.
    static IN_FLIGHT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// A request to the merchant's backend: `Accept: application/json`, the configured headers and
/// credentials, `signal`; a POST also gets its `Idempotency-Key` and JSON body. Built as a
/// `web_sys::Request` and sent with gloo-net (its builder formats the URL's query with
/// `core::fmt`, kilobytes of the page's wasm for a query we never add).
fn backend_request(
    config: &Config,
    url: &str,
    post: Option<Outgoing<'_>>,
    signal: &web_sys::AbortSignal,
) -> Option<Request> {
    let headers = Headers::new().ok()?;
    headers.set("Accept", "application/json").ok()?;
    for (name, value) in &config.backend_headers {
        headers.set(name, value).ok()?;
    }
    let init = RequestInit::new();
    init.set_credentials(match config.credentials {
        Credentials::SameOrigin => RequestCredentials::SameOrigin,
        Credentials::Include => RequestCredentials::Include,
        Credentials::Omit => RequestCredentials::Omit,
    });
    init.set_signal(Some(signal));
    if let Some(out) = post {
        if let Some(key) = out.idempotency_key {
            headers.set("Idempotency-Key", key).ok()?;
        }
        init.set_method(out.method);
        if let Some(body) = out.body {
            headers.set("Content-Type", "application/json").ok()?;
            init.set_body(&JsValue::from(body));
        }
    }
    init.set_headers(&headers);
    web_sys::Request::new_with_str_and_init(url, &init)
        .ok()
        .map(Request::from)
}

/// A request that changes something: its method, `Idempotency-Key` and JSON body.
pub struct Outgoing<'a> {
    /// `POST`, `DELETE`, …
    pub method: &'a str,
    /// The key the hand-off sends (the portal's actions are idempotent by their own terms).
    pub idempotency_key: Option<&'a str>,
    /// JSON text.
    pub body: Option<String>,
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                i32::try_from(ms).unwrap_or(i32::MAX),
            );
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds on the page's monotonic clock (`performance.now()`), for the confirmation budget.
fn now_ms() -> u64 {
    let now = web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now());
    // A float-to-int `as` saturates (never panics); the clock is never negative.
    now as u64
}

/// Sends one request (`post`: see [`backend_request`]) and reads its whole answer within
/// `timeout_ms`: one timer and one `AbortSignal` cover the headers and the body, so a body that
/// stalls is a timeout, not a hang. The body is parsed by the browser (`Response.json()`, no JSON
/// parser in the wasm); `None` when it is not a JSON object.
pub async fn fetch_whole(
    config: &Config,
    url: &str,
    post: Option<Outgoing<'_>>,
    timeout_ms: u32,
) -> Result<(u16, Option<Fields>), BackendError> {
    let controller = AbortController::new().map_err(|_| BackendError::Network)?;
    let timed_out = Rc::new(Cell::new(false));
    let on_timeout = {
        let controller = controller.clone();
        let timed_out = timed_out.clone();
        Closure::once(move || {
            timed_out.set(true);
            controller.abort();
        })
    };
    let window = web_sys::window().ok_or(BackendError::Network)?;
    let timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            on_timeout.as_ref().unchecked_ref(),
            i32::try_from(timeout_ms).unwrap_or(i32::MAX),
        )
        .map_err(|_| BackendError::Network)?;
    let answer = async {
        let request = backend_request(config, url, post, &controller.signal())
            .ok_or(BackendError::Network)?;
        let response = request.send().await.map_err(|_| BackendError::Network)?;
        let status = response.status();
        let body = match web_sys::Response::from(response).json() {
            Ok(promise) => match JsFuture::from(promise).await {
                Ok(value) => Fields::of(value),
                // The abort rejects the body read too: that is the timeout, not an odd body.
                Err(_) if timed_out.get() => return Err(BackendError::Timeout),
                Err(_) => None,
            },
            Err(_) => None,
        };
        Ok((status, body))
    }
    .await;
    window.clear_timeout_with_handle(timer);
    drop(on_timeout);
    match answer {
        Err(BackendError::Network) if timed_out.get() => Err(BackendError::Timeout),
        other => other,
    }
}

/// Who the customer is, and (from a backend with checkout sessions) the terms they are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Their customerKey, validated.
    pub key: CustomerKey,
    /// The signed checkout session, sent back with the hand-off (opaque).
    pub checkout_session: Option<String>,
    /// The session's terms as the plan summary shows them.
    pub plan: Option<PlanSummary>,
}

/// `GET customerKeyUrl` → the signed-in customer's customerKey, validated; and when the backend
/// answers a checkout session (`{customerKey, checkoutSession, terms}`), its session and terms.
pub async fn fetch_customer(config: &Config, url: &str) -> Result<Customer, BackendError> {
    let (status, body) = fetch_whole(config, url, None, config.backend_timeout_ms).await?;
    if !(200..300).contains(&status) {
        return Err(BackendError::Status(status));
    }
    let body = body.ok_or(BackendError::BadResponse)?;
    let key = body
        .string("customerKey")
        .ok()
        .flatten()
        .and_then(|key| CustomerKey::parse(&key).ok())
        .ok_or(BackendError::BadResponse)?;
    let checkout_session = body.string("checkoutSession").ok().flatten();
    let plan = match body.object("terms") {
        Ok(Some(terms)) => Some(js_data::plan_fields(&terms).ok_or(BackendError::BadResponse)?),
        _ => None,
    };
    Ok(Customer {
        key,
        checkout_session,
        plan,
    })
}

/// One attempt of the hand-off, read by the contract's rule.
async fn post_issue_once(config: &Config, record: &HandoffRecord, timeout_ms: u32) -> Answer {
    // The browser's JSON.stringify writes the body: no JSON writer in the wasm.
    let Some(body) = record.auth_key.as_ref().and_then(|auth_key| {
        js_data::issue_request_json(
            auth_key,
            &record.customer_key,
            record.checkout_session.as_deref(),
        )
    }) else {
        return Answer::failed(AttemptFailure::Network);
    };
    let post = Some(Outgoing {
        method: "POST",
        idempotency_key: Some(record.idempotency_key.as_str()),
        body: Some(body),
    });
    match fetch_whole(config, &config.backend_url, post, timeout_ms).await {
        Ok((status, body)) => {
            let card = body
                .as_ref()
                .and_then(|f| f.object("card").ok().flatten())
                .map(|card| js_data::card_summary(&card));
            let error = body.as_ref().and_then(js_data::error_body);
            let subscription = body
                .as_ref()
                .and_then(|f| f.object("subscription").ok().flatten())
                .and_then(|s| js_data::subscription_outcome(&s));
            Answer::of_response(status, card, error).with_subscription(subscription)
        }
        Err(BackendError::Timeout) => Answer::failed(AttemptFailure::Timeout),
        Err(_) => Answer::failed(AttemptFailure::Network),
    }
}

/// How a confirmation is going, for the spinner's status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The first attempt is out.
    Sending,
    /// An attempt failed; asking again.
    Retrying,
    /// The backend said it is still exchanging the key; asking again as it asked.
    Pending,
}

/// One confirmation of the hand-off (`checkout::handoff::Confirmation`): posts the same body and
/// `Idempotency-Key` until a final answer, until `backendMaxAttempts` failed attempts, or until
/// `confirmTimeoutMs` has passed, and returns the status to store. `None` when there is nothing
/// to do: the same hand-off is already being confirmed in this page, or no authKey is kept.
pub async fn hand_off(
    config: &Config,
    record: &HandoffRecord,
    on_progress: impl Fn(Progress),
) -> Option<HandoffStatus> {
    record.auth_key.as_ref()?;
    let key = record.idempotency_key.clone();
    let claimed = IN_FLIGHT.with(|set| {
        let mut set = set.borrow_mut();
        if set.contains(&key) {
            return false;
        }
        set.push(key.clone());
        true
    });
    if !claimed {
        return None;
    }
    on_progress(Progress::Sending);
    let mut confirmation = Confirmation::start(
        config.retry,
        config.backend_timeout_ms,
        config.confirm_timeout_ms,
        now_ms(),
    );
    let status = loop {
        let timeout_ms = match confirmation.attempt_timeout(now_ms()) {
            Ok(timeout_ms) => timeout_ms,
            Err(out_of_time) => break *out_of_time,
        };
        let answer = post_issue_once(config, record, timeout_ms).await;
        match confirmation.after(answer, now_ms()) {
            Next::AskAgain { delay_ms, pending } => {
                on_progress(if pending {
                    Progress::Pending
                } else {
                    Progress::Retrying
                });
                sleep(delay_ms).await;
            }
            Next::Settle(status) => break status,
        }
    };
    IN_FLIGHT.with(|set| set.borrow_mut().retain(|k| *k != key));
    Some(status)
}
