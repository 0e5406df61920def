//! The control API under `/__control`: what a test or a demo does to the simulator that a Toss
//! merchant does elsewhere — scripted outcomes, the call log, the webhook registration and its
//! deliveries, and the console's own actions (cancel a payment, delete a billing key). No secret
//! key: the simulator is a test double, never reachable in live mode.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::fields::{only_known, text};
use crate::state::Merchant;
use crate::webhooks::{Registration, DELETED_IN_CONSOLE};
use crate::{answer_response, invalid, parse_object, Answer, Rule, Simulator};

/// The `/__control` routes.
pub(crate) fn router() -> Router<Simulator> {
    Router::new()
        .route(
            "/__control/rules",
            post(add_rule_handler)
                .delete(clear_rules_handler)
                .get(list_rules_handler),
        )
        .route("/__control/calls", get(calls_handler))
        .route("/__control/stats", get(stats_handler))
        .route(
            "/__control/webhook",
            get(webhook_handler)
                .put(set_webhook_handler)
                .delete(clear_webhook_handler),
        )
        .route("/__control/webhook/deliveries", get(deliveries_handler))
        .route("/__control/webhook/events", get(events_handler))
        .route("/__control/webhook/send", post(send_handler))
        .route(
            "/__control/webhook/deliveries/{transmission_id}/redeliver",
            post(redeliver_handler),
        )
        .route(
            "/__control/console/payments/{payment_key}/cancel",
            post(console_cancel_handler),
        )
        .route(
            "/__control/console/billing/{billing_key}/delete",
            post(console_delete_handler),
        )
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

fn bad_request(message: &str) -> Response {
    refuse(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

async fn add_rule_handler(State(sim): State<Simulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<Rule>(&body) {
        Ok(rule) if !rule.is_empty() => {
            sim.add_rule(rule);
            (StatusCode::CREATED, Json(json!({ "ok": true }))).into_response()
        }
        Ok(_) => {
            bad_request("a rule needs code, status, delayMs, delayAfterMs, drop or omitCardFields")
        }
        Err(e) => bad_request(&e.to_string()),
    }
}

async fn clear_rules_handler(State(sim): State<Simulator>) -> Response {
    sim.clear_rules();
    Json(json!({ "ok": true })).into_response()
}

async fn list_rules_handler(State(sim): State<Simulator>) -> Response {
    Json(json!({ "rules": sim.rules() })).into_response()
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

async fn webhook_handler(State(sim): State<Simulator>) -> Response {
    match sim.0.state.webhook().await {
        Ok(Some(registration)) => Json(registration).into_response(),
        Ok(None) => refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no webhook endpoint is registered",
        ),
        Err(e) => sim.storage_failed(e),
    }
}

/// `PUT /__control/webhook` `{"url", "retryDelaysMs"?}`: registers the merchant's endpoint.
async fn set_webhook_handler(State(sim): State<Simulator>, body: Bytes) -> Response {
    let registration = match serde_json::from_slice::<Registration>(&body) {
        Ok(registration) => registration,
        Err(e) => return bad_request(&e.to_string()),
    };
    if let Err(message) = registration.check() {
        return bad_request(&message);
    }
    match sim.set_webhook(&registration).await {
        Ok(()) => Json(registration).into_response(),
        Err(e) => sim.storage_failed(e),
    }
}

async fn clear_webhook_handler(State(sim): State<Simulator>) -> Response {
    match sim.0.state.clear_webhook().await {
        Ok(removed) => Json(json!({ "ok": true, "removed": removed })).into_response(),
        Err(e) => sim.storage_failed(e),
    }
}

async fn deliveries_handler(State(sim): State<Simulator>) -> Response {
    match sim.webhook_deliveries().await {
        Ok(deliveries) => Json(json!({ "deliveries": deliveries })).into_response(),
        Err(e) => sim.storage_failed(e),
    }
}

async fn events_handler(State(sim): State<Simulator>) -> Response {
    match sim.webhook_events().await {
        Ok(events) => Json(json!({ "events": events })).into_response(),
        Err(e) => sim.storage_failed(e),
    }
}

/// `POST /__control/webhook/send`: an arbitrary event (a body that lies, an unknown billing key),
/// delivered `repeat` times under one transmission id.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendRequest {
    event_type: String,
    data: Value,
    #[serde(default = "one")]
    repeat: u32,
}

fn one() -> u32 {
    1
}

async fn send_handler(State(sim): State<Simulator>, body: Bytes) -> Response {
    let send = match serde_json::from_slice::<SendRequest>(&body) {
        Ok(send) => send,
        Err(e) => return bad_request(&e.to_string()),
    };
    if send.event_type.is_empty() || !(1..=100).contains(&send.repeat) {
        return bad_request("eventType must not be empty and repeat must be 1..=100");
    }
    let queued = sim
        .0
        .state
        .send_event(&send.event_type, &send.data, sim.now_ms(), send.repeat - 1)
        .await;
    queued_answer(&sim, queued)
}

async fn redeliver_handler(
    State(sim): State<Simulator>,
    Path(transmission_id): Path<String>,
) -> Response {
    match sim.0.state.redeliver(&transmission_id, sim.now_ms()).await {
        Ok(true) => {
            sim.wake_outbox();
            (
                StatusCode::ACCEPTED,
                Json(json!({ "transmissionId": transmission_id })),
            )
                .into_response()
        }
        Ok(false) => refuse(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such transmission id",
        ),
        Err(e) => sim.storage_failed(e),
    }
}

fn queued_answer(sim: &Simulator, queued: Result<Option<String>, sqlx::Error>) -> Response {
    match queued {
        Ok(Some(transmission_id)) => {
            sim.wake_outbox();
            (
                StatusCode::ACCEPTED,
                Json(json!({ "transmissionId": transmission_id })),
            )
                .into_response()
        }
        Ok(None) => refuse(
            StatusCode::CONFLICT,
            "NO_WEBHOOK_REGISTERED",
            "register an endpoint first: PUT /__control/webhook",
        ),
        Err(e) => sim.storage_failed(e),
    }
}

/// What the console does after a processed cancel or deletion: the webhook is queued, wake the
/// delivery task; answer like the API would.
fn console_answer(sim: &Simulator, done: Result<Answer, sqlx::Error>) -> Response {
    match done {
        Ok(answer) => {
            if answer.0 == 200 {
                sim.wake_outbox();
            }
            answer_response(answer)
        }
        Err(e) => sim.storage_failed(e),
    }
}

/// `POST /__control/console/payments/{paymentKey}/cancel` `{"cancelReason", "cancelAmount"?}`: a
/// cancel made in Toss's console, with the API's rules but no secret key, Idempotency-Key or
/// scripted faults.
async fn console_cancel_handler(
    State(sim): State<Simulator>,
    Path(payment_key): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_object(&body) {
        Ok(body) => body,
        Err(answer) => return answer_response(answer),
    };
    let done = sim
        .0
        .state
        .cancel(Merchant::Console, &payment_key, &body, None, sim.now_ms())
        .await;
    console_answer(&sim, done)
}

/// `POST /__control/console/billing/{billingKey}/delete` `{"reason"?}`.
async fn console_delete_handler(
    State(sim): State<Simulator>,
    Path(billing_key): Path<String>,
    body: Bytes,
) -> Response {
    let reason = match console_delete_reason(&body) {
        Ok(reason) => reason,
        Err(answer) => return answer_response(answer),
    };
    let done = sim
        .0
        .state
        .delete_billing_key(&billing_key, &reason, None, sim.now_ms())
        .await;
    console_answer(&sim, done)
}

/// The reason of a console deletion: an empty body or no `reason` gives the default.
fn console_delete_reason(body: &[u8]) -> Result<String, Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DELETED_IN_CONSOLE.to_owned());
    }
    let body = parse_object(body)?;
    only_known(&body, &["reason"])?;
    match text(&body, "reason", false)? {
        None => Ok(DELETED_IN_CONSOLE.to_owned()),
        Some(reason) if (1..=200).contains(&reason.chars().count()) => Ok(reason.to_owned()),
        Some(_) => Err(invalid("reason")),
    }
}
