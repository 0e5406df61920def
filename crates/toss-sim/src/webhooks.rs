//! The webhooks the simulator sends, as Toss sends them to the endpoint a merchant registered in
//! its console (contract §10), as pure decisions: the registration, the body, and what happens
//! after each delivery attempt. The outbox (`state::outbox`) keeps events durable; the delivery
//! task (`delivery`) performs the attempts.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::clock::webhook_time;

/// Toss's retry schedule: 1, 4, 16, 64, 256, 1024, 4096 minutes after each failed delivery.
pub const DEFAULT_RETRY_DELAYS_MS: [u64; 7] = [
    60_000,
    240_000,
    960_000,
    3_840_000,
    15_360_000,
    61_440_000,
    245_760_000,
];

/// A delivery counts only if the endpoint answers `200` within this.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// `data` is the whole Payment, after every cancel.
pub const PAYMENT_STATUS_CHANGED: &str = "PAYMENT_STATUS_CHANGED";
/// `data` is `{billingKey, reason}`, after a billing key's deletion.
pub const BILLING_DELETED: &str = "BILLING_DELETED";
/// The reason of a deletion through `DELETE /v1/billing/{billingKey}` (Toss's example).
pub const DELETED_BY_API: &str = "삭제 API 요청";
/// The reason of a deletion in the console when none is given (inferred: Toss shows no example).
pub const DELETED_IN_CONSOLE: &str = "상점관리자 삭제";

/// A merchant's webhook endpoint, as registered in Toss's console (`PUT /__control/webhook`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    /// Where events are POSTed: an absolute `http://` or `https://` URL.
    pub url: String,
    /// The wait after each failed delivery, 7 of them (tests compress Toss's schedule).
    #[serde(default = "default_delays")]
    pub retry_delays_ms: [u64; 7],
}

fn default_delays() -> [u64; 7] {
    DEFAULT_RETRY_DELAYS_MS
}

impl Registration {
    /// Refuses a URL that is not absolute http(s).
    pub fn check(&self) -> Result<(), String> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| format!("url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("url: an absolute http:// or https:// URL is expected".into());
        }
        Ok(())
    }
}

/// The body Toss POSTs: `{eventType, createdAt, data}`, `createdAt` in KST without a zone.
pub fn event_body(event_type: &str, created_at_ms: i64, data: &Value) -> Value {
    json!({
        "eventType": event_type,
        "createdAt": webhook_time(created_at_ms),
        "data": data,
    })
}

/// Where an event stands between delivery attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Attempts made so far: the next attempt's `tosspayments-webhook-transmission-retried-count`.
    pub attempts: u32,
    /// Failed attempts since the last accepted one: which delay of the schedule comes next.
    pub failures: u32,
    /// Duplicates still to deliver after an accepted attempt (`/__control/webhook/send`'s
    /// `repeat`).
    pub copies_left: u32,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered: nothing more to send.
    Delivered,
    /// Delivered, and a duplicate is due now (same transmission id).
    Duplicate,
    /// Failed: try again at this time (ms, simulator clock).
    RetryAt(i64),
    /// Failed for the 8th time (the first delivery and 7 retries): given up.
    GiveUp,
}

/// Whether an endpoint's answer counts as a delivery: exactly `200` (Toss retries anything
/// else, a timeout or a refused connection included).
pub fn accepted(status: Option<u16>) -> bool {
    status == Some(200)
}

/// The event's progress and what comes next, after an attempt at `now`.
pub fn after_attempt(
    progress: Progress,
    accepted: bool,
    delays: &[u64; 7],
    now: i64,
) -> (Progress, Next) {
    let attempts = progress.attempts + 1;
    if accepted {
        let copies_left = progress.copies_left.saturating_sub(1);
        let next = if progress.copies_left > 0 {
            Next::Duplicate
        } else {
            Next::Delivered
        };
        let progress = Progress {
            attempts,
            failures: 0,
            copies_left,
        };
        return (progress, next);
    }
    let failures = progress.failures + 1;
    let next = match delays.get(failures as usize - 1) {
        Some(&delay) => Next::RetryAt(now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX))),
        None => Next::GiveUp,
    };
    let progress = Progress {
        attempts,
        failures,
        ..progress
    };
    (progress, next)
}

