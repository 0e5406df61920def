//! Calls to the merchant's backend (`docs/handoff-contract.md`): fetching the customerKey and the
//! exactly-once hand-off of the authKey, with a timeout per attempt and bounded retries.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_net::http::{Request, RequestBuilder, Response};
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, RequestCredentials};

use crate::checkout::config::{Config, Credentials};
use crate::checkout::handoff::{
    AttemptFailure, CardSummary, ErrorBody, HandoffRecord, RetryPolicy,
};
use crate::checkout::keys::CustomerKey;
use crate::js_data::{self, Fields};

/// What went wrong talking to the merchant's backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No answer: offline, DNS, refused, CORS.
    #[error("the backend could not be reached")]
    Network,
    /// No answer within the configured time.
    #[error("the backend did not answer in time")]
    Timeout,
    /// An HTTP error with the backend's `{code, message}` when it sent one.
    #[error("the backend answered {status}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The parsed error body, if any.
        body: Option<ErrorBody>,
    },
    /// A 2xx whose body is not the documented one.
    #[error("the backend's answer is not in the documented format")]
    BadResponse,
    /// The same hand-off is already running in this page.
    #[error("this registration is already being confirmed")]
    AlreadyInFlight,
    /// No authKey is kept any more (the outcome was final).
    #[error("there is nothing left to send for this registration")]
    NothingToSend,
}

impl BackendError {
    fn failure(&self) -> AttemptFailure {
        match self {
            Self::Network | Self::AlreadyInFlight | Self::NothingToSend => AttemptFailure::Network,
            Self::Timeout => AttemptFailure::Timeout,
            Self::Status { status, .. } => AttemptFailure::Status(*status),
            Self::BadResponse => AttemptFailure::BadResponse,
        }
    }

    /// A final answer about this authKey: retrying it cannot help.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Status { status, .. } if *status < 500) || *self == Self::BadResponse
    }

    /// The `{code, message}` to store and show.
    pub fn as_error_body(&self) -> ErrorBody {
        let code = match self {
            Self::Status {
                body: Some(body), ..
            } => return body.clone(),
            Self::Status { status, .. } if *status >= 500 => "SERVER_ERROR",
            Self::Status { .. } => "REQUEST_REFUSED",
            Self::Network | Self::AlreadyInFlight | Self::NothingToSend => "NETWORK_ERROR",
            Self::Timeout => "TIMEOUT",
            Self::BadResponse => "BAD_RESPONSE",
        };
        ErrorBody {
            code: code.to_owned(),
            message: String::new(),
        }
    }
}

thread_local! {
    /// Idempotency keys being posted right now by this page: a second mount or a retry click
    /// while one is running never posts in parallel.
    static IN_FLIGHT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn with_config(builder: RequestBuilder, config: &Config) -> RequestBuilder {
    let credentials = match config.credentials {
        Credentials::SameOrigin => RequestCredentials::SameOrigin,
        Credentials::Include => RequestCredentials::Include,
        Credentials::Omit => RequestCredentials::Omit,
    };
    let builder = builder
        .header("Accept", "application/json")
        .credentials(credentials);
    config
        .backend_headers
        .iter()
        .fold(builder, |b, (name, value)| b.header(name, value))
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ =
                window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Sends one request with a timeout that aborts it.
async fn send_with_timeout(
    builder: RequestBuilder,
    timeout_ms: u32,
    make: impl FnOnce(RequestBuilder) -> Result<Request, gloo_net::Error>,
) -> Result<Response, BackendError> {
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
            timeout_ms as i32,
        )
        .map_err(|_| BackendError::Network)?;
    let request = make(builder.abort_signal(Some(&controller.signal())))
        .map_err(|_| BackendError::Network)?;
    let result = request.send().await;
    window.clear_timeout_with_handle(timer);
    drop(on_timeout);
    match result {
        Ok(response) => Ok(response),
        Err(_) if timed_out.get() => Err(BackendError::Timeout),
        Err(_) => Err(BackendError::Network),
    }
}

/// Reads a JSON object body with the browser's own parser (`Response.json()`), so no JSON parser
/// is compiled into the wasm.
async fn read_json<T>(response: Response, from: fn(&Fields) -> Option<T>) -> Option<T> {
    let promise = web_sys::Response::from(response).json().ok()?;
    let value = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    from(&Fields::of(value)?)
}

async fn error_from(response: Response) -> BackendError {
    let status = response.status();
    let body = read_json(response, js_data::error_body).await.filter(|b| {
        (1..=64).contains(&b.code.len())
            && b.code
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
    });
    BackendError::Status { status, body }
}

/// `GET customerKeyUrl` → the signed-in customer's customerKey, validated.
pub async fn fetch_customer_key(config: &Config, url: &str) -> Result<CustomerKey, BackendError> {
    let builder = with_config(Request::get(url), config);
    let response =
        send_with_timeout(builder, config.backend_timeout_ms, RequestBuilder::build).await?;
    if !response.ok() {
        return Err(error_from(response).await);
    }
    let customer_key = read_json(response, |f| f.string("customerKey").ok()?).await;
    CustomerKey::parse(&customer_key.ok_or(BackendError::BadResponse)?)
        .map_err(|_| BackendError::BadResponse)
}

async fn post_issue_once(
    config: &Config,
    record: &HandoffRecord,
) -> Result<CardSummary, BackendError> {
    let auth_key = record
        .auth_key
        .as_ref()
        .ok_or(BackendError::NothingToSend)?;
    // The browser's JSON.stringify writes it: no JSON writer in the wasm.
    let body = js_data::issue_request_json(auth_key, &record.customer_key)
        .ok_or(BackendError::BadResponse)?;
    let builder = with_config(Request::post(&config.backend_url), config)
        .header("Idempotency-Key", &record.idempotency_key);
    let builder = builder.header("Content-Type", "application/json");
    let response = send_with_timeout(builder, config.backend_timeout_ms, |b| b.body(body)).await?;
    if !response.ok() {
        return Err(error_from(response).await);
    }
    let card = read_json(response, |f| {
        js_data::card_summary(&f.object("card").ok()??)
    })
    .await;
    card.filter(CardSummary::is_plausible)
        .ok_or(BackendError::BadResponse)
}

/// Posts the hand-off with bounded retries (network, timeout, 5xx only; same body and key each
/// time). `on_attempt` hears the number of each attempt, from 1.
pub async fn hand_off(
    config: &Config,
    record: &HandoffRecord,
    on_attempt: impl Fn(u32),
) -> Result<CardSummary, BackendError> {
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
        return Err(BackendError::AlreadyInFlight);
    }
    let policy: RetryPolicy = config.retry;
    let mut attempt = 1;
    let result = loop {
        on_attempt(attempt);
        match post_issue_once(config, record).await {
            Ok(card) => break Ok(card),
            Err(error) => match policy.delay_before(attempt + 1, error.failure()) {
                Some(delay) => {
                    sleep(delay).await;
                    attempt += 1;
                }
                None => break Err(error),
            },
        }
    };
    IN_FLIGHT.with(|set| set.borrow_mut().retain(|k| *k != key));
    result
}
