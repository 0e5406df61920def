//! What to do with a subscription's current period, given its charge attempts: charge, wait for an
//! unclear outcome, move to the next period, retry on the schedule, or give up. Exactly once per
//! period follows from two rules here: a new attempt only after the previous one *failed* (a
//! final decline, never an unknown outcome), and nothing after one succeeded.

use crate::clock::Millis;
use crate::store::charges::ChargeStatus;
use crate::toss::codes::{decline_class, is_request_problem, DeclineClass};

const DAY_MS: Millis = 86_400_000;

/// Where a subscription ends after its retries run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalState {
    /// Ended; a new registration starts a new subscription.
    Canceled,
    /// Kept, unpaid, and charged no more until the customer acts.
    Unpaid,
}

/// The retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries, in days after the period's first failure (default `1, 3, 5, 7`): soft declines
    /// only. A hard decline waits for a new card until the last of these days.
    pub retry_days: Vec<u32>,
    /// Where the subscription ends when they run out.
    pub final_state: FinalState,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_days: vec![1, 3, 5, 7],
            final_state: FinalState::Canceled,
        }
    }
}

impl RetryPolicy {
    /// Parses `1,3,5,7` (strictly increasing days, 1–60, at most 12 of them).
    pub fn parse_days(text: &str) -> Result<Vec<u32>, String> {
        let days: Vec<u32> = text
            .split(',')
            .map(|d| {
                d.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("{d:?} is not a number of days"))
            })
            .collect::<Result<_, _>>()?;
        if days.is_empty() || days.len() > 12 {
            return Err("give 1 to 12 retry days".into());
        }
        if days.windows(2).any(|w| w[0] >= w[1]) || days[0] == 0 || days[days.len() - 1] > 60 {
            return Err("retry days must increase, from 1 to 60".into());
        }
        Ok(days)
    }

    fn grace_ms(&self) -> Millis {
        Millis::from(*self.retry_days.last().unwrap_or(&0)) * DAY_MS
    }
}

/// One charge attempt of the current period, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1, 2, …
    pub attempt_no: i64,
    /// Where it stands.
    pub status: ChargeStatus,
    /// Toss's code, when it failed.
    pub code: Option<String>,
    /// When it was made.
    pub created_at: Millis,
    /// The card it charged.
    pub billing_key_id: i64,
    /// Its orderId.
    pub order_id: String,
}

/// The subscription, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// The card it charges now.
    pub billing_key_id: i64,
    /// When the card last changed.
    pub card_changed_at: Option<Millis>,
    /// Cancel instead of starting this period.
    pub cancel_at_period_end: bool,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The period's billing is ended by the customer's cancellation: cancel.
    Cancel,
    /// Charge now, as this attempt.
    Charge {
        /// Its number.
        attempt_no: i64,
    },
    /// An attempt's outcome is not final: reconcile it (order lookup), never send anything new.
    Await {
        /// Its orderId.
        order_id: String,
    },
    /// Paid: move to the next period.
    Paid,
    /// Declined (soft): past due, next try at.
    RetryAt(Millis),
    /// Declined (hard): past due, no retry; a new card retries at once; give up at.
    AwaitNewCard(Millis),
    /// Retries ran out.
    GiveUp,
}

/// Whether a failed attempt's code rules out retrying the same card.
fn is_hard(code: Option<&str>) -> bool {
    code.is_none_or(|c| decline_class(c) == DeclineClass::Hard || is_request_problem(c))
}

