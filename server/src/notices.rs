//! The customer notices (and every transition) a merchant hooks: subscription events, delivered
//! from the database (an outbox) to `WEBHOOK_URL`, signed with HMAC-SHA256 of `WEBHOOK_SECRET`,
//! retried with backoff until a 2xx; without a URL (the demo) each is written to the log.
//!
//! Signature header: `Billing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`;
//! `Billing-Event-Id` is the event's id, stable across retries (dedupe on it).

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tracing::Instrument;

use crate::clock::{iso_kst, Clock};
use crate::metrics::{DeliveryOutcome, Metrics};
use crate::settings::Secret;
use crate::store::subscriptions::EventRow;
use crate::store::{Store, StoreError};

/// Where events go.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The merchant's endpoint.
    pub url: String,
    /// The signing secret.
    pub secret: Secret,
}

/// The signature header value for `body` at unix time `t`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", crate::ids::hex(&mac.finalize().into_bytes()))
}

/// Delivers due events; returns how many were delivered. Each delivery is counted in `metrics`
/// and logged in a span carrying the id of the request that emitted the event, if one did.
pub async fn deliver_due(
    store: &Store,
    clock: &Clock,
    webhook: Option<&Webhook>,
    http: &reqwest::Client,
    metrics: &Metrics,
) -> Result<usize, StoreError> {
    let now = clock.now_ms();
    let events = store
        .claim_undelivered_events(now, now + 60_000, 50)
        .await?;
    let mut delivered = 0;
    for event in events {
        let span = tracing::info_span!(
            "event",
            event = event.id,
            request_id = tracing::field::Empty
        );
        if let Some(id) = &event.request_id {
            span.record("request_id", id.as_str());
        }
        let ok = deliver(store, clock, webhook, http, metrics, &event)
            .instrument(span)
            .await?;
        // 30 s, doubling, at most 6 h between tries.
        let doublings = (event.delivery_attempts - 1).clamp(0, 10);
        let next = now + (30_000i64 << doublings).min(6 * 3_600_000);
        store
            .event_delivery(event.id, ok, next, clock.now_ms())
            .await?;
        if ok {
            delivered += 1;
        }
    }
    Ok(delivered)
}

/// One delivery of one event: whether it is done (delivered, or logged).
async fn deliver(
    store: &Store,
    clock: &Clock,
    webhook: Option<&Webhook>,
    http: &reqwest::Client,
    metrics: &Metrics,
    event: &EventRow,
) -> Result<bool, StoreError> {
    let customer_key = store
        .subscription(event.subscription_id)
        .await?
        .map(|s| s.customer_key);
    let body = json!({
        "id": format!("evt_{}", event.id),
        "type": event.kind,
        "createdAt": iso_kst(event.created_at),
        "subscriptionId": event.subscription_id,
        "customerKey": customer_key,
        "data": serde_json::from_str::<Value>(&event.detail).unwrap_or(Value::Null),
    })
    .to_string();
    let outcome = match webhook {
        None => {
            tracing::info!(target: "notices", event = event.id, kind = event.kind, body, "notice (no WEBHOOK_URL: logged)");
            DeliveryOutcome::Logged
        }
        Some(hook) => {
            let t = clock.now_ms() / 1000;
            let sent = http
                .post(&hook.url)
                .header("content-type", "application/json")
                .header("billing-event-id", format!("evt_{}", event.id))
                .header(
                    "billing-signature",
                    signature(hook.secret.expose(), t, &body),
                )
                .body(body)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => DeliveryOutcome::Delivered,
                Ok(r) => {
                    tracing::warn!(
                        event = event.id,
                        status = r.status().as_u16(),
                        "webhook refused the event; retrying later"
                    );
                    DeliveryOutcome::Refused
                }
                Err(e) => {
                    tracing::warn!(event = event.id, error = %e.without_url(), "webhook unreachable; retrying later");
                    DeliveryOutcome::Unreachable
                }
            }
        }
    };
    metrics.webhook_delivery(outcome);
    Ok(matches!(
        outcome,
        DeliveryOutcome::Delivered | DeliveryOutcome::Logged
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // Independent check: HMAC-SHA256(key="secret", "1700000000.{}") computed with openssl.
        assert_eq!(
            super::signature("secret", 1_700_000_000, "{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
