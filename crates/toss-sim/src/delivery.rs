//! The task that delivers queued webhooks: it wakes when an event is queued or a retry falls due,
//! POSTs each due event to its endpoint with Toss's three headers, and records the attempt and
//! what follows it (`webhooks::after_attempt`). It holds the simulator only weakly, so it ends
//! when the last [`Simulator`](crate::Simulator) handle is dropped, or at once when the
//! simulator's stop token is cancelled; it never keeps a process or a test alive.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::clock::iso_kst;
use crate::state::{Attempt, DueEvent};
use crate::webhooks::{accepted, after_attempt, DELIVERY_TIMEOUT};
use crate::Inner;

/// Events delivered side by side in one round.
const BATCH: i64 = 16;
/// The longest sleep while a retry is pending: the simulator's clock can be moved forward (the
/// demo's clock), which makes a retry due sooner than the wall clock says.
const LONGEST_NAP: Duration = Duration::from_millis(500);
/// The sleep when nothing is pending: only a new event (which wakes the task) changes that.
const IDLE_NAP: Duration = Duration::from_secs(3600);

/// Starts the delivery task for `inner`.
pub(crate) fn spawn(inner: &Arc<Inner>) {
    let weak = Arc::downgrade(inner);
    let wake = inner.outbox_wake.clone();
    let stop = inner.stop.clone();
    tokio::spawn(async move {
        let http = match client() {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(error = %e, "the simulator cannot send webhooks: no HTTP client");
                return;
            }
        };
        loop {
            let nap = match Weak::upgrade(&weak) {
                Some(inner) => deliver_due(inner, &http).await,
                None => return,
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    });
}

fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        // A redirect is not a 200: Toss would retry it, so the simulator does not follow it.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Delivers every due event (a batch at a time) and says how long to sleep before looking again.
async fn deliver_due(inner: Arc<Inner>, http: &reqwest::Client) -> Duration {
    let now = inner.clock.now_ms();
    let due = match inner.state.due_events(now, BATCH).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "the webhook outbox could not be read");
            return LONGEST_NAP;
        }
    };
    let full_batch = due.len() as i64 == BATCH;
    let mut attempts = JoinSet::new();
    for event in due {
        attempts.spawn(deliver_one(inner.clone(), http.clone(), event));
    }
    while attempts.join_next().await.is_some() {}
    if full_batch {
        return Duration::ZERO;
    }
    match inner.state.next_due_at().await {
        Ok(Some(at)) => {
            let wait = u64::try_from(at - inner.clock.now_ms()).unwrap_or(0);
            Duration::from_millis(wait).min(LONGEST_NAP)
        }
        Ok(None) => IDLE_NAP,
        Err(e) => {
            tracing::warn!(error = %e, "the webhook outbox could not be read");
            LONGEST_NAP
        }
    }
}

/// One attempt: POST, then record it and the event's next step. If recording fails the event is
/// still due and will be sent again (at least once, like Toss).
async fn deliver_one(inner: Arc<Inner>, http: reqwest::Client, event: DueEvent) {
    let at = inner.clock.now_ms();
    let started = Instant::now();
    let sent = http
        .post(&event.url)
        .header("content-type", "application/json")
        .header(
            "tosspayments-webhook-transmission-id",
            &event.transmission_id,
        )
        // The header's format is not documented: ISO 8601 in KST like Toss's other times (inferred).
        .header("tosspayments-webhook-transmission-time", iso_kst(at))
        .header(
            "tosspayments-webhook-transmission-retried-count",
            event.progress.attempts.to_string(),
        )
        .body(event.body.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) => (None, Some(describe(e))),
    };
    let attempt = Attempt {
        status,
        error,
        at,
        duration_ms: started.elapsed().as_millis() as i64,
    };
    let (progress, next) = after_attempt(
        event.progress,
        accepted(status),
        &event.retry_delays,
        inner.clock.now_ms(),
    );
    tracing::info!(
        transmission_id = %event.transmission_id,
        event_type = %event.event_type,
        retried_count = event.progress.attempts,
        status = ?status,
        next = ?next,
        "webhook delivery attempted"
    );
    if let Err(e) = inner
        .state
        .record_attempt(&event, &attempt, progress, next)
        .await
    {
        tracing::warn!(error = %e, "a webhook delivery could not be recorded; it will be sent again");
    }
}

/// Why an attempt got no answer, without the URL (it may carry the merchant's token).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs());
    }
    let kind = if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