/// The decision for the current period.
pub fn decide(
    current: &Current,
    attempts: &[Attempt],
    policy: &RetryPolicy,
    now: Millis,
) -> Decision {
    let Some(last) = attempts.last() else {
        return if current.cancel_at_period_end {
            Decision::Cancel
        } else {
            Decision::Charge { attempt_no: 1 }
        };
    };
    match last.status {
        ChargeStatus::Done => return Decision::Paid,
        ChargeStatus::Pending | ChargeStatus::Unknown => {
            return Decision::Await {
                order_id: last.order_id.clone(),
            }
        }
        ChargeStatus::Failed => {}
    }
    let next = Decision::Charge {
        attempt_no: last.attempt_no + 1,
    };
    // A new card since the last decline: try it at once, whatever the schedule says.
    if current.billing_key_id != last.billing_key_id
        && current
            .card_changed_at
            .is_some_and(|at| at >= last.created_at)
    {
        return next;
    }
    let first_failure = attempts
        .iter()
        .find(|a| a.status == ChargeStatus::Failed)
        .map_or(last.created_at, |a| a.created_at);
    let failures = attempts
        .iter()
        .filter(|a| a.status == ChargeStatus::Failed)
        .count();
    if is_hard(last.code.as_deref()) {
        let until = first_failure + policy.grace_ms();
        return if now >= until {
            Decision::GiveUp
        } else {
            Decision::AwaitNewCard(until)
        };
    }
    match policy.retry_days.get(failures - 1) {
        Some(&days) => {
            let at = first_failure + Millis::from(days) * DAY_MS;
            if now >= at {
                next
            } else {
                Decision::RetryAt(at)
            }
        }
        None => Decision::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(no: i64, status: ChargeStatus, code: Option<&str>, at_day: i64) -> Attempt {
        Attempt {
            attempt_no: no,
            status,
            code: code.map(str::to_owned),
            created_at: at_day * DAY_MS,
            billing_key_id: 1,
            order_id: format!("o{no}"),
        }
    }

    fn current() -> Current {
        Current {
            billing_key_id: 1,
            card_changed_at: None,
            cancel_at_period_end: false,
        }
    }

    #[test]
    fn first_attempt_then_paid_or_await() {
        let p = RetryPolicy::default();
        assert_eq!(
            decide(&current(), &[], &p, 0),
            Decision::Charge { attempt_no: 1 }
        );
        let canceling = Current {
            cancel_at_period_end: true,
            ..current()
        };
        assert_eq!(decide(&canceling, &[], &p, 0), Decision::Cancel);
        assert_eq!(
            decide(
                &current(),
                &[attempt(1, ChargeStatus::Done, None, 0)],
                &p,
                0
            ),
            Decision::Paid
        );
        assert_eq!(
            decide(
                &current(),
                &[attempt(1, ChargeStatus::Unknown, Some("TOSS_TIMEOUT"), 0)],
                &p,
                9 * DAY_MS
            ),
            Decision::Await {
                order_id: "o1".into()
            },
            "an unknown outcome is reconciled, never retried with a new order"
        );
    }

    #[test]
    fn soft_declines_follow_the_schedule_then_give_up() {
        let p = RetryPolicy::default();
        let soft = |no, day| attempt(no, ChargeStatus::Failed, Some("REJECT_CARD_PAYMENT"), day);
        let mut attempts = vec![soft(1, 10)];
        assert_eq!(
            decide(&current(), &attempts, &p, 10 * DAY_MS),
            Decision::RetryAt(11 * DAY_MS)
        );
        assert_eq!(
            decide(&current(), &attempts, &p, 11 * DAY_MS),
            Decision::Charge { attempt_no: 2 }
        );
        attempts.push(soft(2, 11));
        assert_eq!(
            decide(&current(), &attempts, &p, 11 * DAY_MS),
            Decision::RetryAt(13 * DAY_MS)
        );
        attempts.push(soft(3, 13));
        assert_eq!(
            decide(&current(), &attempts, &p, 13 * DAY_MS),
            Decision::RetryAt(15 * DAY_MS)
        );
        attempts.push(soft(4, 15));
        assert_eq!(
            decide(&current(), &attempts, &p, 15 * DAY_MS),
            Decision::RetryAt(17 * DAY_MS)
        );
        attempts.push(soft(5, 17));
        assert_eq!(
            decide(&current(), &attempts, &p, 17 * DAY_MS),
            Decision::GiveUp
        );
    }

    #[test]
    fn hard_declines_never_retry_the_same_card() {
        let p = RetryPolicy::default();
        let attempts = [attempt(
            1,
            ChargeStatus::Failed,
            Some("INVALID_STOPPED_CARD"),
            10,
        )];
        assert_eq!(
            decide(&current(), &attempts, &p, 10 * DAY_MS),
            Decision::AwaitNewCard(17 * DAY_MS)
        );
        assert_eq!(
            decide(&current(), &attempts, &p, 17 * DAY_MS),
            Decision::GiveUp
        );
        let new_card = Current {
            billing_key_id: 2,
            card_changed_at: Some(12 * DAY_MS),
            ..current()
        };
        assert_eq!(
            decide(&new_card, &attempts, &p, 12 * DAY_MS),
            Decision::Charge { attempt_no: 2 }
        );
    }

    #[test]
    fn a_new_card_while_past_due_is_tried_at_once() {
        let p = RetryPolicy::default();
        let attempts = [attempt(
            1,
            ChargeStatus::Failed,
            Some("REJECT_CARD_PAYMENT"),
            10,
        )];
        let new_card = Current {
            billing_key_id: 2,
            card_changed_at: Some(10 * DAY_MS + 5),
            ..current()
        };
        assert_eq!(
            decide(&new_card, &attempts, &p, 10 * DAY_MS + 6),
            Decision::Charge { attempt_no: 2 }
        );
    }

    #[test]
    fn retry_days_are_checked() {
        assert_eq!(RetryPolicy::parse_days("1, 3,5,7"), Ok(vec![1, 3, 5, 7]));
        assert!(RetryPolicy::parse_days("3,1").is_err());
        assert!(RetryPolicy::parse_days("0").is_err());
        assert!(RetryPolicy::parse_days("x").is_err());
    }
}