/// One delivery attempt, as `GET /__control/webhook/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// `tosspayments-webhook-transmission-id`: one per event, the same on every retry.
    pub transmission_id: String,
    /// The event's `eventType`.
    pub event_type: String,
    /// `tosspayments-webhook-transmission-retried-count` of this attempt (0: the first).
    pub retried_count: u32,
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer (timeout, connection refused), if so.
    pub error: Option<String>,
    /// When the attempt was made (ISO 8601, KST).
    pub at: String,
    /// How long the endpoint took to answer or fail, in milliseconds.
    pub duration_ms: i64,
}

/// An event in the outbox, as `GET /__control/webhook/events` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEvent {
    /// Its transmission id.
    pub transmission_id: String,
    /// Its `eventType`.
    pub event_type: String,
    /// `PENDING` (a delivery is due at `nextAttemptAt`), `DELIVERED` or `GAVE_UP`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (ISO 8601, KST), while `PENDING`.
    pub next_attempt_at: Option<String>,
    /// Where it is sent.
    pub url: String,
    /// The body sent.
    pub body: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: [u64; 7] = [10, 20, 30, 40, 50, 60, 70];

    #[test]
    fn two_failures_then_a_200_make_three_attempts() {
        let start = Progress::default();
        let (p1, n1) = after_attempt(start, accepted(Some(500)), &FAST, 1_000);
        assert_eq!((p1.attempts, n1), (1, Next::RetryAt(1_010)));
        let (p2, n2) = after_attempt(p1, accepted(Some(500)), &FAST, 2_000);
        assert_eq!((p2.attempts, n2), (2, Next::RetryAt(2_020)));
        let (p3, n3) = after_attempt(p2, accepted(Some(200)), &FAST, 3_000);
        assert_eq!((p3.attempts, n3), (3, Next::Delivered));
    }

    #[test]
    fn seven_retries_then_it_gives_up() {
        let mut progress = Progress::default();
        let mut retries = Vec::new();
        loop {
            let (next_progress, next) = after_attempt(progress, accepted(None), &FAST, 0);
            progress = next_progress;
            match next {
                Next::RetryAt(at) => retries.push(at),
                Next::GiveUp => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(retries, FAST.iter().map(|&d| d as i64).collect::<Vec<_>>());
        assert_eq!(progress.attempts, 8);
        assert!(!accepted(Some(201)), "only 200 counts");
        assert!(!accepted(Some(204)));
    }

    #[test]
    fn duplicates_follow_an_accepted_delivery() {
        let start = Progress {
            copies_left: 2,
            ..Progress::default()
        };
        let (p1, n1) = after_attempt(start, true, &FAST, 0);
        let (p2, n2) = after_attempt(p1, true, &FAST, 0);
        let (p3, n3) = after_attempt(p2, true, &FAST, 0);
        assert_eq!(
            (n1, n2, n3),
            (Next::Duplicate, Next::Duplicate, Next::Delivered)
        );
        assert_eq!(p3.attempts, 3);
    }

    #[test]
    fn registrations_and_bodies() {
        let r: Registration =
            serde_json::from_str(r#"{"url": "http://127.0.0.1:9/hook"}"#).unwrap();
        assert_eq!(r.retry_delays_ms, DEFAULT_RETRY_DELAYS_MS);
        assert!(r.check().is_ok());
        let bad = Registration {
            url: "ftp://x/".into(),
            ..r.clone()
        };
        assert!(bad.check().is_err());
        assert!(serde_json::from_str::<Registration>(
            r#"{"url": "http://x/", "retryDelaysMs": [1, 2]}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Registration>(r#"{"url": "http://x/", "x": 1}"#).is_err());
        let body = event_body(
            BILLING_DELETED,
            1_709_251_199_123,
            &json!({"billingKey": "b"}),
        );
        assert_eq!(body["createdAt"], "2024-03-01T08:59:59.123000");
        assert_eq!(body["eventType"], "BILLING_DELETED");
        assert_eq!(body["data"]["billingKey"], "b");
    }
}
